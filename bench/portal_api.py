"""Portal benchmark: "evidence for a control as of a date" over the HTTP API on a large index.

Builds (or reuses) a SQLite index of N synthetic records with bench/synth.py, starts
`evidence serve` as its own process, and drives it from this process with 1, 10 and 50
concurrent clients (threads, one keep-alive connection each): requests per second and
latency percentiles. Every request is authenticated and written to the access log, as in
production. With --chromium it also times the page's first paint of the control list in
Debian's Chromium (token already in the tab, from navigation to the 61 rows drawn).

    .venv/bin/python bench/portal_api.py --records 1000000 --dir /tmp/benchout/portal
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

import synth

from collector.controls import criteria
from storage import access
from storage.index import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def build(directory: Path, n: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "index.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        print(f"building {n:,} records in {db} ...", flush=True)
        engine = synth.fresh_engine(url)
        res = synth.load(engine, n)
        print(f"  built in {res.seconds:.0f}s", flush=True)
        engine.dispose()
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return synth.write_config(directory, url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(cfg: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "evidence"
    proc = subprocess.Popen([str(exe), "-c", str(cfg), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start: " + (proc.stderr.read().decode()
                                                 if proc.stderr else ""))


def load_test(base: str, token: str, clients: int, per_client: int, span: tuple[datetime,
              datetime], seed: int) -> dict[str, float]:
    crit = list(criteria())
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        nonlocal errors
        rnd = random.Random(seed * 1000 + i)
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as c:
            start_gate.wait()
            for _ in range(per_client):
                t = span[0] + (span[1] - span[0]) * rnd.random()
                t0 = time.perf_counter()
                r = c.get("/api/evidence", params={"control": rnd.choice(crit),
                                                   "as_of": t.isoformat()})
                mine.append(time.perf_counter() - t0)
                bad += r.status_code != 200
        with lock:
            lat.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(lat), "errors": errors,
            "rps": len(lat) / wall, "p50_ms": pct(lat, 50) * 1000,
            "p95_ms": pct(lat, 95) * 1000, "p99_ms": pct(lat, 99) * 1000}


def first_paint(base: str, token: str) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = b.new_page()
        page.add_init_script(f"sessionStorage.setItem('evidence-token', {json.dumps(token)})")
        page.goto(base + "/openapi.json")  # warm the connection and the server
        t0 = time.perf_counter()
        page.goto(base + "/")
        page.wait_for_function("document.querySelectorAll('#controls tbody tr').length >= 61")
        took = time.perf_counter() - t0
        b.close()
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/benchout/portal")
    ap.add_argument("--clients", default="1,10,50")
    ap.add_argument("--per-client", type=int, default=200)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--chromium", action="store_true")
    args = ap.parse_args()
    cfg = build(Path(args.dir) / f"store_{args.records}", args.records)
    engine = make_engine(f"sqlite:///{cfg.parent / 'index.db'}")
    token = access.create_token(engine, f"bench-{os.getpid()}", "auditor",
                                datetime.now(UTC))[0]
    engine.dispose()
    n_runs = args.records // synth.N_SERIES
    span = (synth.T0, synth.T0 + synth.RUN_EVERY * n_runs + timedelta(days=7))
    print(f"machine: {json.dumps(synth.machine())}; load average {synth.loadavg()}")
    port = args.port or free_port()
    proc = serve(cfg, port)
    base = f"http://127.0.0.1:{port}"
    try:
        load_test(base, token, 2, 20, span, 0)  # warm-up
        for c in (int(x) for x in args.clients.split(",")):
            cpu0 = cpu_seconds(proc.pid)
            r = load_test(base, token, c, args.per_client, span, c)
            server_ms = (cpu_seconds(proc.pid) - cpu0) / r["requests"] * 1000
            print(f"{c:>3} clients: {r['requests']} requests, {r['errors']} errors, "
                  f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms; server CPU {server_ms:.1f} ms/request; "
                  f"load average {synth.loadavg()}", flush=True)
        if args.chromium:
            print(f"first paint of the control list in Chromium: "
                  f"{first_paint(base, token) * 1000:.0f} ms", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

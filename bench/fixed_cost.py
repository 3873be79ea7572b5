"""The fixed cost of `evidence collect --connector aws` on a tiny account, two trees compared.

    .venv/bin/python bench/fixed_cost.py --before /tmp/old-tree [--after .] [--runs 8]

Starts moto (bench/moto_server.py, a subprocess), seeds it with `seed_bench` (5 users, 2
buckets, 2 keys), gives each tree its own store and signing key (a newer tree may migrate
its store; an older one must not see that), collects once per tree to create the store, then
runs `env -u PYTHONDONTWRITEBYTECODE evidence -c evidence.toml collect --connector aws
--json` alternately with each tree first on PYTHONPATH (the same installed `evidence`
script and venv), `--runs` times each. Prints each run's wall and CPU (user + sys, os.wait4)
and peak RSS, the medians, and the load average before and after. Run it under
`flock -x /work/wt/bench.lock` for numbers that go into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aws_vs_prowler import ENV, free_port, write_config  # bench/, first on sys.path

ROOT = Path(__file__).resolve().parent.parent


def collect(cfg: Path, tree: Path, env: dict[str, str]) -> dict[str, Any]:
    exe = str(Path(sys.executable).parent / "evidence")
    run_env = dict(env, PYTHONPATH=str(tree))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([exe, "-c", str(cfg), "collect", "--connector", "aws", "--json"],
                             env=run_env, stdout=out, stderr=subprocess.DEVNULL, cwd=cfg.parent)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        summary = json.loads(out.read() or b"{}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "exit": os.waitstatus_to_exitcode(status),
            "counts": summary.get("counts")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="tree put first on PYTHONPATH")
    ap.add_argument("--after", type=Path, default=ROOT, help="tree put first on PYTHONPATH")
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    env = dict(os.environ, **ENV)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed software runs from compiled bytecode
    port = free_port()
    moto = subprocess.Popen([sys.executable, str(ROOT / "bench" / "moto_server.py"),
                             "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        sys.path.insert(0, str(ROOT))
        from simulators.aws_seed import seed_bench

        seed_bench(url, users=5, buckets=2, keys=2)
        with tempfile.TemporaryDirectory(prefix="fixed-cost-") as tmp:
            cfgs = {k: write_config(Path(tmp) / k, url) for k in trees}
            for k, tree in trees.items():  # creates each store (and compiles each tree)
                first = collect(cfgs[k], tree, env)
                assert first["exit"] == 0, (k, first)
            load0 = os.getloadavg()
            for _ in range(args.runs):
                for k, tree in trees.items():
                    r = collect(cfgs[k], tree, env)
                    assert r["exit"] == 0 and r["counts"] == {"complete": 5}, (k, r)
                    runs[k].append(r)
            load1 = os.getloadavg()
    finally:
        moto.terminate()
        moto.wait()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    for k, rs in runs.items():
        wall = [r["wall"] for r in rs]
        cpu = [r["cpu"] for r in rs]
        rss = [r["rss_mb"] for r in rs]
        print(f"{k} ({trees[k]}): wall median {statistics.median(wall):.3f} s "
              f"({min(wall):.3f}-{max(wall):.3f}), CPU median {statistics.median(cpu):.3f} s "
              f"({min(cpu):.3f}-{max(cpu):.3f}), peak RSS {min(rss):.0f}-{max(rss):.0f} MB")
        print("  wall", " ".join(f"{w:.2f}" for w in wall))
        print("  cpu ", " ".join(f"{c:.2f}" for c in cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())

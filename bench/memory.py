"""Peak RSS of `evidence query` and `evidence verify` at 100k and 1M records.

    .venv/bin/python bench/memory.py                         # 100k and 1M, SQLite
    .venv/bin/python bench/memory.py --sizes 100000 --keep /tmp/mem_stores

Builds each store (bench/synth.py: 50 series, 60 criteria, one signed seal and seal file
per 50-record run, every referenced blob present, so the store verifies intact), then runs
the real command in a subprocess and reads its peak RSS from the kernel (ru_maxrss from
wait4 on that child; Linux reports KiB). A baseline command (`evidence controls`, same
interpreter and imports, no store access) shows the fixed cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import T0, Generator, fresh_engine, load, machine, write_config

from storage.blobs import FileBlobStore

TARGET_MB = 200.0
EXE = Path(sys.executable).parent / "evidence"


# A tiny launcher: ru_maxrss survives execve on Linux, and subprocess may vfork, so a child
# spawned straight from this (large) process would report this process's RSS. The launcher
# is a small fresh interpreter that forks and execs the command and reports the wait4
# rusage of that grandchild only.
_LAUNCHER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
    os.dup2(1, 2)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run `cmd`, return (its peak RSS in MB, seconds, exit code, first output bytes)."""
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, out.name, *cmd],
                             capture_output=True, text=True, check=True)
        dt = time.perf_counter() - t
        kib, rc = (int(x) for x in res.stdout.split())
        text = Path(out.name).read_bytes().decode(errors="replace")
    return kib / 1024, dt, rc, text


def build(d: Path, n: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    cfg = write_config(d, "sqlite:///index.db")
    del cfg
    engine = fresh_engine(f"sqlite:///{d / 'index.db'}")
    blobs = FileBlobStore(d / "blobs", d / "seals")
    res = load(engine, n, blob_store=blobs, key_path=d / "signing.key")
    engine.dispose()
    files = sum(1 for _ in (d / "blobs" / "sha256").rglob("*"))
    print(f"  built {res.records:,} records, {res.seals:,} seals, {res.blob_bytes / 1e6:,.0f} "
          f"MB of blobs (~{files:,} files and dirs) in {res.seconds:.0f}s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--keep", help="Build/keep stores under this folder (reused if present).")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['nproc']} cpus, {m['cpu']}, {m['ram']}; {m['date']}")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_mem_"))
    results = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            d = base / f"store_{n}"
            print(f"== {n:,} records ({d})", flush=True)
            if not (d / "index.db").exists():
                build(d, n)
            else:  # bring a kept store to the current schema outside the measurements
                fresh_engine(f"sqlite:///{d / 'index.db'}").dispose()
            cfg = str(d / "evidence.toml")
            end = Generator(n).end_time()
            mid_t = T0 + (end - T0) / 2
            mid = mid_t.strftime("%Y-%m-%dT%H:%M:%SZ")
            since = (mid_t - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
            cmds = {
                "baseline: evidence controls": [str(EXE), "-c", cfg, "controls"],
                "query --control CC6.1 --as-of now": [str(EXE), "-c", cfg, "query",
                                                      "--control", "CC6.1", "--as-of", "now",
                                                      "--json"],
                f"query --control CC7.2 --as-of {mid} --since 30d": [
                    str(EXE), "-c", cfg, "query", "--control", "CC7.2", "--as-of", mid,
                    "--since", since, "--json"],
                "verify": [str(EXE), "-c", cfg, "verify", "--json"],
            }
            for label, cmd in cmds.items():
                rss, dt, rc, out = run_measured(cmd)
                extra = ""
                if label == "verify":
                    try:
                        rep = json.loads(out)
                        extra = (f" ok={rep['ok']} records={rep['records']:,} "
                                 f"blobs={rep['blobs']:,} seals={rep['seals']:,}")
                    except ValueError:
                        extra = f" output: {out[:300]!r}"
                elif label.startswith("query"):
                    try:
                        extra = f" {len(json.loads(out)['records'])} records in the answer"
                    except ValueError:
                        extra = f" output: {out[:300]!r}"
                ok = "" if label.startswith("baseline") else \
                    f"  target <{TARGET_MB:.0f} MB: {'MET' if rss < TARGET_MB else 'MISSED'}"
                print(f"  {label:<58} peak RSS {rss:7.1f} MB  {dt:7.1f}s  exit {rc}{extra}{ok}",
                      flush=True)
                results.append((n, label, rss, dt, rc))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

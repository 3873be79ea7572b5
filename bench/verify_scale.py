"""Full `evidence verify` on a record-heavy store against `sha256sum` over the same blobs, and
`verify --since-last` after a scheduled collection's worth of new records (issue 8).

    .venv/bin/python bench/verify_scale.py --records 100000 --dir /tmp/vs100k
    .venv/bin/python bench/verify_scale.py --records 1000000 --dir /tmp/vs1m   # slow to build

Builds the store with bench/synth.py (as bench/memory.py does: 50-record runs, each with a
run-scoped seal and seal file, every blob present) unless --dir already holds one, then, in
this order, each as a subprocess timed by wall clock with peak RSS from wait4:
  1. `sha256sum` over every blob file (`find | xargs sha256sum`, one process), and the same
     with one xargs process per core;
  2. `evidence verify --json --no-checkpoint` (full: every blob re-hashed, every record
     hashed and linked, every seal checked, coverage);
  3. `evidence verify --json` again, which seals a checkpoint;
  4. one 50-record run appended and sealed, then `evidence verify --since-last --json`.
Warm cache: step 1 runs first, so every file is cached for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import EXE, build, run_measured
from synth import machine

from collector.config import load as load_config
from storage.store import EvidenceStore, NewRecord


def sha256sum(blob_dir: Path, jobs: int) -> float:
    t = time.perf_counter()
    subprocess.run(f"find {blob_dir} -type f -print0 | xargs -0 -n 2000 -P {jobs} sha256sum "
                   "> /dev/null", shell=True, check=True)
    return time.perf_counter() - t


def add_run(cfg: Path, n: int = 50) -> None:
    """Append and seal one run of `n` records, as a scheduled collection would."""
    store = EvidenceStore.open(load_config(cfg))
    run = store.start_run("bench")
    t = datetime.now(UTC)
    rows = store.append([NewRecord(run, "bench", "one", f"s{i}", "posture", ["CC6.1"], 86400,
                                   t, t + timedelta(seconds=1), "complete", {"calls": [], "i": i},
                                   content={"i": i, "t": t.isoformat()}, has_content=True,
                                   effective_at=t) for i in range(n)])
    store.seal(run, [int(r["seq"]) for r in rows])
    store.finish_run(run, "ok", {})
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--dir", required=True, help="Store folder (built if it holds none).")
    args = ap.parse_args()
    d = Path(args.dir)
    print(json.dumps(machine()), flush=True)
    if not (d / "index.db").exists():
        t = time.perf_counter()
        build(d, args.records)
        print(f"build: {time.perf_counter() - t:.0f}s", flush=True)
    cfg = d / "evidence.toml"
    blobs = d / "blobs"
    size = sum(f.stat().st_size for f in blobs.rglob("*") if f.is_file())
    files = sum(1 for f in blobs.rglob("*") if f.is_file())
    print(f"store: {args.records:,} records, {files:,} blob files, {size / 1e6:,.0f} MB",
          flush=True)
    sha256sum(blobs, 1)  # warm the cache
    s1 = sha256sum(blobs, 1)
    sp = sha256sum(blobs, os.cpu_count() or 1)
    print(f"sha256sum (1 process): {s1:.1f}s; ({os.cpu_count()} processes): {sp:.1f}s",
          flush=True)
    res: dict[str, object] = {"records": args.records, "blob_files": files, "blob_bytes": size,
                              "sha256sum_s": round(s1, 2), "sha256sum_parallel_s": round(sp, 2)}
    for name, extra in (("full", ["--no-checkpoint"]), ("full+checkpoint", [])):
        mb, dt, rc, out = run_measured([str(EXE), "-c", str(cfg), "verify", "--json", *extra])
        rep = json.loads(out[out.index("{"):])
        print(f"verify {name}: {dt:.1f}s, {mb:.0f} MB, exit {rc}, ok={rep['ok']}, "
              f"{rep['records']:,} records, {rep['blobs']:,} blobs; ratio to sha256sum "
              f"{dt / s1:.2f} (to parallel {dt / sp:.2f})", flush=True)
        res[name] = {"seconds": round(dt, 2), "rss_mb": round(mb, 1), "exit": rc,
                     "ok": rep["ok"], "problems": rep["problems"][:5]}
    add_run(cfg)
    mb, dt, rc, out = run_measured([str(EXE), "-c", str(cfg), "verify", "--since-last",
                                    "--json", "--no-checkpoint"])
    rep = json.loads(out[out.index("{"):])
    print(f"verify --since-last after one 50-record run: {dt:.2f}s, {mb:.0f} MB, exit {rc}, "
          f"checked {rep['records']} records from #{rep['since_seq']}", flush=True)
    res["since_last"] = {"seconds": round(dt, 2), "rss_mb": round(mb, 1), "exit": rc,
                         "records": rep["records"]}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

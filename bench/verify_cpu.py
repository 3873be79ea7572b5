"""CPU time of one full `verify` on an existing store: wall clock, the main process's CPU and
the worker processes' CPU (user and system), so a change can be judged on a machine whose
load moves wall-clock times more than the change does.

    .venv/bin/python bench/verify_cpu.py --dir /tmp/vs100k            # a verify_scale store
    .venv/bin/python bench/verify_cpu.py --dir /tmp/vs100k --profile   # + cProfile, main

Runs `storage.verify.verify` in this process (no checkpoint is written, the store is not
changed); the CPU of the workers is what `getrusage(RUSAGE_CHILDREN)` reports once they
have exited.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.config import load as load_config
from storage.store import EvidenceStore
from storage.verify import verify


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="A store folder (with evidence.toml).")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--profile", action="store_true", help="cProfile the main process.")
    args = ap.parse_args()
    d = Path(args.dir).resolve()
    os.chdir(d)  # the config's paths are relative to it
    store = EvidenceStore.open(load_config(d / "evidence.toml"), create=False)
    prof = cProfile.Profile() if args.profile else None
    t, c = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    rep = verify(store, workers=args.workers)
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"ok={rep.ok} records={rep.records:,} blobs={rep.blobs:,} seals={rep.seals:,} "
          f"problems={len(rep.problems)}")
    print(f"wall {wall:.2f}s; main CPU {cpu:.2f}s; workers CPU {ch.ru_utime + ch.ru_stime:.2f}s "
          f"(user {ch.ru_utime:.2f}, system {ch.ru_stime:.2f}); load {os.getloadavg()[0]:.2f}")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    return 0 if rep.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`verify` throughput over ~1 GB of blobs, as a ratio to `sha256sum` on the same files.

    .venv/bin/python bench/verify_throughput.py              # ~1 GB, SQLite index, temp dir
    .venv/bin/python bench/verify_throughput.py --gib 0.25

Builds a store in a temp dir: evidence-like JSON blobs (sizes log-uniform between 4 KiB and
4 MiB) written through `FileBlobStore.put` (atomic, fsynced), one ledgered record per blob
(content blob + a small IPE blob, like a real snapshot), and a seal. Then, alternating so
both see the same cache state, it runs `sha256sum` over every blob file and
`storage.verify.verify` (in-process, default settings), each `--rounds` times (default 2).
The page cache is not dropped: the machine has far more RAM than 1 GB, so after the first
round every file is cached and the numbers are warm (CPU-bound hashing) -- the comparison is
hashing-and-bookkeeping against hashing. First-round numbers are printed too.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import machine, write_config

from collector.config import load as load_config
from storage.store import EvidenceStore
from storage.verify import verify

TARGET = 0.7


def make_blob(rnd: random.Random, size: int) -> bytes:
    """A JSON document of about `size` bytes that looks like an API listing."""
    users = []
    n = 0
    i = 0
    while n < size:
        u = {"arn": f"arn:aws:iam::{rnd.randrange(10**12):012d}:user/u{i:06d}",
             "user_name": f"user-{rnd.getrandbits(40):010x}", "mfa": rnd.random() < 0.8,
             "created": f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T00:00:00Z",
             "groups": [f"g{rnd.randint(0, 40)}" for _ in range(rnd.randint(0, 4))],
             "access_keys": [{"id": f"AKIA{rnd.getrandbits(64):016X}", "active": True}]}
        s = json.dumps(u, sort_keys=True, separators=(",", ":"))
        users.append(s)
        n += len(s) + 1
        i += 1
    return ('{"users":[' + ",".join(users) + "]}").encode()


def build(root: Path, total: int, seed: int) -> tuple[list[Path], int, float]:
    cfg_path = write_config(root, "sqlite:///index.db")
    store = EvidenceStore.open(load_config(cfg_path))
    rnd = random.Random(seed)
    lo, hi = math.log(4 << 10), math.log(4 << 20)
    t0 = time.perf_counter()
    written = 0
    rows = []
    run_id = store.start_run("bench")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    k = 0
    while written < total:
        size = int(math.exp(rnd.uniform(lo, hi)))
        data = make_blob(rnd, size)
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        store.blobs.put(sha, data)
        written += len(data)
        ipe_sha, _ = store.put_json({"principal": "arn:aws:iam::123456789012:role/reader",
                                     "source": "aws:123456789012", "api_calls": 1,
                                     "calls": [{"operation": "ListUsers", "params": {"k": k}}]})
        k += 1
        t += timedelta(seconds=30)
        rows.append({"id": f"{k:020x}", "run_id": run_id, "connector": "aws",
                     "instance": "prod", "snapshot": f"snap{k % 50}", "kind": "posture",
                     "source": "aws:123456789012", "principal": "reader",
                     "collected_started_at": t, "collected_finished_at": t, "effective_at": t,
                     "period_start": None, "period_end": None, "status": "complete",
                     "complete": True, "record_count": 1, "api_calls": 1, "pages": 1,
                     "retries": 0, "api_totals": {}, "content_sha256": sha,
                     "content_size": len(data), "ipe_sha256": ipe_sha,
                     "findings_sha256": None, "assessment": {}, "controls": ["CC6.1"],
                     "max_age_seconds": 86400, "error": None})
    out = store.append_rows(rows)
    store.seal(run_id, [int(r["seq"]) for r in out])
    store.finish_run(run_id, "complete", {})
    build_s = time.perf_counter() - t0
    files = sorted(p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file())
    store.close()
    return files, sum(p.stat().st_size for p in files), build_s


def time_sha256sum(files: list[Path], jobs: int = 1,
                   tool: tuple[str, ...] = ("sha256sum",)) -> float:
    """Wall time of `tool` over every file, in `jobs` parallel processes (via xargs)."""
    listing = b"\0".join(str(p).encode() for p in files)
    t = time.perf_counter()
    subprocess.run(["xargs", "-0", "-P", str(jobs), "-n", str(-(-len(files) // jobs)),
                    *tool], input=listing, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def time_verify(cfg_path: Path, profile: bool = False,
                workers: int | None = None) -> tuple[float, int, bool, str]:
    store = EvidenceStore.open(load_config(cfg_path), create=False)
    prof = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if prof:
        prof.enable()
    rep = verify(store) if workers is None else verify(store, workers=workers)
    if prof:
        prof.disable()
    dt = time.perf_counter() - t
    text = ""
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(12)
        text = s.getvalue()
    store.close()
    return dt, rep.blob_bytes, rep.ok, text


def time_cli_verify(cfg_path: Path) -> float:
    exe = Path(sys.executable).parent / "evidence"
    t = time.perf_counter()
    subprocess.run([str(exe), "-c", str(cfg_path), "verify"], stdout=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=float, default=1.0, help="Blob bytes to create (GiB).")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--dir", help="Build here (default: a temp dir, removed afterwards).")
    ap.add_argument("--profile", action="store_true", help="cProfile the last verify round.")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['nproc']} cpus, {m['cpu']}, {m['ram']}; {m['date']}")
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_verify_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        files, nbytes, build_s = build(root, int(args.gib * (1 << 30)), args.seed)
        print(f"built {len(files):,} blob files, {nbytes / 1e6:,.1f} MB "
              f"({nbytes / (1 << 30):.3f} GiB) in {build_s:.1f}s "
              f"(FileBlobStore.put, fsync per blob)", flush=True)
        cfg_path = root / "evidence.toml"
        res = []
        for rnd in range(1, args.rounds + 1):
            s1 = time_sha256sum(files)
            s2 = time_sha256sum(files, jobs=os.cpu_count() or 1)
            o1 = time_sha256sum(files, tool=("openssl", "dgst", "-sha256", "-r"))
            v1, _, _, _ = time_verify(cfg_path, workers=1)
            v, vbytes, ok, prof = time_verify(cfg_path, args.profile and rnd == args.rounds)
            assert vbytes == nbytes, (vbytes, nbytes)
            res.append((s1, s2, v))

            def mbs(x: float) -> str:
                return f"{nbytes / x / 1e6:7.1f} MB/s ({x:6.2f}s)"

            print(f"round {rnd} ({'cold-ish: files just written' if rnd == 1 else 'warm'}):\n"
                  f"    sha256sum (1 process)          {mbs(s1)}\n"
                  f"    sha256sum (xargs -P{os.cpu_count()})          {mbs(s2)}\n"
                  f"    openssl dgst -sha256 (1 proc)  {mbs(o1)}\n"
                  f"    verify, workers=1              {mbs(v1)}  ratio {s1 / v1:.2f}\n"
                  f"    verify (default: 2 workers)    {mbs(v)}  ratio {s1 / v:.2f}"
                  f"  ok={ok}; vs sha256sum -P{os.cpu_count()}: {s2 / v:.2f}; "
                  f"vs openssl: {o1 / v:.2f}", flush=True)
            if prof:
                print(prof)
        c = time_cli_verify(cfg_path)
        print(f"`evidence verify` as a command (incl. interpreter start-up): {c:.2f}s = "
              f"{nbytes / c / 1e6:.1f} MB/s, ratio {res[-1][0] / c:.2f}")
        s1, s2, v = res[-1]
        ratio = s1 / v
        print(f"RESULT (warm, last round): verify/sha256sum throughput ratio {ratio:.2f} "
              f"(target >= {TARGET}): {'MET' if ratio >= TARGET else 'MISSED'}")
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

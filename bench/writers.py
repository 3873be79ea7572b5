"""Ledger appends per second with 1, 2, 4 and 8 concurrent writer processes on PostgreSQL.

    .venv/bin/python bench/writers.py                       # 1,2,4,8 writers, 10 s each
    .venv/bin/python bench/writers.py --writers 1,4 --seconds 5 --batch 1
    EVIDENCE_TEST_PG=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  (admin URL)

Each writer count gets a fresh database on the server, migrated once. Then N processes
(spawned, each with its own engine and connection) start together and for `--seconds` call
`EvidenceStore.append()` - the code path a collection uses for every snapshot - with `--batch`
records per transaction. Blobs go to a local folder and are deduplicated after the first
record (each writer's content repeats), so what is measured is the ledger: taking the head's
row lock, hashing the chain, inserting the records. Afterwards the chain is verified
(`storage.verify`) and must hold exactly the records the writers reported.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from storage.blobs import FileBlobStore  # noqa: E402
from storage.index import make_engine, migrate  # noqa: E402
from storage.store import EvidenceStore, NewRecord  # noqa: E402
from storage.verify import verify  # noqa: E402

PG_ADMIN = os.environ.get("EVIDENCE_TEST_PG",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def new_record(writer: int, i: int) -> NewRecord:
    """A posture record like a small snapshot's (content repeats, so its blob dedups)."""
    now = datetime.now(UTC)
    return NewRecord(
        run_id=f"bench{writer:04d}", connector="bench", instance=f"shard{writer}",
        snapshot="items", kind="posture", controls=["CC6.1", "CC6.2"], max_age_seconds=86400,
        collected_started_at=now, collected_finished_at=now, status="complete",
        ipe={"source": f"shard{writer}", "principal": "bench", "api_calls": 1, "pages": 1,
             "calls": [{"operation": "ListItems", "params": {"limit": 100}}]},
        content={"items": [{"name": f"item-{k}", "mfa": k % 3 != 0} for k in range(20)]},
        has_content=True, record_count=20, effective_at=now,
        findings=[{"resource": "item-0", "status": "pass", "reason": "MFA enabled"}])


def writer(url: str, blob_dir: str, index: int, batch: int, seconds: float,
           barrier: Any, out: Any) -> None:
    """One writer process: append until the deadline, report (records, latencies)."""
    engine = make_engine(url)
    store = EvidenceStore(engine, FileBlobStore(Path(blob_dir)), None)
    store.append([new_record(index, -1)])  # warm up: connection, blobs, statement cache
    warm = 1
    lat: list[float] = []
    barrier.wait()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        store.append([new_record(index, n + k) for k in range(batch)])
        lat.append(time.perf_counter() - t0)
        n += batch
    store.close()
    out.put((index, warm, n, lat))


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else 0.0


def run(n_writers: int, seconds: float, batch: int) -> dict[str, Any]:
    """One measurement with `n_writers` processes on a fresh database."""
    name = f"evbench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(n_writers + 1)
        out = ctx.Queue()
        with tempfile.TemporaryDirectory(prefix="evbench-") as tmp:
            procs = [ctx.Process(target=writer, args=(url, tmp, i, batch, seconds, barrier, out))
                     for i in range(n_writers)]
            for p in procs:
                p.start()
            barrier.wait(timeout=120)
            t0 = time.monotonic()
            results = [out.get(timeout=seconds + 120) for _ in procs]
            wall = time.monotonic() - t0
            for p in procs:
                p.join(timeout=30)
                if p.exitcode != 0:
                    raise RuntimeError(f"writer exited with {p.exitcode}")
            engine = make_engine(url)
            # no seals were made: a throwaway key is enough for verify
            store = EvidenceStore(engine, FileBlobStore(Path(tmp)), Path(tmp) / "signing.key")
            rep = verify(store)
            store.close()
        appended = sum(r[2] for r in results)
        total = appended + sum(r[1] for r in results)
        if not rep.ok or rep.records != total:
            raise RuntimeError(f"chain check failed: {rep.records} records vs {total}: "
                               f"{[str(p) for p in rep.problems[:3]]}")
        lat = [x for r in results for x in r[3]]
        per = [r[2] / seconds for r in results]
        return {"writers": n_writers, "records": appended, "wall": wall,
                "rate": appended / wall, "per_writer_min": min(per), "per_writer_max": max(per),
                "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
                "p95_ms": pct(lat, 95) * 1000, "chain_records": rep.records}
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def server_version() -> str:
    admin = sa.create_engine(PG_ADMIN)
    try:
        with admin.connect() as c:
            return str(c.execute(sa.text("SHOW server_version")).scalar()).split()[0]
    finally:
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--writers", default="1,2,4,8", help="Comma-separated writer counts.")
    ap.add_argument("--seconds", type=float, default=10.0, help="Measured time per count.")
    ap.add_argument("--batch", type=int, default=1, help="Records per append transaction.")
    args = ap.parse_args()
    counts = [int(x) for x in args.writers.split(",") if x.strip()]
    print(f"# PostgreSQL {server_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
          f"Python {platform.python_version()}; {args.seconds:g} s per row, "
          f"{args.batch} record(s) per transaction")
    print("| writers | records | records/s | per writer (min-max) | append p50 | append p95 "
          "| load avg before |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for n in counts:
        load = os.getloadavg()[0]
        r = run(n, args.seconds, args.batch)
        print(f"| {r['writers']} | {r['records']} | {r['rate']:.0f} | "
              f"{r['per_writer_min']:.0f}-{r['per_writer_max']:.0f} | "
              f"{r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | {load:.1f} |", flush=True)
    print("# every row: chain verified, record count matched")
    return 0


if __name__ == "__main__":
    sys.exit(main())

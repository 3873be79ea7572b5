"""Index benchmark: load N synthetic records, then time point-in-time queries.

    .venv/bin/python bench/index_query.py                     # 1,000,000 records, both backends
    .venv/bin/python bench/index_query.py --records 100000 --backends sqlite

For each backend (SQLite file, PostgreSQL database `bench_index_<pid>` on the local server,
dropped afterwards): load the records with `storage.ledger.append_rows` in batches of 50,000
(real record hashes, one seal and one run row per 50-record run), then run
`storage.queries.as_of` -- the function behind `evidence query --control C --as-of T` -- for
a few hundred random (criterion, as-of time) pairs, in-process and warm (after 10 warm-up
queries), and report p50/p95. A second pass adds `since = T - 30 days` (`--since`), which
also lists the population records whose window overlaps.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, text
from synth import (
    T0,
    Generator,
    fresh_engine,
    load,
    loadavg,
    machine,
    make_series,
    pg_create,
    pg_drop,
)

from storage.queries import as_of

TARGET_P95_MS = 50.0


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def run_queries(engine: Engine, n_records: int, n: int, seed: int,
                since_days: int | None, fn: Any = as_of) -> tuple[list[float], int]:
    rnd = random.Random(seed)
    crit = sorted({c for s in make_series() for c in s.controls})
    end = Generator(n_records).end_time()
    span = (end - T0).total_seconds() + 7 * 86400
    pairs = [(rnd.choice(crit), T0 + timedelta(seconds=rnd.uniform(0, span)))
             for _ in range(n + 10)]
    times: list[float] = []
    found = 0
    for i, (cid, when) in enumerate(pairs):
        since = when - timedelta(days=since_days) if since_days else None
        t = time.perf_counter()
        res = fn(engine, [cid], when, since)
        dt = (time.perf_counter() - t) * 1000
        if i >= 10:
            times.append(dt)
            found += len(res["records"])
    return times, found


PATCHES = Path(__file__).resolve().parent / "patches"
PROPOSED_INDEX = ("CREATE INDEX ix_records_series_time_seq ON records "
                  "(connector, instance, snapshot, collected_finished_at, seq)")


def patched_as_of() -> Any:
    """`as_of` from storage/queries.py with bench/patches/queries_*.patch applied (in a temp
    copy: the working tree is not touched)."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="bench_patched_"))
    (tmp / "storage").mkdir()
    shutil.copy(root / "storage" / "queries.py", tmp / "storage" / "queries.py")
    for patch in sorted(PATCHES.glob("queries_*.patch")):
        dry = subprocess.run(["patch", "-s", "-p1", "--dry-run", "-d", str(tmp), "-i",
                              str(patch)], capture_output=True)
        if dry.returncode != 0:
            print(f"  ({patch.name} does not apply to storage/queries.py: already merged?)")
            continue
        subprocess.run(["patch", "-s", "-p1", "-d", str(tmp), "-i", str(patch)], check=True)
    spec = importlib.util.spec_from_file_location("patched_queries",
                                                  tmp / "storage" / "queries.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    shutil.rmtree(tmp, ignore_errors=True)
    return mod.as_of


def explain(engine: Engine, fn: Any = as_of) -> str:
    """The plans of the statements `as_of` really sends (captured, then EXPLAINed)."""
    from datetime import datetime

    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    when = datetime(2025, 1, 1, tzinfo=T0.tzinfo)
    event.listen(engine, "before_cursor_execute", grab)
    try:
        fn(engine, ["CC6.1"], when, when - timedelta(days=30))
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    out = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for k, (stmt, params) in enumerate(seen, 1):
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + stmt, params)
                lines = [r[-1] for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
                lines = [r[0] for r in cur.fetchall()]
            out.append(f"    -- statement {k}: {' '.join(stmt.split())[:160]}...")
            out.extend(f"    {line}" for line in lines)
        raw.rollback()
    finally:
        raw.close()
    return "\n".join(out)


def bench_backend(name: str, url: str, args: argparse.Namespace,
                  loaded: bool = False) -> dict[str, object]:
    out: dict[str, object] = {}
    if loaded:
        print(f"== {name}: reusing an index of {args.records:,} records built by the same "
              "generator (bench/synth.py)", flush=True)
        engine = fresh_engine(url)
    else:
        print(f"== {name}: loading {args.records:,} records", flush=True)
        engine = fresh_engine(url)
        res = load(engine, args.records, batch=args.batch)
        rate = res.records / res.seconds
        print(f"  loaded {res.records:,} records ({res.seals:,} seals) in {res.seconds:.1f}s = "
              f"{rate:,.0f} records/s (of which {res.append_seconds:.1f}s inside append_rows: "
              f"hashing + INSERT)", flush=True)
        out = {"load_s": res.seconds, "rate": rate}
    if name == "postgresql" and args.analyze:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    from sqlalchemy import inspect

    print("  records indexes: " + ", ".join(sorted(
        f"{ix['name']}({','.join(c for c in ix['column_names'] if c)})"
        for ix in inspect(engine).get_indexes("records"))), flush=True)
    measure(engine, args, out, as_of, "")
    if args.explain:
        print("  plan of the as-of query:\n" + explain(engine), flush=True)
    if args.patched:
        t = time.perf_counter()
        from sqlalchemy import inspect

        have = {ix["name"] for ix in inspect(engine).get_indexes("records")}
        with engine.begin() as conn:
            if "ix_records_series_time_seq" not in have:
                conn.execute(text(PROPOSED_INDEX))
            if "ix_records_series_time" in have:
                conn.execute(text("DROP INDEX ix_records_series_time"))
            if name == "postgresql":
                conn.execute(text("ANALYZE records"))
        print(f"  PROPOSED FIX: index (connector, instance, snapshot, collected_finished_at, "
              f"seq) built in {time.perf_counter() - t:.1f}s, old index dropped; as_of with "
              f"{', '.join(p.name for p in sorted(PATCHES.glob('queries_*.patch')))}",
              flush=True)
        fn = patched_as_of()
        measure(engine, args, out, fn, "patched ")
        if args.explain:
            print("  plan of the patched as-of query:\n" + explain(engine, fn), flush=True)
    engine.dispose()
    return out


def measure(engine: Engine, args: argparse.Namespace, out: dict[str, object], fn: Any,
            prefix: str) -> None:
    for label, since in ((prefix + "as-of", None), (prefix + "as-of + since 30d", 30)):
        times, found = run_queries(engine, args.records, args.queries, 11, since, fn)
        p50, p95, p99 = pct(times, 50), pct(times, 95), pct(times, 99)
        ok = "MET" if p95 < TARGET_P95_MS else "MISSED"
        print(f"  {label:<26} n={len(times)} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
              f"p99 {p99:7.2f} ms  max {max(times):7.2f} ms  mean "
              f"{statistics.mean(times):7.2f} ms  ({found / len(times):.1f} records/answer)"
              f"  target p95<{TARGET_P95_MS:.0f}ms: {ok}  [load {loadavg()}]", flush=True)
        out[label] = (p50, p95)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--dir", help="Keep the SQLite index here (default: a temp dir, removed).")
    ap.add_argument("--reuse-sqlite", metavar="DB",
                    help="Query a copy of this SQLite index (built by bench/synth.py with the "
                         "same --records, e.g. by bench/memory.py --keep) instead of loading.")
    ap.add_argument("--analyze", action="store_true",
                    help="Run ANALYZE on PostgreSQL before querying (default: as loaded).")
    ap.add_argument("--explain", action="store_true", help="Print the query plans.")
    ap.add_argument("--patched", action="store_true",
                    help="Then measure the proposed fix: the series index with seq, and "
                         "as_of with bench/patches/queries_*.patch (temp copy).")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['nproc']} cpus, {m['cpu']}, {m['ram']}; {m['date']}")
    for b in args.backends.split(","):
        if b == "sqlite":
            d = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_index_"))
            d.mkdir(parents=True, exist_ok=True)
            db = d / "index.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            if args.reuse_sqlite:
                shutil.copy(args.reuse_sqlite, db)
                if Path(f"{args.reuse_sqlite}-wal").exists():
                    shutil.copy(f"{args.reuse_sqlite}-wal", f"{db}-wal")
            try:
                bench_backend("sqlite", f"sqlite:///{db}", args, loaded=bool(args.reuse_sqlite))
                print(f"  index file: {db.stat().st_size / 1e6:.0f} MB")
            finally:
                if not args.dir:
                    shutil.rmtree(d, ignore_errors=True)
        elif b == "postgresql":
            name = f"bench_index_{os.getpid()}"
            url = pg_create(name)
            try:
                bench_backend("postgresql", url, args)
            finally:
                pg_drop(name)
        else:
            print(f"unknown backend {b}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

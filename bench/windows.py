"""What judging population windows against the clocks costs: a year of hourly windows.

Builds (or reuses) a SQLite store holding one population series with 8,760 complete hourly
windows, each its own run with its own seal, then times (median of 5, after one warm-up):
`store.watermark` (the plain aggregate the runner used before), `resume_point` (where the
next window starts, judging windows against now and later seals), `freeze_population` over
the year and `coverage` of CC8.1 over the year (both count only trusted windows).

    .venv/bin/python bench/windows.py --dir /tmp/benchout/windows
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "plugins")]

from collector.config import load  # noqa: E402
from fieldwork.coverage import coverage  # noqa: E402
from fieldwork.sample import freeze_population  # noqa: E402
from storage.store import EvidenceStore, NewRecord  # noqa: E402
from storage.windows import resume_point  # noqa: E402
from tests.conftest import write_config  # noqa: E402

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def build(st: EvidenceStore, n: int) -> None:
    for h in range(n):
        a, b = T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)
        rid = st.start_run("bench")
        rec = NewRecord(run_id=rid, connector="synthetic", instance="one", snapshot="events",
                        kind="population", controls=["CC8.1"], max_age_seconds=86400,
                        collected_started_at=b, collected_finished_at=b, status="complete",
                        ipe={"api_calls": 1, "pages": 1,
                             "window": {"start": a.isoformat(), "end": b.isoformat()}},
                        content={"events": [{"at": a.isoformat(), "change": f"chg-{h}"}]},
                        has_content=True, record_count=1, period_start=a, period_end=b)
        row = st.append([rec])[0]
        st.seal(rid, [int(row["seq"])])


def timed(fn: Callable[[], Any]) -> float:
    fn()
    ts = []
    for _ in range(5):
        s = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - s)
    return sorted(ts)[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("bench/out/windows"))
    ap.add_argument("--hours", type=int, default=8760)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cfg_path = args.dir / "evidence.toml"
    fresh = not cfg_path.exists()
    cfg = load(cfg_path if not fresh else write_config(args.dir))
    st = EvidenceStore.open(cfg)
    if fresh:
        build(st, args.hours)
    now = T0 + timedelta(hours=args.hours)
    for label, fn in [
            ("store.watermark", lambda: st.watermark("synthetic", "one", "events")),
            ("resume_point (lookback 90 days)",
             lambda: resume_point(st, "synthetic", "one", "events", now, timedelta(days=90))),
            ("freeze_population, the year", lambda: freeze_population(st, ["CC8.1"], T0, now)),
            ("coverage CC8.1, the year", lambda: coverage(st, {"CC8.1": ["CC8.1"]}, T0, now))]:
        print(f"{label}: {timed(fn) * 1000:.0f} ms (median of 5; {args.hours} windows)")


if __name__ == "__main__":
    main()

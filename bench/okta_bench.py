"""Okta `users` snapshot at 20,000 users with factors: wall time, API calls, peak RSS.

The simulator runs in its own process (so its memory is not ours); the collection runs here
through the real okta SDK, then assess() and canonical JSON (what the store hashes).
Two runs show where the time goes:
  1. the simulator without rate limits: how fast our side can go (our overhead);
  2. a per-id bucket limit (`--limit user=N --window S`): the wall time should then follow
     calls / (N per S) - collection bounded by the rate limit, not by us.

    .venv/bin/python bench/okta_bench.py --users 20000 --limit 1000 --window 10
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Provenance, SnapshotContext
from connectors.okta import OktaConfig, OktaConnector
from storage.canonical import canonical

TOKEN = "00bench-okta-token-0000000000000000000000"


def serve(users: int, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "simulators.okta", "--users", str(users),
                             "--token", TOKEN, *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parent.parent))
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def run(url: str, concurrency: int) -> dict[str, Any]:
    os.environ["OKTA_BENCH_TOKEN"] = TOKEN
    cfg = OktaConfig.model_validate({"org_url": url, "allow_http": True,
                                     "api_token": {"env": "OKTA_BENCH_TOKEN"},
                                     "concurrency": concurrency,
                                     "rate_limit_wait_seconds": 3600})
    ctx = SnapshotContext("bench", "users", datetime.now(UTC), Provenance(),
                          logging.getLogger("bench"))
    conn = OktaConnector("bench", cfg)
    t0 = time.monotonic()
    res = conn.run("users", ctx)
    t1 = time.monotonic()
    findings = conn.snapshots()["users"].assess(res.content)  # type: ignore[misc]
    blob = canonical(res.content)
    t2 = time.monotonic()
    ipe = ctx.ipe.to_json()
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.status] = counts.get(f.status, 0) + 1
    requests = ipe["pages"] + ipe["retries"]  # every page of every call, and every retry
    return {"users": res.record_count, "collect_seconds": round(t1 - t0, 1),
            "assess_and_canonical_seconds": round(t2 - t1, 1),
            "http_requests": requests, "provenance_calls": ipe["api_calls"],
            "pages": ipe["pages"], "rate_limit_retries": ipe["retries"],
            "complete": ipe["pagination_exhausted"] and not ipe["errors"],
            "content_mb": round(len(blob) / 1e6, 1),
            "provenance_mb": round(len(canonical(ipe)) / 1e6, 1), "verdicts": counts,
            "requests_per_second": round(requests / max(t1 - t0, 1e-9), 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--limit", type=int, default=1000, help="factor-bucket calls per window")
    p.add_argument("--window", type=float, default=10.0, help="rate-limit window, seconds")
    p.add_argument("--mode", choices=["unlimited", "limited"], required=True)
    a = p.parse_args()
    extra = ["--no-limits"] if a.mode == "unlimited" else \
        ["--limit", f"user={a.limit}", "--limit", "users=100000", "--window", str(a.window)]
    proc, url = serve(a.users, extra)
    try:
        out = run(url, a.concurrency)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    out["mode"] = a.mode
    if a.mode == "limited":
        out["limit"] = f"{a.limit} per {a.window:g}s on /api/v1/users/{{id}}/*"
        out["floor_seconds_from_limit"] = round(a.users / a.limit * a.window, 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, Python " \
                     f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

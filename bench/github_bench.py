"""GitHub: collect 5,000 merged pull requests with their reviews from the simulator.

The simulator runs in its own process (seeded by `simulators.github_seed.seed_org`), so the
peak RSS measured here is the collector's alone. Each snapshot runs through the real
connector (PyGithub over sockets); reported: wall time, HTTP requests the simulator served,
requests per change, peak RSS, and whether every seeded verdict was reproduced.

    .venv/bin/python bench/github_bench.py                       # 5,000 PRs, unthrottled
    .venv/bin/python bench/github_bench.py --prs 500 --concurrency 1
    .venv/bin/python bench/github_bench.py --rate-limit 5000 --time-scale 720
        # GitHub's 5,000 requests/hour, with simulated time running 720x faster (5 s = 1 h):
        # the collection waits for each reset within its budget like it would on GitHub.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END = datetime(2026, 10, 1, tzinfo=UTC)


class ScaledClock:
    """Wall time running `scale` times faster from END; sleeping shrinks by the same factor."""

    def __init__(self, scale: float, t0: float) -> None:
        self.scale, self.t0 = scale, t0

    def __call__(self) -> float:
        return END.timestamp() + (time.time() - self.t0) * self.scale

    def sleep(self, s: float) -> None:
        time.sleep(s / self.scale)


def serve(args: argparse.Namespace) -> None:
    """Child process: a seeded simulator; prints its URL and expectations, serves until EOF."""
    from simulators.github import GitHubSimulator
    from simulators.github_seed import seed_org

    clock = ScaledClock(args.time_scale, args.t0)
    sim = GitHubSimulator(rate_limit=args.rate_limit, clock=clock)
    sim.keep_log = False
    sim.add_token("ghp_bench", login="bench")
    s = seed_org(sim, "acme", repos=args.repos, merged_prs=args.prs, end=END, days=30,
                 members=200)
    sim.start()
    print(json.dumps({"url": sim.url, "origin": sim.origin, "expected": s.expected,
                      "direct_pushes": s.direct_pushes}), flush=True)
    sys.stdin.read()
    sim.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prs", type=int, default=5000)
    ap.add_argument("--repos", type=int, default=6)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rate-limit", type=int, default=10**9)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=float, default=time.time(), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    t0 = time.time()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--prs", str(args.prs), "--repos", str(args.repos),
         "--rate-limit", str(args.rate_limit), "--time-scale", str(args.time_scale),
         "--t0", str(t0)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    info = json.loads(child.stdout.readline())
    seeded_at = time.time()
    print(f"simulator seeded with {args.prs} merged PRs in {seeded_at - t0:.1f}s", flush=True)
    from connectors.base import Provenance, SnapshotContext
    from connectors.github import GitHubConfig, GitHubConnector

    def served() -> int:
        with urllib.request.urlopen(info["origin"] + "/_simulator/stats") as r:
            return int(json.load(r)["requests"])

    os.environ["GH_BENCH_TOKEN"] = "ghp_bench"
    clock = ScaledClock(args.time_scale, t0)
    cfg = GitHubConfig(base_url=info["url"], organizations=["acme"],
                       token={"env": "GH_BENCH_TOKEN"},  # type: ignore[arg-type]
                       seconds_between_requests=0, concurrency=args.concurrency,
                       rate_limit_wait_seconds=12 * 3600)
    rows = []
    result = None
    mc_ipe: dict[str, Any] = {}
    for snap in ("org_settings", "branch_protection", "merged_changes"):
        conn = GitHubConnector("bench", cfg, clock=clock, sleep=clock.sleep)
        ipe = Provenance()
        ctx = SnapshotContext("bench", snap, datetime.now(UTC), ipe, logging.getLogger("b"),
                              END - timedelta(days=30), END)
        before, started, cpu0 = served(), time.time(), time.process_time()
        res = conn.run(snap, ctx)
        conn.close()
        wall, cpu = time.time() - started, time.process_time() - cpu0
        calls = served() - before
        rows.append((snap, res.record_count, wall, calls, (wall * args.time_scale) / 3600,
                     ipe.pagination_exhausted and not ipe.errors, ipe.retries, cpu))
        if snap == "merged_changes":
            result = res
            mc_ipe = ipe.to_json()
    assert result is not None
    spec = GitHubConnector.snapshots()["merged_changes"]
    assert spec.items is not None
    items = spec.items(result.content)
    expected = info["expected"]
    got = {i["id"]: i["verdict"] for i in items if i["kind"] == "pull_request"}
    agree = sum(1 for k, v in expected.items() if (got.get(k) == "pass") == (v == "ok"))
    pushes = sorted(i["id"] for i in items if i["kind"] == "direct_push")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child.stdin.close()
    child.wait()
    # CPU s: this process's CPU (all its threads; the simulator is another process).
    print(f"\n{'snapshot':<18}{'records':>8}{'wall s':>9}{'CPU s':>8}{'ms/req':>8}"
          f"{'requests':>10}{'sim hours':>10}{'complete':>10}{'waits':>7}")
    for snap, n, wall, calls, hours, ok, waits, cpu in rows:
        print(f"{snap:<18}{n:>8}{wall:>9.1f}{cpu:>8.2f}{1000 * cpu / max(calls, 1):>8.3f}"
              f"{calls:>10}{hours:>10.2f}{ok!s:>10}{waits:>7}")
    prs = len(got)
    mc = rows[-1]
    print(f"\nmerged PRs fetched {prs} of {len(expected)}; verdicts agree with the seed on "
          f"{agree} of {len(expected)}; direct pushes {len(pushes)} of "
          f"{len(info['direct_pushes'])}")
    print(f"requests per merged PR: {mc[3] / max(prs, 1):.2f}; peak RSS (collector): "
          f"{rss:.0f} MB; concurrency {args.concurrency}")
    # Requests per change by endpoint, from the provenance the kit recorded (pages counted).
    kinds = {"reviews": r"/pulls/\d+/reviews$", "check-runs": r"/check-runs$",
             "status": r"/commits/[^/]+/status$", "pulls/{n}": r"/pulls/\d+$"}
    import re

    for kind, pat in kinds.items():
        pages = sum(c["pages"] for c in mc_ipe["calls"] if re.search(pat, c["operation"]))
        print(f"  {kind:<11} {pages:>6} requests, {pages / max(prs, 1):.2f} per merged PR")
    print(f"  provenance: {mc_ipe['api_calls']} calls, {mc_ipe['pages']} pages recorded, "
          f"{len(json.dumps(mc_ipe)) / 1e6:.1f} MB as JSON")


if __name__ == "__main__":
    main()

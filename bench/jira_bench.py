"""Jira collection at scale: 5,000 change tickets with changelogs, Cloud and Server/DC.

The simulator runs in its own process (so the peak RSS measured is the collector's and the
store's, not the fake Jira's); the real `jira` SDK collects `change_tickets` over a 90-day
lookback in 7-day windows into a fresh SQLite store. Reports wall time, API calls by
endpoint (the simulator's own count), records and tickets stored, and peak RSS.

    .venv/bin/python bench/jira_bench.py --tickets 5000 [--mode cloud|datacenter|both]
                                         [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(mode: str, tickets: int, rate: float | None) -> dict[str, object]:
    from collector.config import load
    from collector.runner import Collector, Selection
    from simulators.jira import JiraSimulator
    from storage.store import EvidenceStore

    cmd = [sys.executable, "-m", "simulators.jira", "--mode", mode, "--tickets", str(tickets)]
    if rate:
        cmd += ["--rate", str(rate)]
    sim = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().strip()
        os.environ["BENCH_JIRA_SECRET"] = (JiraSimulator.api_token if mode == "cloud"
                                           else JiraSimulator.pat)
        cred = (f'email = "{JiraSimulator.cloud_email}"\napi_token = {{ env = '
                '"BENCH_JIRA_SECRET" }\n' if mode == "cloud"
                else 'pat = { env = "BENCH_JIRA_SECRET" }\n')
        d = Path(tempfile.mkdtemp(prefix="jira-bench-"))
        (d / "evidence.toml").write_text(
            '[store]\nindex_url = "sqlite:///index.db"\nblob_dir = "blobs"\n'
            '[signing]\nkey_file = "signing.key"\n[collector]\nconcurrency = 1\n'
            f'[[connectors]]\ntype = "jira"\ninstance = "bench"\nurl = "{url}"\n{cred}'
            'jql = "project = CHG"\nrate_limit_wait_seconds = 600\n')
        cfg = load(d / "evidence.toml")
        store = EvidenceStore.open(cfg)
        t0 = time.monotonic()
        summary = Collector(cfg, store).run(Selection())
        wall = time.monotonic() - t0
        with urllib.request.urlopen(f"{url}/__sim__/stats") as r:
            stats = json.loads(r.read())
        out = summary.outcomes[0]
        retries = sum(int((store.record(i) or {}).get("retries", 0)) for i in out.record_ids)
        return {"mode": mode, "tickets_generated": tickets, "status": out.status,
                "records": len(out.record_ids), "tickets_stored": out.record_count,
                "assessment": out.assessment, "wall_seconds": round(wall, 1),
                "api_calls": sum(stats.values()), "by_endpoint": stats, "retries": retries,
                "rate_limit_per_second": rate}
    finally:
        sim.terminate()
        sim.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=5000)
    ap.add_argument("--mode", choices=["cloud", "datacenter", "both"], default="both")
    ap.add_argument("--rate", type=float, default=None, help="simulated requests/second")
    a = ap.parse_args()
    modes = ["cloud", "datacenter"] if a.mode == "both" else [a.mode]
    for m in modes:
        res = run(m, a.tickets, a.rate)
        res["peak_rss_mb_so_far"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(res, indent=2), flush=True)


if __name__ == "__main__":
    main()

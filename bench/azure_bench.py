"""Benchmark: the `azure` connector against the Azure simulator with 50 subscriptions.

Starts `simulators.azure.AzureSimulator` (HTTPS, documented page sizes: ARM 100 per page,
Graph 100) on a generated tenant, optionally with a fixed latency added to every answer,
and runs every azure snapshot through the real azure-identity credential and azure-mgmt
clients with bounded concurrency (`--workers`). Prints, per snapshot, wall time, API
calls the simulator served, pages, findings, and the process's peak RSS.

    .venv/bin/python bench/azure_bench.py                     # 50 subscriptions
    .venv/bin/python bench/azure_bench.py --subscriptions 50 --latency 0.05 --workers 8
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.azure import AzureConfig, AzureConnector
from connectors.base import Provenance, SnapshotContext
from simulators.azure import AzureSimulator
from simulators.azure_data import generate_tenant


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscriptions", type=int, default=50)
    ap.add_argument("--users", type=int, default=2000, help="Entra users (plain members)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds added to every simulated API answer")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    tenant = generate_tenant(args.subscriptions, users=args.users)
    gen = time.perf_counter() - t0
    rows = []
    with AzureSimulator(tenant, latency=args.latency) as sim:
        os.environ["BENCH_AZURE_SECRET"] = sim.client_secret
        cfg = AzureConfig.model_validate({
            "tenant_id": sim.tenant_id, "authority": sim.url, "arm_endpoint": sim.url,
            "graph_endpoint": sim.url, "ca_bundle": sim.cert_path, "workers": args.workers,
            "credential": {"kind": "client_secret", "client_id": sim.client_id,
                           "secret": {"env": "BENCH_AZURE_SECRET"}}})
        conn = AzureConnector("bench", cfg)
        conn.check()
        total_start = time.perf_counter()
        for name, spec in conn.snapshots().items():
            before = sim.total_calls()
            ipe = Provenance()
            ctx = SnapshotContext("bench", name, datetime.now(UTC), ipe,
                                  logging.getLogger("bench"))
            start = time.perf_counter()
            res = conn.run(name, ctx)
            wall = time.perf_counter() - start
            assert spec.assess is not None
            verdicts = Counter(f.status for f in spec.assess(res.content))
            p = ipe.to_json()
            rows.append({"snapshot": name, "wall_s": round(wall, 2),
                         "api_calls": sim.total_calls() - before, "pages": p["pages"],
                         "records": res.record_count, "complete": p["pagination_exhausted"],
                         "findings": dict(verdicts)})
        total = time.perf_counter() - total_start
        tokens = dict(sim.tokens_issued)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                      f"Python {platform.python_version()}",
           "date": datetime.now(UTC).date().isoformat(), "subscriptions": args.subscriptions,
           "users": args.users, "workers": args.workers, "latency_s": args.latency,
           "generate_s": round(gen, 2), "total_wall_s": round(total, 2),
           "total_api_calls": sum(r["api_calls"] for r in rows), "tokens": tokens,
           "peak_rss_mb": round(rss, 1), "snapshots": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['machine']}; {out['date']}; {args.subscriptions} subscriptions, "
          f"{args.users} users, workers={args.workers}, latency={args.latency}s")
    print(f"{'snapshot':<24}{'wall s':>8}{'calls':>7}{'pages':>7}{'records':>9}  findings")
    for r in rows:
        print(f"{r['snapshot']:<24}{r['wall_s']:>8}{r['api_calls']:>7}{r['pages']:>7}"
              f"{r['records']:>9}  {r['findings']}")
    print(f"total {out['total_wall_s']} s, {out['total_api_calls']} API calls, tokens "
          f"{tokens}, peak RSS {out['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GCP connector at 200 projects: wall time, API calls and peak RSS per snapshot.

The simulator runs in its own process (`python -m simulators.gcp`) so it does not share the
collector's interpreter, with a fixed latency per request standing in for Google's network
round trip. The connector runs with its default per-API rates, which follow Google's
documented default quotas (Resource Manager v3 reads 10/s, IAM reads 100/s), so the wall
time shown is what those quotas allow, not what the simulator could serve.

    .venv/bin/python bench/gcp_bench.py                      # 200 projects, 30 ms latency
    .venv/bin/python bench/gcp_bench.py --projects 50 --latency 0 --unbounded
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
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.03)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--unbounded", action="store_true", help="lift the per-API rate limits")
    args = ap.parse_args()

    from connectors.base import Provenance, SnapshotContext
    from connectors.gcp import GcpConnector
    from connectors.gcp.config import SERVICES, GcpConfig

    tmp = Path(tempfile.mkdtemp(prefix="gcp-bench-"))
    key = tmp / "sa.json"
    sim = subprocess.Popen([sys.executable, "-m", "simulators.gcp", "--projects",
                            str(args.projects), "--latency", str(args.latency),
                            "--key-file", str(key)], cwd=ROOT, stdout=subprocess.PIPE,
                           text=True)
    try:
        assert sim.stdout is not None
        url = json.loads(sim.stdout.readline())["url"]
        cfg: dict[str, Any] = {"organization": "organizations/100000000001", "endpoint": url,
                               "workers": args.workers,
                               "credentials": {"kind": "service_account_key",
                                               "key": {"file": str(key)}}}
        if args.unbounded:
            cfg["rates"] = {s: 100000.0 for s in SERVICES}
        conn = GcpConnector("bench", GcpConfig.model_validate(cfg))
        rows = []
        total_start = time.perf_counter()
        for name, spec in conn.snapshots().items():
            before = _stats(url)
            ctx = SnapshotContext("bench", name, datetime.now(UTC), Provenance(),
                                  logging.getLogger("bench"))
            t0 = time.perf_counter()
            res = conn.run(name, ctx)
            wall = time.perf_counter() - t0
            after = _stats(url)
            served = sum(v - before.get(k, 0) for k, v in after.items()
                         if not k.startswith(("auth.", "sim.")))
            ipe = ctx.ipe.to_json()
            findings = spec.assess(res.content) if spec.assess else []
            rows.append({"snapshot": name, "wall_s": round(wall, 2), "requests": served,
                         "recorded_calls": ipe["api_calls"], "pages": ipe["pages"],
                         "records": res.record_count, "findings": len(findings),
                         "errors": len(ipe["errors"]),
                         "content_kb": round(len(json.dumps(res.content)) / 1024)})
            print(json.dumps(rows[-1]), flush=True)
        total = time.perf_counter() - total_start
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {"projects": args.projects, "latency_s": args.latency, "workers": args.workers,
               "rates": "unbounded" if args.unbounded else "documented quotas",
               "total_wall_s": round(total, 1),
               "total_requests": sum(r["requests"] for r in rows),
               "peak_rss_mb": round(rss_mb), "machine": f"{platform.machine()}, "
               f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
               "load_average": os.getloadavg(), "date": datetime.now(UTC).isoformat()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The connector kit's own CPU per request on the `requests` path (issue: kit per-request cost).

A seeded GitHub simulator runs in a child process (its CPU is not ours). This process GETs
the same pull-request reviews pages through a plain `requests.Session` and through one with
the kit's recording adapter (`record_session`: retrier, recorder, item count, `Date`), each
answer parsed once by the caller (`r.json()`, as the jira SDK and the paging helpers do)
and once more from `r.text` (as PyGithub does). Rounds alternate plain / kit; reported: CPU
seconds of this process per request for each, and their difference, the kit's cost.

    .venv/bin/python bench/kit_overhead.py --requests 3000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve() -> None:
    """Child process: a seeded simulator; prints its URL and some review URLs."""
    from simulators.github import GitHubSimulator
    from simulators.github_seed import seed_org

    sim = GitHubSimulator(rate_limit=10**9)  # no primary limit: every answer a 200
    sim.keep_log = False
    sim.add_token("ghp_bench", login="bench")
    seed_org(sim, "acme", repos=2, merged_prs=200, members=40)
    sim.start()
    print(json.dumps({"url": sim.url}), flush=True)
    sys.stdin.read()
    sim.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    url = json.loads(child.stdout.readline())["url"]
    import requests

    from connectors.base import Provenance
    from connectors.kit import CallRecorder, RetryPolicy
    from connectors.kit.http import new_retrier, record_session

    auth = {"Authorization": "token ghp_bench", "Accept": "application/vnd.github+json"}
    repos = requests.get(f"{url}/orgs/acme/repos", headers=auth, timeout=30).json()
    repo = repos[0]["full_name"]
    pulls = requests.get(f"{url}/repos/{repo}/pulls", params={"state": "closed",
                         "per_page": 100}, headers=auth, timeout=30).json()
    urls = [f"{url}/repos/{repo}/pulls/{p['number']}/reviews" for p in pulls]

    def run(s: requests.Session) -> float:
        cpu0 = time.process_time()
        for i in range(args.requests):
            r = s.get(urls[i % len(urls)], params={"per_page": 100}, timeout=30)
            assert r.status_code == 200, r.status_code
            r.json()
            json.loads(r.text)
        return (time.process_time() - cpu0) / args.requests * 1000

    plain_ms, kit_ms = [], []
    items = 0
    for _ in range(args.rounds):
        plain = requests.Session()
        plain.headers.update(auth)
        plain_ms.append(run(plain))
        ipe = Provenance()
        kit = record_session(requests.Session(), CallRecorder(ipe),
                             new_retrier(RetryPolicy()), target="acme")
        kit.headers.update(auth)
        kit_ms.append(run(kit))
        items = sum(c.items or 0 for c in ipe.calls)
    child.stdin.close()
    child.wait()
    p, k = statistics.median(plain_ms), statistics.median(kit_ms)
    print(f"{args.requests} requests x {args.rounds} rounds over {len(urls)} review pages "
          f"({items} reviews counted by the kit in the last round)")
    print("plain ms/request: " + " ".join(f"{x:.3f}" for x in plain_ms) + f"  median {p:.3f}")
    print("kit   ms/request: " + " ".join(f"{x:.3f}" for x in kit_ms) + f"  median {k:.3f}")
    print(f"kit's own CPU per request (median kit - median plain): {k - p:.3f} ms")


if __name__ == "__main__":
    main()

"""No GitHub or Jira secret reaches a log line at `-vv` or anything stored, through the CLI
(both connectors' requests go through the kit's recording adapter, rate limits included)."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.github import Fault as GitHubFault
from simulators.github import GitHubSimulator
from simulators.github_seed import seed_org
from simulators.jira import Fault as JiraFault
from simulators.jira import JiraSimulator, tickets_for_changes
from tests.conftest import subprocess_env

GH_TOKEN = "ghp_RedactMeGitHub0123456789abcdefXYZ"


def test_github_and_jira_at_vv_log_and_store_no_secret(config_file: Callable[..., Path]) -> None:
    """`evidence -vv collect` of GitHub (token) and Jira Cloud (email + API token), each with
    a rate-limited answer waited out: neither secret, nor the Basic credential, is in the
    output or any stored file; the retries are recorded."""
    now = datetime.now(UTC).replace(microsecond=0)
    with GitHubSimulator() as gh:
        gh.add_token(GH_TOKEN, login="auditor")
        seeded = seed_org(gh, "acme", repos=1, merged_prs=12, days=5,
                          end=now - timedelta(minutes=2))
        gh.inject(GitHubFault(status=403, message="You have exceeded a secondary rate limit.",
                              retry_after=1, path_contains="/reviews", times=1))
        data = tickets_for_changes(seeded.tickets, until=now - timedelta(seconds=30))
        with JiraSimulator("cloud", data) as jira:
            jira.inject(JiraFault(429, path="/rest/api/2/search/jql", retry_after=1, times=1))
            cfg = config_file(connectors=(
                f'[[connectors]]\ntype = "github"\ninstance = "acme"\nbase_url = "{gh.url}"\n'
                'organizations = ["acme"]\ntoken = { env = "GH_SECRET" }\n'
                'seconds_between_requests = 0\n\n'
                f'[[connectors]]\ntype = "jira"\ninstance = "site"\nurl = "{jira.url}"\n'
                f'email = "{jira.cloud_email}"\napi_token = {{ env = "JIRA_SECRET" }}\n'
                'jql = "project = CHG"\n'))
            exe = str(Path(sys.executable).parent / "evidence")
            r = subprocess.run([exe, "-vv", "-c", str(cfg), "collect", "--snapshot",
                                "merged_changes", "--snapshot", "change_tickets"],
                               env=subprocess_env(GH_SECRET=GH_TOKEN,
                                                  JIRA_SECRET=jira.api_token),
                               capture_output=True, text=True, timeout=300)
            basic = base64.b64encode(f"{jira.cloud_email}:{jira.api_token}".encode()).decode()
            secrets = [GH_TOKEN, jira.api_token, basic]
    assert r.returncode == 0, r.stderr[-3000:]
    assert "DEBUG" in r.stderr and "/reviews" in r.stderr, r.stderr[-2000:]
    for s in secrets:
        assert s not in r.stdout + r.stderr
    stored = [p.read_bytes() for p in cfg.parent.rglob("*") if p.is_file()]
    assert len(stored) > 5
    for s in secrets:
        assert not any(s.encode() in b for b in stored)
    assert any(b'"retries": 1' in b or b'"retries":1' in b for b in stored)

"""No secret reaches a log line at `-vv` or anything stored, end to end through the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from simulators.faults import Fault, Faults, Served
from tests.conftest import subprocess_env
from tests.listapi import ListApi
from tests.plugins.synthetic_connector import synthetic_items

TOKEN = "ghp_RedactMeRedactMe0123456789abcdef"


def test_collect_at_vv_logs_and_stores_no_secret(config_file: Callable[..., Path]) -> None:
    """`evidence -vv collect` with a bearer token from the environment, a throttled and a
    refused call: the token is in no log line, no stored blob and no index row."""
    faults = Faults(ListApi(synthetic_items("s", 25), TOKEN, settings={"logging": True}))
    faults.inject(Fault(429, headers={"Retry-After": "0"}, path_contains="/link"))
    faults.inject(Fault(403, path_contains="/settings"))
    with Served(faults) as srv:
        cfg = config_file(connectors=(
            f'[[connectors]]\ntype = "synthetic"\ninstance = "web"\nurl = "{srv.url}"\n'
            'token = { env = "SYN_TOKEN" }\n'))
        exe = str(Path(sys.executable).parent / "evidence")
        r = subprocess.run([exe, "-vv", "-c", str(cfg),
                            "collect", "--snapshot", "items", "--snapshot", "settings"],
                           env=subprocess_env(SYN_TOKEN=TOKEN), capture_output=True,
                           text=True, timeout=120)
    assert "DEBUG" in r.stderr and "/link" in r.stderr, r.stderr[-2000:]
    assert TOKEN not in r.stdout + r.stderr
    stored = [p.read_bytes() for p in cfg.parent.rglob("*") if p.is_file()]
    assert len(stored) > 3 and not any(TOKEN.encode() in b for b in stored)
    assert any(b"synthetic.settings.read" in b for b in stored)  # the refusal was recorded

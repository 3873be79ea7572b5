"""The `evidence` command: the root group lives in `common`, each command group in its own
module (importing them registers their commands)."""

from __future__ import annotations

import os

from collector.cli import (
    changes,
    collect,
    connectors,
    exceptions,
    fieldwork,
    portal,
    schedules,
    store,
)
from collector.cli.common import cli

__all__ = ["changes", "cli", "collect", "connectors", "exceptions", "fieldwork", "main",
           "portal", "schedules", "store"]


def main() -> None:
    """Entry point of the `evidence` command."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli(prog_name="evidence")

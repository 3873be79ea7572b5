"""`evidence collect` and `evidence demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from collector.cli.common import Ctx, _emit, cli, pass_ctx
from collector.errors import ConfigError


@cli.command()
@click.option("--connector", "connectors", multiple=True, metavar="NAME",
              help="Connector type or TYPE/INSTANCE (repeatable).")
@click.option("--snapshot", "snapshots", multiple=True, metavar="NAME",
              help="Snapshot name (repeatable).")
@click.option("--control", "controls", multiple=True, metavar="ID",
              help="SOC 2 criterion or your own control ID (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable run summary.")
@pass_ctx
def collect(c: Ctx, connectors: tuple[str, ...], snapshots: tuple[str, ...],
            controls: tuple[str, ...], as_json: bool) -> None:
    """Collect evidence now. Exit 0 when all was collected, 3 when some snapshots failed."""
    from collector.runner import Collector, Outcome, Selection

    sel = Selection(connectors, snapshots, controls)
    config = c.config
    collector = Collector(config, c.store)
    tasks = collector.plan(sel)
    if not tasks:
        raise ConfigError("nothing to collect: no configured snapshot matches the filters")
    tty = sys.stderr.isatty() and not as_json

    def progress(o: Outcome, done: int, total: int) -> None:
        if tty or not as_json:
            mark = {"complete": "ok", "partial": "PARTIAL", "failed": "FAILED"}.get(
                o.status, o.status.upper())
            extra = f" - {o.error}" if o.error and o.status != "complete" else ""
            click.echo(f"[{done}/{total}] {o.connector}/{o.instance} {o.snapshot}: {mark} "
                       f"({o.record_count} records, {o.seconds:.1f}s){extra}", err=True)

    from schedules.signals import stop_on_signals

    with stop_on_signals(collector.stop):
        summary = collector.run(sel, trigger="manual")
    if as_json:
        _emit(summary.to_json())
    else:
        counts = summary.to_json()["counts"]
        click.echo(f"run {summary.run_id}: {summary.status} "
                   + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                   + f"; sealed at #{summary.seal_seq}")
    sys.exit(0 if summary.ok else 3)



@cli.command()
@click.option("--dir", "directory", default="evidence-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo config and store go.")
def demo(directory: str) -> None:
    """Start local simulators, collect from them, query and verify, then stop them."""
    from collector.demo import run_demo

    sys.exit(run_demo(Path(directory)))

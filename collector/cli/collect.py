"""`evidence collect` and `evidence demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from collector.cli.common import Ctx, _emit, cli, pass_ctx, startup
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
    """Collect evidence now. Exit 0 when all was collected, 3 when some snapshots failed,
    1 when the run could not be sealed, 2 on a config or key problem (nothing collected)."""
    with startup():
        from collector.runner import Collector, Outcome, Selection

        sel = Selection(connectors, snapshots, controls)
        config = c.config
        # a missing, unreadable or wrong key stops us before anything is collected
        _ = c.store.key
        collector = Collector(config, c.store)
        tasks = collector.plan(sel)
        if not tasks:
            raise ConfigError("nothing to collect: no configured snapshot matches the filters")

    def progress(o: Outcome, done: int, total: int) -> None:
        mark = {"complete": "ok", "partial": "PARTIAL", "failed": "FAILED"}.get(
            o.status, o.status.upper())
        extra = f" - {o.error}" if o.error and o.status != "complete" else ""
        click.echo(f"[{done}/{total}] {o.connector}/{o.instance} {o.snapshot}: {mark} "
                   f"({o.record_count} records, {o.seconds:.1f}s){extra}", err=True)
        for w in o.warnings:
            click.echo(f"  WARNING {w}", err=True)

    if not as_json:
        collector.progress = progress
    from schedules.signals import stop_on_signals

    with stop_on_signals(collector.stop):
        summary = collector.run(sel, trigger="manual")
    if as_json:
        _emit(summary.to_json())
    else:
        counts = summary.to_json()["counts"]
        sealed = (f"sealed at #{summary.seal_seq}" if summary.seal_error is None
                  else f"NOT SEALED: {summary.seal_error}")
        click.echo(f"run {summary.run_id}: {summary.status} "
                   + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                   + f"; {sealed}")
    if summary.seal_error is not None:
        sys.exit(1)
    sys.exit(0 if summary.ok else 3)



@cli.command()
@click.option("--dir", "directory", default="evidence-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo config and store go.")
def demo(directory: str) -> None:
    """Start local simulators, collect from them, query and verify, then stop them."""
    from collector.demo import run_demo

    sys.exit(run_demo(Path(directory)))

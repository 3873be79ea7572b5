"""`evidence schedule` and `evidence status`."""

from __future__ import annotations

import sys

import click

from collector.cli.common import Ctx, _emit, cli, pass_ctx


@cli.command()
@pass_ctx
def schedule(c: Ctx) -> None:
    """Run the configured [[schedule]] entries in the foreground until SIGTERM."""
    import threading

    from schedules.scheduler import serve
    from schedules.signals import stop_on_signals

    config, store = c.config, c.store
    stop = threading.Event()
    with stop_on_signals(stop.set):
        code = serve(config, store, stop, echo=lambda s: click.echo(s, err=True))
    store.close()
    sys.exit(code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(c: Ctx, as_json: bool) -> None:
    """Per schedule: last run, outcome, next run; per control: fresh or stale; per
    population series: a watermark ahead of now, or a hole left by windows collected while a
    clock was ahead. Exits 1 when a schedule missed its window (use it as a health check)."""
    from schedules.status import status as build_status
    from storage.store import utcnow

    rep = build_status(c.config, c.reader, utcnow())
    if as_json:
        _emit(rep)
    else:
        sch = rep["scheduler"]
        click.echo(f"scheduler: {'running' if sch['running'] else 'not running'}"
                   + (f" ({sch['holder']} since {sch['since']})" if sch["running"] else ""))
        for s in rep["schedules"]:
            last = s["last_run"]
            last_s = f"{last['started_at']} {last['status']}" if last else "never"
            click.echo(f"schedule {s['name']} ({s['cron']} {s['timezone']}): last {last_s}; "
                       f"next {s['next_run'] or '-'}" + ("; MISSED its window" if s["missed"]
                                                        else ""))
            for w in s["warnings"]:
                click.echo(f"  WARNING {w}")
        for ctl in rep["controls"]:
            if ctl["fresh"]:
                click.echo(f"  {ctl['control']}: fresh")
            else:
                parts = [f"stale: {', '.join(ctl['stale'])}"] if ctl["stale"] else []
                parts += [f"never collected: {', '.join(ctl['never'])}"] if ctl["never"] else []
                click.echo(f"  {ctl['control']}: NOT FRESH ({'; '.join(parts)})")
        for w in rep["window_warnings"]:
            click.echo(f"window {w['series']}: WARNING {w['warning']}")
        for e in rep["stale_exceptions"]:
            click.echo(f"exception {e['id']}: STALE ({e['why']})")
        for a in rep["alert_sinks"]:
            d = a["last_delivery"]
            last_d = "never" if d is None else (
                f"{d['at']} {'ok' if d['ok'] else 'FAILED'} ({d['items']} items, "
                f"{d['attempts']} attempt(s))" + (f": {d['error']}" if d["error"] else ""))
            click.echo(f"alert sink {a['name']} ({a['type']}): last delivery {last_d}")
    sys.exit(0 if rep["healthy"] else 1)

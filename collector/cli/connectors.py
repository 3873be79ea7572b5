"""`evidence connectors ...` and `evidence controls`."""

from __future__ import annotations

import sys
from typing import Any

import click

from collector.cli.common import Ctx, _emit, cli, pass_ctx
from collector.errors import EvidenceError


@cli.group()
def connectors() -> None:
    """List connectors, check configured instances, print required permissions."""


@connectors.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def connectors_list(as_json: bool) -> None:
    """Registered connectors, their snapshots and the criteria each supports."""
    from connectors.registry import registry

    data: dict[str, dict[str, Any]] = {name: {"title": cls.title, "snapshots": {
        s.name: {"kind": s.kind, "controls": list(s.controls),
                 "max_age_hours": s.max_age.total_seconds() / 3600,
                 "doc": s.doc.splitlines()[0] if s.doc else ""}
        for s in cls.snapshots().values()}} for name, cls in registry().items()}
    if as_json:
        _emit(data)
        return
    for name, d in data.items():
        click.echo(f"{name}: {d['title']}")
        for sname, s in d["snapshots"].items():
            click.echo(f"  {sname:<28} {s['kind']:<10} {', '.join(s['controls'])}")


@connectors.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def connectors_check(c: Ctx, as_json: bool) -> None:
    """Run each configured instance's check(): reachable, authenticated, permitted."""
    from connectors.registry import get

    results: list[dict[str, Any]] = []
    for inst in c.config.connectors:
        cls = get(inst.type)
        try:
            res = cls(inst.instance, inst.config).check()
            results.append({"instance": inst.key, "ok": res.ok, "principal": res.principal,
                            "source": res.source, "detail": res.detail})
        except EvidenceError as e:
            results.append({"instance": inst.key, "ok": False, "detail": str(e)})
    if as_json:
        _emit(results)
    else:
        for r in results:
            state = "ok" if r["ok"] else "FAILED"
            who = f" as {r['principal']}" if r.get("principal") else ""
            click.echo(f"{r['instance']}: {state}{who} {r.get('detail') or ''}".rstrip())
    sys.exit(0 if all(r["ok"] for r in results) else 1)


@connectors.command("permissions")
@click.argument("name")
def connectors_permissions(name: str) -> None:
    """What connector NAME needs, in the platform's own policy format."""
    from connectors.registry import get

    click.echo(get(name).permission_document())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def controls(ctx: click.Context, as_json: bool) -> None:
    """The SOC 2 criteria, and your own control IDs when a config is given."""
    from collector.controls import criteria

    custom: dict[str, tuple[str, ...]] = {}
    c: Ctx = ctx.obj
    if c.config_path:
        custom = dict(c.config.catalog.custom)
    if as_json:
        _emit({"criteria": dict(criteria()), "custom": {k: list(v) for k, v in custom.items()}})
        return
    for cid, title in criteria().items():
        click.echo(f"{cid:<7} {title}")
    for k, v in custom.items():
        click.echo(f"{k} -> {', '.join(v)}")

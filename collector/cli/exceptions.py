"""Running the controls day to day: exceptions (accepted findings) and drift alerts."""

from __future__ import annotations

import sys

import click

from collector.cli.common import Ctx, _emit, cli, pass_ctx
from collector.errors import ConfigError


@cli.group()
def exception() -> None:
    """Exceptions: failing findings accepted on purpose (approved, expiring, ledgered)."""


@exception.command("add")
@click.option("--snapshot", "series", required=True, metavar="CONNECTOR/INSTANCE:SNAPSHOT",
              help="The snapshot whose findings it covers, e.g. aws/prod:iam_users.")
@click.option("--resource", required=True, metavar="ID-OR-GLOB",
              help="The resource ID, or a glob (e.g. 'breakglass-*').")
@click.option("--reason", required=True, help="Why the risk is accepted.")
@click.option("--approved-by", required=True, metavar="NAME", help="Who approved it.")
@click.option("--expires", required=True, metavar="DATE",
              help="When it ends (ISO 8601; at most [exception_policy] max_days away).")
@click.option("--ticket", metavar="KEY", help="The ticket that records the approval.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def exception_add(c: Ctx, series: str, resource: str, reason: str, approved_by: str,
                  expires: str, ticket: str | None, as_json: bool) -> None:
    """Declare an exception; it is written to the ledger and sealed."""
    from fieldwork.exceptions import add
    from storage.queries import parse_time

    e = add(c.store, series=series, resource=resource, reason=reason,
            approved_by=approved_by, expires_at=parse_time(expires), ticket=ticket,
            max_days=c.config.exception_policy.max_days)
    if as_json:
        _emit(e.to_json())
        return
    click.echo(f"exception {e.id}: {series} {resource!r} excepted until "
               f"{e.to_json()['expires_at']} (approved by {approved_by})")


@exception.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also expired and revoked ones.")
@click.option("--as-of", "as_of", default="now", show_default=True, metavar="T",
              help="The register as it stood at T.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def exception_list(c: Ctx, show_all: bool, as_of: str, as_json: bool) -> None:
    """The exceptions in force (with --all, every one ever declared)."""
    from fieldwork.exceptions import register
    from storage.queries import parse_time

    at = parse_time(as_of)
    found = [e for e in register(c.reader, at) if show_all or e.active(at)]
    if as_json:
        _emit([e.to_json() | {"active": e.active(at)} for e in found])
        return
    for e in found:
        j = e.to_json()
        state = "active" if e.active(at) else ("revoked" if e.revoked_at else "expired")
        click.echo(f"{e.id}  {state:<8} {e.series} {e.resource!r} until {j['expires_at']}; "
                   f"{e.reason} (approved by {e.approved_by}"
                   + (f", ticket {e.ticket}" if e.ticket else "") + f", from {e.source})")
    if not found:
        click.echo("no exceptions" + ("" if show_all else " in force"))


@exception.command("revoke")
@click.argument("exception_id")
@click.option("--reason", default="", help="Why it is revoked.")
@pass_ctx
def exception_revoke(c: Ctx, exception_id: str, reason: str) -> None:
    """Revoke an exception: its findings count again from now. Ledgered."""
    from fieldwork.exceptions import revoke

    if exception_id.startswith("cfg:"):
        raise ConfigError(f"{exception_id} is declared in the config: remove it there (the "
                          "next run revokes it)")
    e = revoke(c.store, exception_id, reason=reason)
    click.echo(f"exception {e.id} revoked at {e.to_json()['revoked_at']}")


@cli.group()
def alerts() -> None:
    """Drift alerts sent after each run to the [[alerts]] sinks."""


@alerts.command("test")
@pass_ctx
def alerts_test(c: Ctx) -> None:
    """Send a sample alert to every configured sink. Exit 1 when one fails."""
    from fieldwork.alerts import deliver, test_payload

    if not c.config.alerts:
        raise ConfigError("no [[alerts]] sinks are configured")
    failed = 0
    for sink in c.config.alerts:
        ok, attempts, err = deliver(sink, test_payload(), c.store)
        click.echo(f"{sink.name} ({sink.type}): " + ("delivered" if ok else
                                                      f"FAILED after {attempts}: {err}"))
        failed += not ok
    sys.exit(1 if failed else 0)

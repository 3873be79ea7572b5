"""`evidence changes`: GitHub merges joined to Jira approvals, ledgered and re-derivable."""

from __future__ import annotations

import sys

import click

from collector.cli.common import Ctx, _emit, _warn, cli, pass_ctx


@cli.group()
def changes() -> None:
    """Changes across platforms: each merged change joined to its Jira ticket (CC8.1)."""


@changes.command("join")
@click.option("--since", required=True, metavar="T", help="Period start (inclusive).")
@click.option("--until", required=True, metavar="T",
              help="Period end (exclusive; a date means its start).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with items.")
@pass_ctx
def changes_join(c: Ctx, since: str, until: str, as_json: bool) -> None:
    """Join stored GitHub merged changes to stored Jira tickets and ledger the result.
    Exit 3 when GitHub's windows leave gaps in the period (the record is partial)."""
    from fieldwork.changes import derive
    from storage.queries import parse_time

    row = derive(c.store, parse_time(since, end_of_day=False),
                 parse_time(until, end_of_day=False))
    content = c.store.blob_json(row["content_sha256"])
    left = c.store.blob_json(row["ipe_sha256"]).get("excluded_unsealed") or []
    _warn([f"input record {x['id']} (#{x['seq']}, {x['series']}) left out of the join: "
           f"{x['state']}, no seal by the store's key vouches for it" for x in left])
    if as_json:
        _emit({"record_id": row["id"], "status": row["status"],
               "assessment": row["assessment"], **content})
    else:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(row["assessment"].items()))
        click.echo(f"changes {row['id']}: {len(content['changes'])} changes joined from "
                   f"{len(content['inputs'])} records, {row['status']} [{counts}]")
        for ch in content["changes"]:
            if ch["verdict"] != "pass":
                click.echo(f"  {ch['verdict']:<12} {ch['id']} ({ch['time']}): {ch['reason']}")
        if row["error"]:
            click.echo(f"  PARTIAL: {row['error']}")
    sys.exit(0 if row["status"] == "complete" else 3)


@changes.command("rederive")
@click.argument("record_id")
@pass_ctx
def changes_rederive(c: Ctx, record_id: str) -> None:
    """Recompute a stored join from the input records it names; exit 1 if it differs."""
    from fieldwork.changes import rederive

    problems, notes = rederive(c.store, record_id)
    for p in problems:
        click.echo(f"PROBLEM {p}")
    for n in notes:
        click.echo(f"note: {n}")
    click.echo(f"changes {record_id}: " + ("re-derived identically" if not problems
                                           else f"{len(problems)} problem(s)"))
    sys.exit(1 if problems else 0)

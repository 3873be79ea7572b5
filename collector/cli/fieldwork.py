"""What auditors touch: query, show, population, sample, export, verify-bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from collector.cli.common import (
    Ctx,
    _emit,
    _read_public_key,
    _read_seal,
    _report,
    _warn,
    cli,
    pass_ctx,
)
from collector.errors import ConfigError


@cli.command()
@click.option("--control", "control", required=True, metavar="ID",
              help="SOC 2 criterion (CC6.1) or your own control ID.")
@click.option("--as-of", "as_of", default="now", show_default=True, metavar="T",
              help="ISO 8601 date or datetime (UTC unless it says otherwise), or 'now'. "
                   "A date (2026-11-30 or 20261130) means the end of that day.")
@click.option("--since", metavar="T", help="Also list population records whose period "
                                            "overlaps [since, as-of).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def query(c: Ctx, control: str, as_of: str, since: str | None, as_json: bool) -> None:
    """Evidence for a control as of a moment: newest record per snapshot, stale flagged."""
    from storage.queries import as_of as run_query
    from storage.queries import check_order, parse_time

    when = parse_time(as_of)
    start = parse_time(since, end_of_day=False) if since else None
    check_order(start, when, since, as_of)
    crit = c.config.catalog.resolve(control)
    from fieldwork.exceptions import apply_to_answer

    # sealed evidence only; records left out (unsealed, pending) are named in a warning
    res = apply_to_answer(c.reader, run_query(c.reader.engine, crit, when, start,
                                              vouched=c.reader.vouched()), when)
    res = {"control": control, "criteria": list(crit), **res}
    _warn(res["warnings"])
    if as_json:
        _emit(res)
        return
    click.echo(f"{control} ({', '.join(crit)}) as of {res['as_of']}: "
               f"{len(res['records'])} records")
    for r in res["records"]:
        when_s = r.get("effective_at") or f"{r['period_start']}..{r['period_end']}"
        flag = " STALE" if r["stale"] else ""
        verdict = ", ".join(f"{v} {k}" for k, v in sorted(r["assessment"].items()))
        click.echo(f"  {r['id']}  {r['connector']}/{r['instance']} {r['snapshot']}: "
                   f"{r['status']}{flag} (describes {when_s}; collected {r['collected_at']})"
                   + (f" [{verdict}]" if verdict else ""))
    for m in res["no_evidence_yet"]:
        click.echo(f"  -- {m['connector']}/{m['instance']} {m['snapshot']}: "
                   "no record collected by then")


@cli.command()
@click.argument("record_id")
@click.option("--content", is_flag=True, help="Include the content (the raw evidence).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def show(c: Ctx, record_id: str, content: bool, as_json: bool) -> None:
    """One record with its provenance (IPE) and, with --content, what was fetched."""
    from storage.canonical import iso

    store = c.reader
    r = store.record(record_id)
    if r is None:
        raise ConfigError(f"no record with ID {record_id!r}")
    out: dict[str, Any] = {k: (iso(v) if k.endswith("_at") or k.startswith("period_") else v)
                           for k, v in r.items()}
    out["provenance"] = store.blob_json(r["ipe_sha256"])
    # sealed | pending | unsealed | unchecked (storage/vouched.py)
    out["sealed"] = store.vouched().state(r)
    if out["sealed"] not in ("sealed", "unchecked"):
        _warn([f"record {r['id']} (#{r['seq']}) is {out['sealed']}: no seal by the store's "
               "key vouches for it, it is not sealed evidence"
               + (" (its run is still in progress)" if out["sealed"] == "pending" else
                  "; run `evidence verify`")])
    if r["findings_sha256"]:
        from fieldwork.exceptions import active, apply

        # the exceptions active now, as the register stands now (raw verdicts kept)
        now = store.clock()
        out["findings"] = apply(store.blob_json(r["findings_sha256"]), r["connector"],
                                r["instance"], r["snapshot"], active(store, now), now)
    if content and r["content_sha256"]:
        out["content"] = store.blob_json(r["content_sha256"])
    if as_json:
        _emit(out)
        return
    for k in ("id", "seq", "connector", "instance", "snapshot", "kind", "status", "source",
              "principal", "collected_started_at", "collected_finished_at", "effective_at",
              "period_start", "period_end", "record_count", "api_calls", "pages", "retries",
              "content_sha256", "record_hash", "prev_hash", "controls", "error", "sealed"):
        if out.get(k) is not None:
            click.echo(f"{k:>22}: {out[k]}")
    p = out["provenance"]
    click.echo(f"{'pagination_exhausted':>22}: {p.get('pagination_exhausted')}")
    for call in p.get("calls", [])[:50]:
        click.echo(f"    call {call['operation']} {json.dumps(call.get('params', {}))}"
                   f" target={call.get('target')} pages={call.get('pages')} ok={call.get('ok')}")
    if len(p.get("calls", [])) > 50:
        click.echo(f"    ... {len(p['calls']) - 50} more calls (use --json)")
    if "findings" in out:
        bad = [f for f in out["findings"] if f["status"] != "pass"]
        click.echo(f"findings: {len(out['findings'])} ({len(bad)} not passing)")
        for f in bad[:50]:
            why = f" (raw {f['raw_status']}, exception {f['exception']})" \
                if f["status"] == "excepted" else ""
            click.echo(f"    {f['status']:<12} {f['resource']}: {f['reason']}{why}")
    if content and "content" in out:
        click.echo(json.dumps(out["content"], indent=2, sort_keys=True))



@cli.command("export")
@click.option("--control", "controls", multiple=True, required=True, metavar="ID",
              help="SOC 2 criterion or your own control ID (repeatable).")
@click.option("--as-of", "as_of", default="now", show_default=True, metavar="T",
              help="ISO 8601 date or datetime, or 'now' (a date means the end of that day).")
@click.option("--since", metavar="T", help="Also include population records overlapping "
                                            "[since, as-of).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="The file to write (a zip bundle, or OSCAL JSON with --format oscal).")
@click.option("--format", "fmt", type=click.Choice(["bundle", "oscal"]), default="bundle",
              show_default=True, help="bundle: zip verifiable offline; oscal: an OSCAL "
                                      "assessment-results document linking the bundle's blobs.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@pass_ctx
def export(c: Ctx, controls: tuple[str, ...], as_of: str, since: str | None, out: str,
           fmt: str, force: bool) -> None:
    """Write the evidence for controls: a zip bundle verifiable offline, or OSCAL."""
    if fmt == "oscal":
        _export_oscal(c, controls, as_of, since, out, force)
        return
    from fieldwork.bundle import export_bundle
    from storage.queries import check_order, parse_time

    when = parse_time(as_of)
    start = parse_time(since, end_of_day=False) if since else None
    check_order(start, when, since, as_of)
    crit: list[str] = []
    for ctl in controls:
        crit.extend(x for x in c.config.catalog.resolve(ctl) if x not in crit)
    s = export_bundle(c.store, Path(out), crit, when, start,
                      {"controls": list(controls), "criteria": crit, "as_of": as_of,
                       "since": since}, force=force)
    click.echo(f"wrote {s.path}: {s.records} records, {s.blobs} blobs, ledger #{s.segment[0]}"
               f"..#{s.segment[1]}, sealed with key {s.seal.key_id}")


@cli.command("verify-bundle")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="Pin the PEM public key you got from the entity (recommended).")
@click.option("--against", type=click.Path(exists=True, dir_okay=False),
              help="A seal kept from earlier: check the bundle's ledger agrees with it.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_bundle_cmd(bundle: str, public_key: str | None, against: str | None,
                      as_json: bool) -> None:
    """Check an export bundle offline: sums, chain, seal, blobs. Exit 1 on any problem."""
    from fieldwork.bundle import verify_bundle

    pinned = _read_public_key(public_key) if public_key else None
    kept = _read_seal(against) if against else None
    rep = verify_bundle(Path(bundle), pinned=pinned, against=kept)
    _report(rep, as_json, f"{bundle}: {rep.records} records, ledger #{rep.segment[0]}.."
                          f"#{rep.segment[1]}, key {rep.key_id}")
    if not as_json and not rep.key_pinned:
        click.echo("note: the key was not pinned (--public-key); the bundle's own key was "
                   "trusted", err=True)
    sys.exit(0 if rep.ok else 1)


def _period(c: Ctx, control: str, since: str, until: str) -> tuple[Any, Any, Any]:
    from storage.queries import parse_time

    crit = c.config.catalog.resolve(control)
    return crit, parse_time(since, end_of_day=False), parse_time(until, end_of_day=False)


@cli.command()
@click.option("--control", required=True, metavar="ID", help="Criterion or your own control ID.")
@click.option("--since", required=True, metavar="T", help="Period start (inclusive).")
@click.option("--until", required=True, metavar="T",
              help="Period end (exclusive; a date means its start).")
@click.option("--snapshot", metavar="NAME", help="Only this population snapshot.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with items.")
@pass_ctx
def population(c: Ctx, control: str, since: str, until: str, snapshot: str | None,
               as_json: bool) -> None:
    """The frozen population for a control and period: items, hash, gaps. Exit 3 on gaps."""
    from fieldwork.sample import freeze_population
    from storage.canonical import iso

    crit, start, end = _period(c, control, since, until)
    pop = freeze_population(c.reader, crit, start, end, snapshot)
    _warn(pop.warnings)
    if as_json:
        _emit(pop.to_json())
    else:
        click.echo(f"{control} population {iso(pop.since)}..{iso(pop.until)}: "
                   f"{len(pop.items)} items from {len(pop.sources)} records, "
                   f"sha256 {pop.sha256}")
        for g in pop.gaps:
            click.echo(f"  GAP {g['series']}: {g['start']}..{g['end']}: {g['reason']}")
    sys.exit(0 if pop.complete else 3)


@cli.command()
@click.option("--control", required=True, metavar="ID", help="Criterion or your own control ID.")
@click.option("--since", required=True, metavar="T", help="Period start (inclusive).")
@click.option("--until", required=True, metavar="T",
              help="Period end (exclusive; a date means its start).")
@click.option("--size", required=True, type=click.IntRange(1, 1_000_000_000),
              help="How many items to select (1 to 1000000000; all when the population is "
                   "smaller).")
@click.option("--seed", help="Seed (default: a random one, recorded with the sample).")
@click.option("--snapshot", metavar="NAME", help="Only this population snapshot.")
@click.option("--rederive", "rederive_id", metavar="RECORD_ID",
              help="Instead: re-derive a stored sample and check it still agrees.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sample(c: Ctx, control: str, since: str, until: str, size: int, seed: str | None,
           snapshot: str | None, rederive_id: str | None, as_json: bool) -> None:
    """Draw a seeded, reproducible sample from a frozen population and ledger it."""
    from fieldwork.sample import freeze_population, record_sample, rederive

    if rederive_id:
        problems = rederive(c.store, rederive_id)
        for p in problems:
            click.echo(f"PROBLEM {p}")
        click.echo(f"sample {rederive_id}: " + ("re-derived identically" if not problems
                                                else f"{len(problems)} problem(s)"))
        sys.exit(1 if problems else 0)
    crit, start, end = _period(c, control, since, until)
    pop = freeze_population(c.store, crit, start, end, snapshot)
    _warn(pop.warnings)
    row, chosen = record_sample(c.store, pop, size, seed)
    content = c.store.blob_json(row["content_sha256"])
    if as_json:
        _emit({"record_id": row["id"], "seed": content["seed"], "size": size,
               "population": pop.to_json(with_items=False), "selected": chosen})
    else:
        click.echo(f"sample {row['id']}: {len(chosen)} of {len(pop.items)} items, seed "
                   f"{content['seed']}, population sha256 {pop.sha256}")
        for g in pop.gaps:
            click.echo(f"  GAP {g['series']}: {g['start']}..{g['end']}: {g['reason']}")
        for i in chosen:
            click.echo(f"  {i['series']} {i['time']} {i['id']}")
    sys.exit(0 if pop.complete else 3)


def _export_oscal(c: Ctx, controls: tuple[str, ...], as_of: str, since: str | None,
                  out: str, force: bool) -> None:
    from collector.controls import criteria
    from fieldwork.bundle import check_output_path, write_file_atomically
    from fieldwork.oscal import assessment_results
    from storage.queries import check_order, parse_time

    check_output_path(Path(out), force)
    when = parse_time(as_of)
    start = parse_time(since, end_of_day=False) if since else None
    check_order(start, when, since, as_of)
    wanted = {ctl: c.config.catalog.resolve(ctl) for ctl in controls}
    doc = assessment_results(c.store, wanted, when, start, titles=criteria())
    write_file_atomically(Path(out), (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(),
                          force)
    r = doc["assessment-results"]["results"][0]
    click.echo(f"wrote {out}: OSCAL assessment-results, {len(r.get('observations', []))} "
               f"observations, {len(r['findings'])} findings")

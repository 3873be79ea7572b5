"""The `evidence` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from collector.errors import ConfigError, EvidenceError, StorageError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(msg: str, code: int) -> NoReturn:
    click.echo(f"evidence: error: {msg}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Maps our errors onto one line and an exit code: 2 config/usage, 1 anything else."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            _fail(str(e), 2)
        except StorageError as e:
            _fail(str(e), 1)
        except EvidenceError as e:
            _fail(str(e), 1)


class Ctx:
    """Lazily loaded config and store, shared by subcommands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Any = None
        self._store: Any = None

    @property
    def config(self) -> Any:
        if self._config is None:
            from collector.config import load

            self._config = load(self.config_path)
        return self._config

    @property
    def store(self) -> Any:
        if self._store is None:
            from storage.store import EvidenceStore

            self._store = EvidenceStore.open(self.config)
        return self._store


pass_ctx = click.make_pass_decorator(Ctx)


def _read_seal(path: str) -> Any:
    from storage.ledger import Seal

    try:
        return Seal.from_json(json.loads(Path(path).read_text("utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a seal file ({e})") from None


def _report(rep: Any, as_json: bool, summary: str) -> None:
    """Print a verify report (problems, then one summary line) and exit 0 or 1."""
    if as_json:
        _emit(rep.to_json())
    else:
        for p in rep.problems:
            click.echo(f"PROBLEM {p}")
        state = "intact" if rep.ok else f"{len(rep.problems)} problem(s)"
        click.echo(f"{summary}: {state}")


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", metavar="FILE", envvar="EVIDENCE_CONFIG",
              help="Config file (TOML). Default: $EVIDENCE_CONFIG.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.version_option(package_name="evidence-agent")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Collect SOC 2 audit evidence: signed, hash-chained, with its provenance."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = Ctx(config_path)


# collect --------------------------------------------------------------------------------
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


# connectors -----------------------------------------------------------------------------
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


# queries --------------------------------------------------------------------------------
@cli.command()
@click.option("--control", "control", required=True, metavar="ID",
              help="SOC 2 criterion (CC6.1) or your own control ID.")
@click.option("--as-of", "as_of", default="now", show_default=True, metavar="T",
              help="ISO 8601 date or datetime (UTC unless it says otherwise), or 'now'. "
                   "A date means the end of that day.")
@click.option("--since", metavar="T", help="Also list population records whose period "
                                            "overlaps [since, as-of).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def query(c: Ctx, control: str, as_of: str, since: str | None, as_json: bool) -> None:
    """Evidence for a control as of a moment: newest record per snapshot, stale flagged."""
    from storage.queries import as_of as run_query
    from storage.queries import parse_time

    when = parse_time(as_of)
    start = parse_time(since, end_of_day=False) if since else None
    crit = c.config.catalog.resolve(control)
    res = run_query(c.store.engine, crit, when, start)
    res = {"control": control, "criteria": list(crit), **res}
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

    store = c.store
    r = store.record(record_id)
    if r is None:
        raise ConfigError(f"no record with ID {record_id!r}")
    out: dict[str, Any] = {k: (iso(v) if k.endswith("_at") or k.startswith("period_") else v)
                           for k, v in r.items()}
    out["provenance"] = store.blob_json(r["ipe_sha256"])
    if r["findings_sha256"]:
        out["findings"] = store.blob_json(r["findings_sha256"])
    if content and r["content_sha256"]:
        out["content"] = store.blob_json(r["content_sha256"])
    if as_json:
        _emit(out)
        return
    for k in ("id", "seq", "connector", "instance", "snapshot", "kind", "status", "source",
              "principal", "collected_started_at", "collected_finished_at", "effective_at",
              "period_start", "period_end", "record_count", "api_calls", "pages", "retries",
              "content_sha256", "record_hash", "prev_hash", "controls", "error"):
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
            click.echo(f"    {f['status']:<12} {f['resource']}: {f['reason']}")
    if content and "content" in out:
        click.echo(json.dumps(out["content"], indent=2, sort_keys=True))


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many of the newest runs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def runs(c: Ctx, limit: int, as_json: bool) -> None:
    """The newest collection runs and their outcome."""
    from sqlalchemy import select

    from storage.canonical import iso
    from storage.index import runs as runs_t

    with c.store.engine.connect() as conn:
        rows = conn.execute(select(runs_t).order_by(runs_t.c.started_at.desc())
                            .limit(limit)).mappings().all()
    from storage.locks import holder_is_dead

    def state(r: Any) -> str:
        if r["status"] == "running" and holder_is_dead(f"{r['host']}:{r['pid']}"):
            return "interrupted"  # its process died without finishing the run
        return str(r["status"])

    data = [{"id": r["id"], "trigger": r["trigger"], "status": state(r),
             "started_at": iso(r["started_at"]), "finished_at": iso(r["finished_at"]),
             "host": r["host"], "counts": (r["summary"] or {}).get("counts", {})}
            for r in rows]
    if as_json:
        _emit(data)
        return
    for d in data:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(d["counts"].items()))
        click.echo(f"{d['id']}  {d['started_at']}  {d['trigger']:<18} {d['status']:<16} {counts}")


# integrity ------------------------------------------------------------------------------
@cli.command()
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="A seal exported earlier: also check today's chain extends it.")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="Verify seals with this PEM public key instead of the store's own key.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def verify(c: Ctx, against: str | None, public_key: str | None, as_json: bool) -> None:
    """Re-hash every blob, walk the chain, check every seal. Exit 1 naming each problem."""
    from storage.keys import load_public_pem
    from storage.verify import verify as run_verify

    seal = _read_seal(against) if against else None
    pub = load_public_pem(Path(public_key).read_bytes()) if public_key else None
    rep = run_verify(c.store, public=pub, against=seal)
    _report(rep, as_json, f"verified {rep.records} records, {rep.blobs} blobs "
                          f"({rep.blob_bytes} bytes), {rep.seals} seals")
    sys.exit(0 if rep.ok else 1)


@cli.group()
def seal() -> None:
    """Seals: signed statements of the ledger head."""


@seal.command("export")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Write to FILE (default stdout).")
@pass_ctx
def seal_export(c: Ctx, out: str | None) -> None:
    """The newest seal, to keep outside the store (checked later by verify --against)."""
    from sqlalchemy import select

    from storage.index import seals
    from storage.ledger import Seal

    with c.store.engine.connect() as conn:
        s = conn.execute(select(seals).order_by(seals.c.id.desc()).limit(1)).first()
    if s is None:
        raise StorageError("no seal yet: run a collection first")
    text = json.dumps(Seal(int(s.seq), s.head_hash, s.sealed_at, s.run_id, s.key_id,
                           s.signature).to_json(), indent=2) + "\n"
    if out:
        Path(out).write_text(text, "utf-8")
    else:
        click.echo(text, nl=False)


@cli.group()
def key() -> None:
    """The Ed25519 signing key."""


@key.command("export")
@pass_ctx
def key_export(c: Ctx) -> None:
    """Print the public key (PEM) that verifies this store's seals."""
    from storage.keys import key_id, public_pem

    pub = c.store.public_key()
    click.echo(f"# key id {key_id(pub)}", err=True)
    click.echo(public_pem(pub), nl=False)


# fieldwork ------------------------------------------------------------------------------
@cli.command("export")
@click.option("--control", "controls", multiple=True, required=True, metavar="ID",
              help="SOC 2 criterion or your own control ID (repeatable).")
@click.option("--as-of", "as_of", default="now", show_default=True, metavar="T",
              help="ISO 8601 date or datetime, or 'now' (a date means the end of that day).")
@click.option("--since", metavar="T", help="Also include population records overlapping "
                                            "[since, as-of).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="The zip bundle to write.")
@pass_ctx
def export(c: Ctx, controls: tuple[str, ...], as_of: str, since: str | None, out: str) -> None:
    """Write a zip bundle of the evidence for controls, verifiable offline."""
    from fieldwork.bundle import export_bundle
    from storage.queries import parse_time

    when = parse_time(as_of)
    start = parse_time(since, end_of_day=False) if since else None
    crit: list[str] = []
    for ctl in controls:
        crit.extend(x for x in c.config.catalog.resolve(ctl) if x not in crit)
    s = export_bundle(c.store, Path(out), crit, when, start,
                      {"controls": list(controls), "criteria": crit, "as_of": as_of,
                       "since": since})
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
    from storage.keys import load_public_pem

    pinned = load_public_pem(Path(public_key).read_bytes()) if public_key else None
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
    pop = freeze_population(c.store, crit, start, end, snapshot)
    if as_json:
        _emit(pop.to_json())
    else:
        click.echo(f"{control} population {iso(pop.since)}..{iso(pop.until)}: "
                   f"{len(pop.items)} items from {len(pop.sources)} records, "
                   f"sha256 {pop.sha256}")
        for g in pop.gaps:
            click.echo(f"  GAP {g['series']}: {g['start']}..{g['end']} has no complete window")
    sys.exit(0 if pop.complete else 3)


@cli.command()
@click.option("--control", required=True, metavar="ID", help="Criterion or your own control ID.")
@click.option("--since", required=True, metavar="T", help="Period start (inclusive).")
@click.option("--until", required=True, metavar="T",
              help="Period end (exclusive; a date means its start).")
@click.option("--size", required=True, type=int, help="How many items to select.")
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
    row, chosen = record_sample(c.store, pop, size, seed)
    content = c.store.blob_json(row["content_sha256"])
    if as_json:
        _emit({"record_id": row["id"], "seed": content["seed"], "size": size,
               "population": pop.to_json(with_items=False), "selected": chosen})
    else:
        click.echo(f"sample {row['id']}: {len(chosen)} of {len(pop.items)} items, seed "
                   f"{content['seed']}, population sha256 {pop.sha256}")
        for g in pop.gaps:
            click.echo(f"  GAP {g['series']}: {g['start']}..{g['end']}")
        for i in chosen:
            click.echo(f"  {i['series']} {i['time']} {i['id']}")
    sys.exit(0 if pop.complete else 3)


# schedules ------------------------------------------------------------------------------
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
    """Per schedule: last run, outcome, next run; per control: fresh or stale.
    Exits 1 when a schedule missed its window (use it as a health check)."""
    from schedules.status import status as build_status
    from storage.store import utcnow

    rep = build_status(c.config, c.store, utcnow())
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
        for ctl in rep["controls"]:
            if ctl["fresh"]:
                click.echo(f"  {ctl['control']}: fresh")
            else:
                parts = [f"stale: {', '.join(ctl['stale'])}"] if ctl["stale"] else []
                parts += [f"never collected: {', '.join(ctl['never'])}"] if ctl["never"] else []
                click.echo(f"  {ctl['control']}: NOT FRESH ({'; '.join(parts)})")
    sys.exit(0 if rep["healthy"] else 1)


# demo -----------------------------------------------------------------------------------
@cli.command()
@click.option("--dir", "directory", default="evidence-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the demo config and store go.")
def demo(directory: str) -> None:
    """Start local simulators, collect from them, query and verify, then stop them."""
    from collector.demo import run_demo

    sys.exit(run_demo(Path(directory)))


def main() -> None:
    """Entry point of the `evidence` command."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli(prog_name="evidence")

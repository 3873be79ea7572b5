"""The store's integrity and keys: verify, seal, key, runs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from collector.cli.common import (
    Ctx,
    _emit,
    _read_public_key,
    _read_seal,
    _report,
    cli,
    pass_ctx,
    write_output,
)
from collector.errors import ConfigError, StorageError


@cli.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000),
              help="How many of the newest runs (1 to 100000).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def runs(c: Ctx, limit: int, as_json: bool) -> None:
    """The newest collection runs and their outcome."""
    from storage.canonical import iso
    from storage.queries import newest_runs

    rows = newest_runs(c.reader.engine, limit)
    from storage.runlock import held

    def state(r: Any) -> str:
        if r["status"] == "running" and not held(c.reader.engine, str(r["id"])):
            return "interrupted"  # no live process holds its run lock: it died unfinished
        return str(r["status"])

    data = [{"id": r["id"], "trigger": r["trigger"], "status": state(r),
             "started_at": iso(r["started_at"]), "finished_at": iso(r["finished_at"]),
             "host": r["host"], "counts": (r["summary"] or {}).get("counts", {}),
             "warnings": (r["summary"] or {}).get("warnings", [])}
            for r in rows]
    if as_json:
        _emit(data)
        return
    for d in data:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(d["counts"].items()))
        click.echo(f"{d['id']}  {d['started_at']}  {d['trigger']:<18} {d['status']:<16} {counts}")
        for w in d["warnings"]:
            click.echo(f"  WARNING {w}")



@cli.command()
@pass_ctx
def migrate(c: Ctx) -> None:
    """Create the index or bring it to this version's schema (what every writing command
    does first; read commands never do). Safe with concurrent callers."""
    from storage.index import schema_head

    _ = c.store
    click.echo(f"index at schema revision {schema_head()}")


@cli.command()
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="A seal exported earlier: also check today's chain extends it.")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False),
              help="Verify seals with this PEM public key instead of the store's own key.")
@click.option("--since-last", is_flag=True,
              help="Check only what was added since the last clean full verify (its sealed "
                   "checkpoint); fast enough to run after every collection.")
@click.option("--no-checkpoint", is_flag=True,
              help="Do not seal a checkpoint after a clean verify.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def verify(c: Ctx, against: str | None, public_key: str | None, since_last: bool,
           no_checkpoint: bool, as_json: bool) -> None:
    """Re-hash every blob, walk the chain, check every seal and that a seal covers every
    record. Exit 1 naming each problem."""
    from storage.verify import verify as run_verify

    seal = _read_seal(against) if against else None
    pub = _read_public_key(public_key) if public_key else None
    rep = run_verify(c.reader, public=pub, against=seal, since_last=since_last,
                     write_checkpoint=not no_checkpoint)
    scope = f" (since checkpoint #{rep.since_seq})" if since_last else ""
    if not as_json:
        for p in rep.pending:
            click.echo(f"pending {p}", err=True)
        if rep.checkpoint_error:
            click.echo(f"note: no checkpoint sealed ({rep.checkpoint_error})", err=True)
    _report(rep, as_json, f"verified {rep.records} records{scope}, {rep.blobs} blobs "
                          f"({rep.blob_bytes} bytes), {rep.seals} seals, "
                          f"{rep.access_entries} access-log entries (up to "
                          f"#{rep.access_anchored} anchored by a seal)")
    sys.exit(0 if rep.ok else 1)


@cli.group()
def seal() -> None:
    """Seals: signed statements of the ledger head."""


@seal.command("export")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Write to FILE (default stdout); an existing file only with --force.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@pass_ctx
def seal_export(c: Ctx, out: str | None, force: bool) -> None:
    """The newest seal, to keep outside the store (checked later by verify --against)."""
    from storage.ledger import Seal
    from storage.queries import newest_seal_row

    s = newest_seal_row(c.reader.engine)
    if s is None:
        raise StorageError("no seal yet: run a collection first")
    text = json.dumps(Seal.from_row(s).to_json(), indent=2) + "\n"
    if out:
        write_output(out, text.encode(), force)
    else:
        click.echo(text, nl=False)


@seal.command("adopt")
@click.argument("ranges", nargs=-1, required=True, metavar="FIRST[..LAST]...")
@click.option("--reason", required=True, help="Why these records are trusted (kept in the seal).")
@pass_ctx
def seal_adopt(c: Ctx, ranges: tuple[str, ...], reason: str) -> None:
    """Vouch for records no seal covers (left by a crashed run), after checking them.

    Refused unless verify finds nothing wrong but those records being unsealed."""
    from storage.ledger import fmt_ranges, to_ranges
    from storage.verify import verify as run_verify

    seqs: list[int] = []
    for r in ranges:
        a, _, b = r.lstrip("#").partition("..")
        try:
            lo, hi = int(a), int(b.lstrip("#") or a)
        except ValueError:
            raise ConfigError(f"bad range {r!r}: expected N or N..M") from None
        if not 1 <= lo <= hi or hi - lo > 10_000_000:
            raise ConfigError(f"bad range {r!r}")
        seqs.extend(range(lo, hi + 1))
    wanted = to_ranges(seqs)
    rep = run_verify(c.store)
    other = [p for p in rep.problems if p.kind != "unsealed"]
    if other:
        for p in other:
            click.echo(f"PROBLEM {p}")
        raise StorageError("verify found other problems: refusing to adopt anything")
    unsealed = {q for p in rep.problems for q in _span(p.subject)}
    stray = [q for a, b in wanted for q in range(a, b + 1) if q not in unsealed]
    if stray:
        raise ConfigError(f"{fmt_ranges(to_ranges(stray))}: not unsealed records (already "
                          "sealed, pending, or beyond the head)")
    s = c.store.seal(None, purpose="adopt", note=reason[:1000], adopt=wanted)
    click.echo(f"adopted {fmt_ranges(wanted)} in the seal at #{s.seq} (key {s.key_id})")


def _span(subject: str) -> range:
    a, _, b = subject.lstrip("#").partition("..#")
    return range(int(a), int(b or a) + 1)


@cli.group()
def key() -> None:
    """The Ed25519 signing key."""


@key.command("create")
@pass_ctx
def key_create(c: Ctx) -> None:
    """Create the signing key ([signing] key_file, mode 0600) and print its public key.

    Refuses when a key is already there; other commands never create one silently, except a
    collection into a store that was never sealed."""
    from storage.keys import create, key_id, public_pem

    path = c.config.resolve_path(c.config.signing.key_file)
    made = None if path.exists() or path.is_symlink() else create(path)
    if made is None:
        raise ConfigError(f"{path}: a signing key is already there (`evidence key export` "
                          "prints its public key)")
    pub = made.public_key()
    click.echo(f"# key id {key_id(pub)}, private key written to {path}", err=True)
    click.echo(public_pem(pub), nl=False)


@key.command("rotate")
@click.option("--reason", help="Why the key is rotated (kept in the rotation seal).")
@pass_ctx
def key_rotate(c: Ctx, reason: str | None) -> None:
    """Replace the signing key: a new key is made, and a rotation seal signed by the old key
    (and by the new one) is recorded in the ledger and the seal store. The new key then
    takes the key file's place; the old one is kept beside it as KEYFILE.<key id>.retired.

    Verifiers that trust the old key follow the rotation to the new one (and back)."""
    import os

    from storage.keys import create, key_id, load_private, public_pem

    store = c.store
    old = store.key  # the current key: a wrong, missing or exposed key stops here
    path = store.key_path
    fresh = path.with_name(path.name + ".new")
    new = create(fresh)
    if new is None:  # a rotation that stopped before its files were swapped
        new = load_private(fresh)
    seal = store.rotate(new, reason[:1000] if reason else None)
    retired = path.with_name(f"{path.name}.{key_id(old.public_key())}.retired")
    os.replace(path, retired)
    os.replace(fresh, path)
    click.echo(f"# rotated key {key_id(old.public_key())} -> {key_id(new.public_key())} in "
               f"the seal at #{seal.seq}; the old key is at {retired} (keep it offline or "
               "destroy it); give auditors the new public key:", err=True)
    click.echo(public_pem(new.public_key()), nl=False)


@key.command("export")
@pass_ctx
def key_export(c: Ctx) -> None:
    """Print the public key (PEM) that verifies this store's seals (needs only the key file)."""
    from storage.keys import key_id, load_private, public_pem

    path = c.config.resolve_path(c.config.signing.key_file)
    if not path.exists():
        raise ConfigError(f"no signing key at {path} (`evidence key create` makes one)")
    pub = load_private(path).public_key()
    click.echo(f"# key id {key_id(pub)}", err=True)
    click.echo(public_pem(pub), nl=False)

"""The auditor portal and the views every audit opens with: serve, token, coverage, diff."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from collector.cli.common import Ctx, _emit, _warn, cli, pass_ctx, write_output
from collector.errors import ConfigError


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate (chain) to serve HTTPS with.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM private key of --tls-cert.")
@click.option("--insecure-http", is_flag=True,
              help="Allow plain HTTP on a non-loopback address (not recommended).")
@click.option("--checkpoint-every", default=300, show_default=True, metavar="SECONDS",
              type=click.IntRange(1, 86400),
              help="Seal the access log's head this often while it grows (and at shutdown), "
                   "so that verify catches entries cut off its tail.")
@pass_ctx
def serve(c: Ctx, host: str, port: int, tls_cert: str | None, tls_key: str | None,
          insecure_http: bool, checkpoint_every: int) -> None:
    """Serve the read-only auditor portal (HTTP API, OpenAPI at /openapi.json, web page).

    Plain HTTP only on loopback unless --insecure-http; otherwise give --tls-cert and
    --tls-key. Requests need a bearer token from `evidence token create`."""
    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if not tls_cert and not _loopback(host) and not insecure_http:
        raise ConfigError(f"refusing plain HTTP on {host}: give --tls-cert and --tls-key, "
                          "or --insecure-http")
    if tls_cert and tls_key:
        _check_tls(tls_cert, tls_key)
    _check_listen(host, port)
    import uvicorn

    from fieldwork.portal import create_app

    app = create_app(c.config, c.store, checkpoint_every_s=float(checkpoint_every))
    scheme = "https" if tls_cert else "http"
    click.echo(f"evidence portal on {scheme}://{host}:{port}/ (OpenAPI: /openapi.json)",
               err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                log_level="warning", access_log=False, server_header=False)


def _check_tls(cert: str, key: str) -> None:
    """Load the certificate and key as uvicorn will, so that a bad file is one line."""
    import ssl

    def no_passphrase() -> bytes:
        raise ConfigError(f"--tls-key {key}: the key is encrypted; give an unencrypted key "
                          "(mode 0600)")

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cert, key, password=no_passphrase)
    except (ssl.SSLError, OSError) as e:
        why = getattr(e, "reason", None) or getattr(e, "strerror", None) or str(e)
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate and "
                          f"its private key ({why})") from None


def _check_listen(host: str, port: int) -> None:
    """Resolve `host` and bind `port` once before the server does, so that a host that does
    not resolve or a port in use is one line rather than uvicorn's log and exit 3."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind(addr)
    except (OSError, IndexError) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise ConfigError(f"cannot listen on {host}:{port}: {why}") from None


@cli.group()
def token() -> None:
    """Bearer tokens for the portal: create (shown once), list, revoke."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["auditor", "operator"]),
              help="auditor: read, sample, download; operator: also trigger collections.")
@click.option("--name", required=True, help="Who holds it (shown in the access log).")
@click.option("--expires", metavar="T", help="Expiry (ISO 8601 date or datetime).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def token_create(c: Ctx, role: str, name: str, expires: str | None, as_json: bool) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    from storage.access import create_token
    from storage.queries import parse_time

    now = c.store.clock()
    exp = parse_time(expires, now=now) if expires else None
    tok, rec = create_token(c.store.engine, name, role, now, exp)
    if as_json:
        _emit({"token": tok, **rec.to_json()})
        return
    click.echo(tok)
    click.echo(f"token {rec.id} for {name} ({role})"
               + (f", expires {rec.to_json()['expires_at']}" if exp else ", no expiry")
               + ": shown once, keep it safe", err=True)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def token_list(c: Ctx, as_json: bool) -> None:
    """Every token (never the token itself): ID, name, role, expiry, revocation."""
    from storage.access import list_tokens

    toks = list_tokens(c.reader.engine)
    now = c.reader.clock()
    if as_json:
        _emit([t.to_json() | {"active": t.active(now)} for t in toks])
        return
    for t in toks:
        j = t.to_json()
        state = "active" if t.active(now) else ("revoked" if t.revoked_at else "expired")
        click.echo(f"{t.id}  {t.role:<8} {state:<8} {t.name}  created {j['created_at']}"
                   + (f"  expires {j['expires_at']}" if t.expires_at else ""))


@token.command("revoke")
@click.argument("token_id")
@pass_ctx
def token_revoke(c: Ctx, token_id: str) -> None:
    """Revoke a token by its ID (from `evidence token list`)."""
    from storage.access import revoke_token

    t = revoke_token(c.store.engine, token_id, c.store.clock())
    click.echo(f"token {t.id} ({t.name}) revoked at {t.to_json()['revoked_at']}")


MAX_COVERAGE_DAYS = 3660  # day-by-day answers: ten years is already 3653 rows per control


@cli.command()
@click.option("--since", required=True, metavar="T", help="Period start (inclusive).")
@click.option("--until", required=True, metavar="T",
              help="Period end (a date means the end of that day).")
@click.option("--control", "controls", multiple=True, metavar="ID",
              help="Only these controls (repeatable; default: every criterion).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False),
              help="Also write an HTML timeline to this file (an existing one only with "
                   "--force).")
@click.option("--force", is_flag=True, help="Replace an existing --html file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def coverage(c: Ctx, since: str, until: str, controls: tuple[str, ...], html_out: str | None,
             force: bool, as_json: bool) -> None:
    """Was each control evidenced on every day of the period (at most 3660 days)? Exit 3
    when some was not."""
    from collector.controls import criteria
    from fieldwork.coverage import coverage as run_coverage
    from fieldwork.coverage import render_html
    from storage.queries import parse_time

    a = parse_time(since, end_of_day=False)
    b = parse_time(until)
    if a >= b:
        raise ConfigError(f"--since {since} is not before --until {until}")
    if (b - a).days >= MAX_COVERAGE_DAYS:
        raise ConfigError(f"coverage: the period {since}..{until} is longer than "
                          f"{MAX_COVERAGE_DAYS} days: ask for ten years at most")
    if html_out:
        from fieldwork.bundle import check_output_path

        check_output_path(Path(html_out), force)  # before the work, not after it
    wanted = {x: c.config.catalog.resolve(x) for x in controls} if controls else \
        {x: (x,) for x in criteria()}
    cov = run_coverage(c.reader, wanted, a, b)
    _warn(cov["warnings"])
    if html_out:
        write_output(html_out, render_html(cov).encode(), force)
    if as_json:
        _emit(cov)
    else:
        click.echo(f"coverage {cov['since']} .. {cov['until']}")
        for ctl in cov["controls"]:
            s = ctl["summary"]
            if not ctl["series"] and not controls:
                continue
            bad = [f"{st['state']} {st['start'][:10]}..{st['end'][:10]}"
                   for st in ctl["stretches"] if st["state"] != "pass"]
            click.echo(f"  {ctl['control']:<8} {s['fresh_days']}/{s['days']} days fresh"
                       + (f", {s['fail']} failing" if s["fail"] else "")
                       + (": " + "; ".join(bad[:6]) + (" ..." if len(bad) > 6 else "")
                          if bad else ""))
    whole = all(x["summary"]["covered_whole_period"] for x in cov["controls"]
                if x["series"] or controls)
    sys.exit(0 if whole else 3)


@cli.command()
@click.option("--control", required=True, metavar="ID", help="Criterion or your own control ID.")
@click.option("--from", "t1", required=True, metavar="T", help="The earlier instant.")
@click.option("--to", "t2", required=True, metavar="T", help="The later instant.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def diff(c: Ctx, control: str, t1: str, t2: str, as_json: bool) -> None:
    """Per snapshot, the items whose verdict changed between two instants (newly failing,
    fixed, appeared, gone), each with the two record IDs it came from."""
    from fieldwork.diff import diff as run_diff
    from storage.queries import parse_time

    a, b = parse_time(t1), parse_time(t2)
    if a > b:
        raise ConfigError(f"--from {t1} is not before --to {t2}: --from is the earlier "
                          "instant")
    crit = c.config.catalog.resolve(control)
    res = {"control": control, **run_diff(c.reader, crit, a, b)}
    _warn(res["warnings"])
    if as_json:
        _emit(res)
        return
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in res["counts"].items() if v)
    click.echo(f"{control} from {res['from']} to {res['to']}: {counts or 'no change'}")
    for ch in res["changes"]:
        click.echo(f"  {ch['kind']:<18} {ch['series']} {ch['resource']}: "
                   f"{ch['before'] or '-'} -> {ch['after'] or '-'} ({ch['reason']}) "
                   f"[{ch['record_before'] or '-'} -> {ch['record_after'] or '-'}]")

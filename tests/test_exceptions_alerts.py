"""Exceptions (approved, expiring, ledgered, never a pass) and drift alerts delivered to real
local receivers: an HTTP server that checks the HMAC signature and an SMTP server with
STARTTLS and AUTH."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork import exceptions as exc
from fieldwork.coverage import coverage
from storage.queries import as_of, last_deliveries
from storage.store import EvidenceStore
from storage.verify import verify
from tests.clock import Clock

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SERIES = "synthetic/one:items"


def _items(ans: dict[str, Any]) -> dict[str, Any]:
    (rec,) = [r for r in ans["records"] if r["connector"] == "synthetic"]
    return rec


def _failing(store: EvidenceStore) -> list[str]:
    rec = _items(as_of(store.engine, ["CC6.1"], store.clock()))
    r = store.record(rec["id"])
    assert r is not None
    return [f["resource"] for f in store.blob_json(r["findings_sha256"]) if f["status"] == "fail"]


@pytest.fixture
def env(config_file: Callable[..., Path]) -> tuple[Any, EvidenceStore, Clock, Path]:
    path = config_file()
    cfg = load(path)
    clock = Clock(T0)
    store = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    return cfg, store, clock, path


def test_an_excepted_failure_is_excepted_never_pass_and_keeps_its_raw_verdict(env: Any) -> None:
    """A failing resource under an active exception reads `excepted` with its raw `fail`."""
    _, store, clock, _ = env
    victim = _failing(store)[0]
    e = exc.add(store, series=SERIES, resource=victim, reason="break-glass user in a safe",
                approved_by="CISO", expires_at=T0 + timedelta(days=30))
    clock.t = T0 + timedelta(hours=1)
    ans = exc.apply_to_answer(store, as_of(store.engine, ["CC6.1"], clock.t), clock.t)
    rec = _items(ans)
    assert rec["assessment"]["excepted"] == 1
    assert rec["raw_assessment"]["fail"] == rec["assessment"]["fail"] + 1
    assert rec["exceptions"] == [e.id]
    assert rec["raw_assessment"].get("pass") == rec["assessment"].get("pass")


def test_revocation_and_expiry_make_the_finding_count_again(env: Any) -> None:
    """After revocation (or expiry) the finding fails again; as of before, it stays excepted."""
    _, store, clock, _ = env
    victim = _failing(store)[0]
    e = exc.add(store, series=SERIES, resource=victim, reason="r", approved_by="a",
                expires_at=T0 + timedelta(days=2))
    clock.t = T0 + timedelta(hours=1)
    exc.revoke(store, e.id)
    before = T0 + timedelta(minutes=30)
    after = T0 + timedelta(hours=2)
    assert _items(exc.apply_to_answer(store, as_of(store.engine, ["CC6.1"], before), before
                                      ))["assessment"].get("excepted") == 1
    assert "excepted" not in _items(exc.apply_to_answer(
        store, as_of(store.engine, ["CC6.1"], after), after))["assessment"]
    e2 = exc.add(store, series=SERIES, resource=victim, reason="r", approved_by="a",
                 expires_at=T0 + timedelta(days=1))
    late = T0 + timedelta(days=1, hours=1)
    assert not exc.active(store, late)
    assert e2.id not in json.dumps(exc.apply_to_answer(
        store, as_of(store.engine, ["CC6.1"], late), late))


def test_every_exception_change_is_a_sealed_ledger_record(env: Any) -> None:
    """Add and revoke each append a register record; verify passes; the register as of a
    time is the newest record by then."""
    _, store, clock, _ = env
    e = exc.add(store, series=SERIES, resource="item-0000*", reason="r", approved_by="a",
                expires_at=T0 + timedelta(days=10))
    clock.t += timedelta(minutes=5)
    exc.revoke(store, e.id, reason="fixed")
    recs = [r for r in store.iter_records() if r["connector"] == "fieldwork"]
    assert [store.blob_json(r["content_sha256"])["change"]["action"] for r in recs] == \
        ["add", "revoke"]
    assert "CC6.1" in recs[0]["controls"]
    assert verify(store).ok
    assert exc.register(store, T0 + timedelta(minutes=1))[0].revoked_at is None
    assert exc.register(store)[0].revoked_at == clock.t


def test_cli_refuses_exceptions_without_limits(env: Any) -> None:
    """No expiry, beyond the maximum, '*' or an unknown snapshot: one line, exit 2."""
    _, _, _, path = env
    run = CliRunner()
    base = ["-c", str(path), "exception", "add", "--reason", "r", "--approved-by", "a"]
    far = (datetime.now(UTC) + timedelta(days=800)).date().isoformat()
    soon = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    cases = [
        (["--snapshot", SERIES, "--resource", "x"], "Missing option '--expires'"),
        (["--snapshot", SERIES, "--resource", "x", "--expires", far], "more than 365 days"),
        (["--snapshot", SERIES, "--resource", "*", "--expires", soon], "every finding"),
        (["--snapshot", "synthetic/one:nope", "--resource", "x", "--expires", soon],
         "no snapshot 'nope'"),
    ]
    for extra, msg in cases:
        res = run.invoke(cli, base + extra)
        assert res.exit_code == 2, res.output
        assert msg in res.output


def test_cli_add_list_query_show_revoke(env: Any) -> None:
    """The CLI round trip: query and show mark the finding excepted; revoke ends it."""
    _, store, _, path = env
    victim = _failing(store)[0]
    run = CliRunner()
    soon = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    res = run.invoke(cli, ["-c", str(path), "exception", "add", "--snapshot", SERIES,
                           "--resource", victim, "--reason", "demo user", "--approved-by",
                           "CISO", "--expires", soon, "--ticket", "SEC-1", "--json"])
    assert res.exit_code == 0, res.output
    eid = json.loads(res.stdout)["id"]
    q = json.loads(run.invoke(cli, ["-c", str(path), "query", "--control", "CC6.1",
                                    "--json"]).stdout)
    rec = _items(q)
    assert rec["exceptions"] == [eid]
    shown = run.invoke(cli, ["-c", str(path), "show", rec["id"]]).output
    assert f"excepted     {victim}" in shown and f"exception {eid}" in shown
    listed = run.invoke(cli, ["-c", str(path), "exception", "list"]).output
    assert eid in listed and "SEC-1" in listed
    assert run.invoke(cli, ["-c", str(path), "exception", "revoke", eid]).exit_code == 0
    assert "no exceptions in force" in run.invoke(cli, ["-c", str(path), "exception",
                                                        "list"]).output


def test_config_declarations_are_ledgered_when_loaded(config_file: Callable[..., Path]) -> None:
    """A [[exceptions]] entry is written at the next run; a changed one again; a removed one
    is revoked."""
    exp = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    decl = (f'[[exceptions]]\nid = "bg"\nsnapshot = "{SERIES}"\nresource = "item-00004"\n'
            f'reason = "break glass"\napproved_by = "CISO"\nexpires = "{exp}"\n')
    path = config_file(decl)
    cfg = load(path)
    store = EvidenceStore.open(cfg)
    Collector(cfg, store).run(Selection(snapshots=("settings",)))
    (e,) = exc.register(store)
    assert e.id == "cfg:bg" and e.source == "config"
    Collector(cfg, store).run(Selection(snapshots=("settings",)))
    assert sum(r["connector"] == "fieldwork" for r in store.iter_records()) == 1
    path.write_text(path.read_text().replace('"break glass"', '"break glass, in the safe"'))
    cfg = load(path)
    Collector(cfg, store).run(Selection(snapshots=("settings",)))
    assert exc.register(store)[0].reason == "break glass, in the safe"
    path.write_text(path.read_text().replace(decl.replace("break glass", "break glass, in "
                                                          "the safe"), ""))
    cfg = load(path)
    Collector(cfg, store).run(Selection(snapshots=("settings",)))
    assert exc.register(store)[0].revoked_at is not None


def test_config_exception_errors_name_file_line_and_key(config_file: Callable[..., Path]
                                                        ) -> None:
    """A declaration with a bad snapshot is refused at load with file:line and key."""
    from collector.errors import ConfigError

    path = config_file('[[exceptions]]\nid = "x"\nsnapshot = "nope"\nresource = "a"\n'
                       'reason = "r"\napproved_by = "a"\nexpires = "2027-01-01"\n')
    with pytest.raises(ConfigError, match=r"evidence.toml:\d+: exceptions\[0\].snapshot"):
        load(path)


FINDINGS = st.lists(st.fixed_dictionaries({
    "resource": st.sampled_from(["a1", "a2", "b1", "bg-x", "bg-y"]),
    "status": st.sampled_from(["pass", "fail", "inconclusive"]),
    "reason": st.just("r")}), max_size=8)


@settings(max_examples=200, deadline=None)
@given(FINDINGS, st.sampled_from(["a1", "bg-*", "b?", "zz"]),
       st.integers(min_value=-3, max_value=3), st.integers(min_value=-3, max_value=3),
       st.booleans())
def test_apply_only_ever_turns_active_matching_failures_into_excepted(
        findings: list[dict[str, str]], glob: str, start: int, end: int, revoked: bool) -> None:
    """Oracle: a finding changes iff it fails, the exception is active at T (created <= T <
    expires, not revoked by T) and its glob matches; it then reads excepted, never pass."""
    import fnmatch

    t = T0
    e = exc.Exception_("E1", SERIES, glob, "r", "a", t + timedelta(hours=start),
                       t + timedelta(hours=end), revoked_at=t - timedelta(minutes=1)
                       if revoked else None)
    out = exc.apply(findings, "synthetic", "one", "items", [e], t)
    assert out is not None and len(out) == len(findings)
    live = start <= 0 < end and not revoked
    for f, g in zip(findings, out, strict=True):
        hit = live and f["status"] == "fail" and fnmatch.fnmatchcase(f["resource"], glob)
        if hit:
            assert g == {**f, "status": "excepted", "raw_status": "fail", "exception": "E1"}
        else:
            assert g == f
        assert not (f["status"] != "pass" and g["status"] == "pass")
    other = exc.apply(findings, "synthetic", "two", "items", [e], t)
    assert other == findings


def test_coverage_shows_excepted_days_not_passing_days(env: Any) -> None:
    """With every failure excepted, coverage reads `excepted` for those days, never `pass`."""
    _, store, _clock, _ = env
    for res in _failing(store):
        exc.add(store, series=SERIES, resource=res, reason="r", approved_by="a",
                expires_at=T0 + timedelta(days=30))
    cov = coverage(store, {"CC6.1": ("CC6.1",)}, T0 - timedelta(hours=36),
                   T0 + timedelta(hours=11))
    assert cov["controls"][0]["days"] == ["no_evidence", "excepted"]


def test_status_reports_stale_exceptions(env: Any) -> None:
    """An exception for a resource that no longer exists is reported by `evidence status`."""
    cfg, _, _, path = env
    store = EvidenceStore.open(cfg)  # the real clock, as `status` uses
    Collector(cfg, store).run(Selection(snapshots=("items",)))
    exc.add(store, series=SERIES, resource="ghost-user", reason="r", approved_by="a",
            expires_at=datetime.now(UTC) + timedelta(days=30))
    exc.add(store, series=SERIES, resource=_failing(store)[0], reason="r", approved_by="a",
            expires_at=datetime.now(UTC) + timedelta(days=30))
    res = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    stale = json.loads(res.stdout)["stale_exceptions"]
    assert len(stale) == 1 and "'ghost-user' no longer exists" in stale[0]["why"]


# drift alerts ---------------------------------------------------------------------------
class Receiver:
    """A local webhook receiver that checks the HMAC signature of what it gets."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.got: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.fail_first = fail_first
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers.get("X-Evidence-Timestamp", "")
                want = "sha256=" + hmac.new(outer.secret.encode(), ts.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                elif not hmac.compare_digest(want, self.headers.get("X-Evidence-Signature",
                                                                     "")):
                    outer.bad_signatures += 1
                    self.send_response(401)
                else:
                    outer.got.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("EVIDENCE_TEST_HOOK_SECRET", "s3cret-hook-key")
    r = Receiver("s3cret-hook-key")
    yield r
    r.close()


def _alert_config(config_file: Callable[..., Path], url: str, extra: str = "") -> Path:
    return config_file(f'[[alerts]]\nname = "hook"\ntype = "webhook"\nurl = "{url}"\n'
                       'hmac_secret = { env = "EVIDENCE_TEST_HOOK_SECRET" }\n' + extra)


def test_drift_is_sent_signed_and_nothing_when_nothing_changed(
        config_file: Callable[..., Path], receiver: Receiver) -> None:
    """A run that changes verdicts sends newly failing and fixed items, signed; an unchanged
    run sends nothing; the delivery shows in status data."""
    path = _alert_config(config_file, receiver.url)
    clock = Clock(T0)
    cfg = load(path)
    store = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    assert receiver.got == []  # first evidence: nothing to compare with
    path.write_text(path.read_text().replace("items = 25", 'items = 25\nseed = "t"'))
    cfg = load(path)
    clock.t += timedelta(hours=1)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    assert receiver.bad_signatures == 0 and len(receiver.got) == 1
    kinds = {i["kind"] for i in receiver.got[0]["items"]}
    assert kinds <= {"newly_failing", "fixed"} and "newly_failing" in kinds
    assert all(i["record_before"] and i["record_after"] for i in receiver.got[0]["items"])
    body = json.dumps(receiver.got[0])
    assert "mfa" not in body and "s3cret" not in body  # names and reasons, never content
    clock.t += timedelta(hours=1)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    assert len(receiver.got) == 1
    assert last_deliveries(store.engine)["hook"]["ok"] is True


def test_a_failing_sink_is_retried_and_never_fails_the_collection(
        config_file: Callable[..., Path], receiver: Receiver) -> None:
    """A sink answering 503 twice then 204 is retried; a dead sink is logged and recorded,
    and the run still succeeds and is sealed."""
    receiver.fail_first = 2
    path = _alert_config(config_file, receiver.url, 'attempts = 3\n')
    clock = Clock(T0)
    cfg = load(path)
    store = EvidenceStore.open(cfg, clock=clock)
    from fieldwork.alerts import deliver, test_payload

    ok, attempts, err = deliver(cfg.alerts[0], test_payload(), store, sleep=lambda s: None)
    assert ok and attempts == 3 and err is None and len(receiver.got) == 1
    dead = path.read_text().replace(receiver.url, "http://127.0.0.1:9/hook")
    path.write_text(dead)
    cfg = load(path)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    path.write_text(dead.replace("items = 25", 'items = 25\nseed = "t"'))
    cfg = load(path)
    clock.t += timedelta(hours=1)
    summary = Collector(cfg, store, clock=clock).run(Selection(snapshots=("items",)))
    assert summary.ok and summary.seal_seq is not None
    d = last_deliveries(store.engine)["hook"]
    assert d["ok"] is False and d["attempts"] == 3 and "127.0.0.1:9" not in (d["error"] or "")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.now(UTC) - timedelta(days=1))
            .not_valid_after(datetime.now(UTC) + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    c, k = tmp / "smtp.crt", tmp / "smtp.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


def test_email_alert_over_starttls_with_auth(config_file: Callable[..., Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`alerts test` sends mail through a real SMTP server that requires STARTTLS and AUTH
    (the password given by reference)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append((session.authenticated, envelope.mail_from, envelope.rcpt_tos,
                        envelope.content.decode()))
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"alerts" and \
            data.password == b"mail-pass-123"
        return AuthResult(success=ok)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=True, authenticator=auth, auth_require_tls=True)
    ctl.start()
    try:
        monkeypatch.setenv("EVIDENCE_TEST_SMTP_PASS", "mail-pass-123")
        path = config_file(f'[[alerts]]\nname = "mail"\ntype = "email"\n'
                           f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
                           f'tls_ca_file = "{cert}"\nusername = "alerts"\n'
                           'password = { env = "EVIDENCE_TEST_SMTP_PASS" }\n'
                           'from_addr = "evidence@example.test"\nto = ["soc@example.test"]\n')
        res = CliRunner().invoke(cli, ["-c", str(path), "alerts", "test"])
        assert res.exit_code == 0, res.output
        assert "mail (email): delivered" in res.output
    finally:
        ctl.stop()
    (authed, sender, rcpts, body) = got[0]
    assert authed and sender == "evidence@example.test" and rcpts == ["soc@example.test"]
    assert "test alert" in body and "mail-pass-123" not in body


def test_sink_filters_choose_items() -> None:
    """Severity, control and connector filters each drop what the sink did not ask for."""
    from collector.config import AlertSink, parse
    from fieldwork.alerts import Item, select_items

    cfg = parse('[[connectors]]\ntype = "synthetic"\ninstance = "one"\n')
    items = [Item("fixed", SERIES, "a", "r", ("CC6.1",)),
             Item("newly_failing", SERIES, "b", "r", ("CC6.1",)),
             Item("stale", "synthetic/one:settings", "c", "r", ("CC7.2",))]
    base = {"name": "s", "type": "slack", "url_secret": {"env": "X"}}
    high = AlertSink.model_validate(base | {"min_severity": "high"})
    assert [i.resource for i in select_items(high, items, cfg)] == ["b"]
    cc72 = AlertSink.model_validate(base | {"controls": ["CC7.2"]})
    assert [i.resource for i in select_items(cc72, items, cfg)] == ["c"]
    other = AlertSink.model_validate(base | {"connectors": ["aws"]})
    assert select_items(other, items, cfg) == []


def test_exception_expiring_within_a_week_alerts_once(config_file: Callable[..., Path],
                                                      receiver: Receiver) -> None:
    """An exception entering its last 7 days is announced by the next run, and only once."""
    path = _alert_config(config_file, receiver.url)
    clock = Clock(T0)
    cfg = load(path)
    store = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, store, clock=clock).run(Selection(snapshots=("settings",)))
    exc.add(store, series=SERIES, resource="item-00004", reason="r", approved_by="a",
            expires_at=T0 + timedelta(days=8))
    for hours in (12, 36, 48):
        clock.t = T0 + timedelta(hours=hours)
        Collector(cfg, store, clock=clock).run(Selection(snapshots=("settings",)))
    expiring = [i for p in receiver.got for i in p["items"] if i["kind"] == "exception_expiring"]
    assert len(expiring) == 1 and "expires" in expiring[0]["reason"]
    assert dt.timedelta(days=7) < dt.timedelta(days=8)

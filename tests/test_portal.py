"""The auditor portal over a real socket: tokens and roles, evidence, records, populations,
samples, bundles, coverage, diff, the chained access log, and clean JSON errors."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.bundle import verify_bundle
from fieldwork.portal import create_app
from storage import access
from storage.index import access_log
from storage.store import EvidenceStore
from storage.verify import verify
from tests.clock import Clock
from tests.portal_server import serving

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _seed(config_file: Callable[..., Path], tmp_path: Path) -> tuple[Any, EvidenceStore, Clock]:
    """Two days of evidence: seed "s" on day 1, seed "t" (other MFA flags) on day 2."""
    path = config_file()
    cfg = load(path)
    clock = Clock(T0)
    st = EvidenceStore.open(cfg, clock=clock)
    Collector(cfg, st, clock=clock).run(Selection())
    clock.t = T0 + timedelta(days=1)
    path.write_text(path.read_text().replace("items = 25", 'items = 25\nseed = "t"'))
    cfg = load(path)
    Collector(cfg, st, clock=clock).run(Selection())
    clock.t = T0 + timedelta(days=1, hours=1)
    return cfg, st, clock


@pytest.fixture
def portal(config_file: Callable[..., Path], tmp_path: Path
           ) -> Iterator[tuple[str, EvidenceStore, dict[str, str], Clock]]:
    cfg, st, clock = _seed(config_file, tmp_path)
    toks = {
        "auditor": access.create_token(st.engine, "Ann Auditor", "auditor", clock.t)[0],
        "operator": access.create_token(st.engine, "Otto Operator", "operator", clock.t)[0],
        "expired": access.create_token(st.engine, "Old", "auditor", clock.t - timedelta(days=2),
                                       clock.t - timedelta(hours=1))[0],
    }
    with serving(create_app(cfg, st, clock=clock)) as base:
        yield base, st, toks, clock


def _h(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def test_requests_without_a_valid_token_get_401_json(portal: Any) -> None:
    """No token, a made-up token and an expired token are each refused with a JSON 401."""
    base, _, toks, _ = portal
    for headers in ({}, _h("evd_made-up"), _h(toks["expired"]), {"Authorization": "Basic x"}):
        r = httpx.get(f"{base}/api/controls", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["status"] == 401
        assert "traceback" not in r.text.lower()


def test_a_revoked_token_stops_working(portal: Any) -> None:
    """Revoking a token makes the next request with it fail."""
    base, st, _, clock = portal
    tok, rec = access.create_token(st.engine, "Temp", "auditor", clock.t)
    assert httpx.get(f"{base}/api/whoami", headers=_h(tok)).json()["name"] == "Temp"
    access.revoke_token(st.engine, rec.id, clock.t)
    assert httpx.get(f"{base}/api/whoami", headers=_h(tok)).status_code == 401


def test_only_operators_trigger_collections(portal: Any) -> None:
    """An auditor token gets 403 on /api/collect; an operator token starts a run."""
    base, _st, toks, _ = portal
    r = httpx.post(f"{base}/api/collect", json={}, headers=_h(toks["auditor"]))
    assert r.status_code == 403 and "operator" in r.json()["error"]["message"]
    r = httpx.post(f"{base}/api/collect", json={"controls": ["CC7.2"]},
                   headers=_h(toks["operator"]))
    assert r.status_code == 202
    for _ in range(200):
        runs = httpx.get(f"{base}/api/runs", headers=_h(toks["auditor"])).json()
        if runs[0]["trigger"].startswith("portal:") and runs[0]["status"] != "running":
            break
        import time

        time.sleep(0.05)
    assert runs[0]["trigger"] == "portal:Otto Operator"


def test_evidence_as_of_a_date_matches_the_store(portal: Any) -> None:
    """Evidence for CC6.1 as of day 1 names day 1's record; as of day 2, day 2's."""
    base, st, toks, _ = portal
    d1 = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1", "as_of": "2026-03-10"},
                   headers=_h(toks["auditor"])).json()
    d2 = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1", "as_of": "2026-03-11"},
                   headers=_h(toks["auditor"])).json()
    (r1,) = [r for r in d1["records"] if r["snapshot"] == "items"]
    (r2,) = [r for r in d2["records"] if r["snapshot"] == "items"]
    assert r1["id"] != r2["id"] and r1["seq"] < r2["seq"]
    assert st.record(r1["id"])["collected_finished_at"] <= datetime(2026, 3, 11, tzinfo=UTC)


def test_record_content_and_provenance_are_the_stored_bytes(portal: Any) -> None:
    """/content returns the blob whose SHA-256 the record names; the record carries its IPE."""
    import hashlib

    base, _st, toks, _ = portal
    ev = httpx.get(f"{base}/api/evidence", params={"control": "CC6.1"},
                   headers=_h(toks["auditor"])).json()
    rid = ev["records"][0]["id"]
    rec = httpx.get(f"{base}/api/records/{rid}", headers=_h(toks["auditor"])).json()
    assert rec["provenance"]["principal"] == "synthetic:tester"
    assert rec["findings"] and {f["status"] for f in rec["findings"]} <= {"pass", "fail"}
    body = httpx.get(f"{base}/api/records/{rid}/content", headers=_h(toks["auditor"])).content
    assert hashlib.sha256(body).hexdigest() == rec["content_sha256"]


def test_bad_input_gets_a_4xx_json_error(portal: Any) -> None:
    """Unknown control, malformed date, unknown record and oversized page: 4xx with JSON."""
    base, _, toks, _ = portal
    h = _h(toks["auditor"])
    cases = [
        ("/api/evidence", {"control": "CC99.9"}, 404),
        ("/api/evidence", {"control": "CC6.1", "as_of": "yesterday-ish"}, 400),
        ("/api/evidence", {"control": "CC6.1", "as_of": "0001-01-01T00:00:00+01:00"}, 400),
        ("/api/records/nope", {}, 404),
        ("/api/population", {"control": "CC8.1", "since": "2026-03-01", "until": "2026-03-12",
                             "items": 10**7}, 422),
        ("/api/coverage", {"since": "2026-03-12", "until": "2026-03-01"}, 400),
    ]
    for path, params, status in cases:
        r = httpx.get(base + path, params=params, headers=h)
        assert r.status_code == status, (path, params, r.text)
        assert r.json()["error"]["message"]


def test_sample_drawn_in_the_portal_is_ledgered_with_the_auditors_seed(portal: Any) -> None:
    """A sample drawn with the auditor's own seed is a sealed ledger record naming the token."""
    base, st, toks, _ = portal
    body = {"control": "CC8.1", "since": "2026-03-08", "until": "2026-03-11", "size": 5,
            "seed": "auditor-seed-42"}
    r = httpx.post(f"{base}/api/samples", json=body, headers=_h(toks["auditor"]))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["seed"] == "auditor-seed-42" and len(s["selected"]) == 5
    rec = st.record(s["record"])
    assert rec is not None and rec["connector"] == "fieldwork"
    assert st.blob_json(rec["ipe_sha256"])["principal"].startswith("portal token Ann Auditor")
    again = httpx.post(f"{base}/api/samples", json=body, headers=_h(toks["auditor"])).json()
    assert [i["id"] for i in again["selected"]] == [i["id"] for i in s["selected"]]


def test_downloaded_bundle_verifies_offline(portal: Any, tmp_path: Path) -> None:
    """The bundle the API sends is a zip that verify-bundle accepts with the store's key."""
    base, st, toks, _ = portal
    r = httpx.get(f"{base}/api/export", params={"control": ["CC6.1", "CC7.2"]},
                  headers=_h(toks["auditor"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    out = tmp_path / "b.zip"
    out.write_bytes(r.content)
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    rep = verify_bundle(out, pinned=st.public_key())
    assert rep.ok, rep.problems
    assert rep.records >= 2


def test_every_request_is_in_the_chained_access_log(portal: Any) -> None:
    """Allowed and refused requests are logged with who and the result; verify checks it."""
    base, st, toks, _ = portal
    httpx.get(f"{base}/api/controls", headers=_h(toks["auditor"]))
    httpx.get(f"{base}/api/controls")
    rows = list(access.iter_access(st.engine))
    assert [(r["who"], r["status"]) for r in rows[-2:]] == [("Ann Auditor", 200),
                                                           ("anonymous", 401)]
    n, problems = access.verify_access_log(st.engine)
    assert n == len(rows) and problems == []
    assert verify(st).ok


def test_an_edited_access_log_entry_is_named_by_verify(portal: Any) -> None:
    """Changing who made a request breaks the access log's chain, and verify says which."""
    base, st, toks, _ = portal
    for _ in range(3):
        httpx.get(f"{base}/api/whoami", headers=_h(toks["auditor"]))
    with st.engine.begin() as conn:
        conn.execute(update(access_log).where(access_log.c.seq == 2).values(who="someone else"))
    rep = verify(st)
    assert not rep.ok
    assert any(p.kind == "access-log" and "#2" in str(p) for p in rep.problems)


def test_openapi_document_lists_the_api(portal: Any) -> None:
    """/openapi.json is served without a token and documents every API path."""
    base, _, _, _ = portal
    doc = httpx.get(f"{base}/openapi.json").json()
    for path in ("/api/controls", "/api/evidence", "/api/records/{record_id}",
                 "/api/population", "/api/samples", "/api/export", "/api/coverage",
                 "/api/diff", "/api/verify", "/api/collect"):
        assert path in doc["paths"], path


def test_coverage_and_diff_over_the_api(portal: Any) -> None:
    """Coverage shows fresh days for CC6.1 and none before collection; diff names changes."""
    base, _, toks, _ = portal
    cov = httpx.get(f"{base}/api/coverage", params={"since": "2026-03-08",
                                                    "until": "2026-03-11",
                                                    "control": "CC6.1"},
                    headers=_h(toks["auditor"])).json()
    (c,) = cov["controls"]
    assert c["days"][:2] == ["no_evidence", "no_evidence"]
    assert c["days"][2] in {"pass", "fail"} and c["summary"]["fresh_days"] == 2
    d = httpx.get(f"{base}/api/diff", params={"control": "CC6.1", "from": "2026-03-10",
                                              "to": "2026-03-11"},
                  headers=_h(toks["auditor"])).json()
    assert d["changes"], "seeds s and t give different MFA flags"
    assert all(ch["record_before"] and ch["record_after"] for ch in d["changes"])


def test_token_cli_prints_once_and_stores_only_the_hash(config_file: Callable[..., Path]
                                                        ) -> None:
    """`token create` prints the token; the index holds only its hash; list never shows it."""
    path = config_file()
    run = CliRunner()
    res = run.invoke(cli, ["-c", str(path), "token", "create", "--role", "auditor",
                           "--name", "A", "--expires", "2099-01-01", "--json"])
    assert res.exit_code == 0, res.output
    tok = json.loads(res.stdout)["token"]
    listed = run.invoke(cli, ["-c", str(path), "token", "list", "--json"])
    assert tok not in listed.output and json.loads(listed.stdout)[0]["active"] is True
    db = b"".join(p.read_bytes() for p in path.parent.glob("index.db*"))  # with the WAL
    assert tok.encode() not in db and access.token_hash(tok).encode() in db
    bad = run.invoke(cli, ["-c", str(path), "token", "create", "--role", "auditor",
                           "--name", "B", "--expires", "2001-01-01"])
    assert bad.exit_code == 2 and "not in the future" in bad.output


def test_serve_refuses_plain_http_off_loopback(config_file: Callable[..., Path]) -> None:
    """`serve --host 0.0.0.0` without TLS is refused with one line (exit 2)."""
    res = CliRunner().invoke(cli, ["-c", str(config_file()), "serve", "--host", "0.0.0.0"])
    assert res.exit_code == 2 and "plain HTTP" in res.output


def test_serve_speaks_tls_with_the_given_certificate(config_file: Callable[..., Path],
                                                     tmp_path: Path) -> None:
    """`evidence serve --tls-cert --tls-key` answers HTTPS with that certificate, and a
    plain-HTTP request to the same port gets no answer from the API."""
    import socket
    import subprocess
    import sys
    import time

    from tests.conftest import subprocess_env
    from tests.test_exceptions_alerts import _self_signed

    cert, key = _self_signed(tmp_path)
    path = config_file()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exe = Path(sys.executable).parent / "evidence"
    proc = subprocess.Popen([str(exe), "-c", str(path), "serve", "--port", str(port),
                             "--tls-cert", str(cert), "--tls-key", str(key)],
                            env=subprocess_env(), stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/openapi.json", verify=str(cert))
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["info"]["title"]
        assert httpx.get(f"https://127.0.0.1:{port}/api/controls",
                         verify=str(cert)).status_code == 401
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/controls", timeout=3).json()
    finally:
        proc.terminate()
        proc.wait(10)

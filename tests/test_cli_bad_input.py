"""Bad input, each through the real `evidence` command (a subprocess, or click's runner on
real files): one line naming the problem (a JSON object under --json), exit 2 for usage and
config errors, nothing stored lost or half-written, no secret in any output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.cli import cli
from tests.conftest import subprocess_env

STORE = ('[store]\nindex_url = "sqlite:///index.db"\nblob_dir = "blobs"\n'
         '[signing]\nkey_file = "signing.key"\n')
SYNTHETIC = '[[connectors]]\ntype = "synthetic"\ninstance = "one"\n'


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _evidence(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The real command in its own process."""
    exe = str(Path(sys.executable).with_name("evidence"))
    r = subprocess.run([exe, *args], capture_output=True, text=True,
                       env=subprocess_env(**(env or {})), timeout=120)
    return r.returncode, r.stdout, r.stderr


def _one_line(code: int, out: str, err: str, want_code: int, message: str,
              as_json: bool = False) -> None:
    assert code == want_code, (out, err)
    assert "Traceback" not in out + err, err
    assert err.count("\n") == 1 and err.startswith("evidence: error: ") and message in err, err
    if as_json:
        obj = json.loads(out)
        assert obj["ok"] is False and obj["exit"] == want_code and message in obj["error"]
    else:
        assert out == ""


def _config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "evidence.toml"
    p.write_text(text)
    return p


# -- the config ------------------------------------------------------------------------------

def test_config_not_utf8_is_one_line(tmp_path: Path) -> None:
    """A config file that is not UTF-8 (a UTF-16 export, a binary): one line, exit 2."""
    p = tmp_path / "evidence.toml"
    p.write_bytes(b"\xff\xfe[\x00s\x00t\x00o\x00r\x00e\x00]\x00\n")
    for as_json in (False, True):
        code, out, err = _evidence("-c", str(p), "controls", *(["--json"] if as_json else []))
        _one_line(code, out, err, 2, f"{p}: cannot read config: not UTF-8 text (byte 0xff at "
                                     "offset 0)", as_json)


@pytest.mark.parametrize(("body", "message"), [
    ('[collector]\nconcurrency = "4"\n', ':7: collector.concurrency: expected an integer, '
                                         "not a string (got '4')"),
    ("[collector]\nconcurrency = true\n", ":7: collector.concurrency: expected an integer, "
                                          "not true/false (got True)"),
    ('[collector]\nbackoff_seconds = "1.5"\n', ":7: collector.backoff_seconds: expected a "
                                               "number, not a string (got '1.5')"),
])
def test_config_scalars_are_not_coerced(tmp_path: Path, body: str, message: str) -> None:
    """A number written as a string or a boolean is refused with file, line, key and value,
    rather than silently taken for another number."""
    p = _config(tmp_path, STORE + body)
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}{message}")


def test_connector_scalars_are_not_coerced(tmp_path: Path) -> None:
    """The same for a connector's own keys (a flag written as 1, a count as a string)."""
    p = _config(tmp_path, STORE + '[[connectors]]\ntype = "okta"\norg_url = '
                '"https://acme.okta.com"\ntoken = { env = "T" }\nallow_http = 1\n')
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}:10: connectors[0].allow_http: expected true or false "
                                 "(got 1)")
    p = _config(tmp_path, STORE + '[[connectors]]\ntype = "okta"\norg_url = '
                '"https://acme.okta.com"\ntoken = { env = "T" }\npage_limit = "200"\n')
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}:10: connectors[0].page_limit: expected an integer, not "
                                 "a string (got '200')")


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_config_infinite_seconds_are_refused(tmp_path: Path, value: str) -> None:
    """`timeout_seconds = inf` (a key with no upper bound) would wait forever: refused."""
    p = _config(tmp_path, STORE + '[[connectors]]\ntype = "jira"\nurl = "https://j.example"'
                f'\njql = "project = CHG"\ntimeout_seconds = {value}\n')
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}:10: connectors[0].timeout_seconds: Input should be a "
                                 "finite number")


def test_schedule_misfire_grace_is_bounded(tmp_path: Path) -> None:
    """A grace period beyond any calendar (2**64 s) is refused when the config is read, not
    by a traceback when the scheduler starts."""
    p = _config(tmp_path, STORE + SYNTHETIC + '[[schedule]]\nname = "a"\ncron = "* * * * *"\n'
                "misfire_grace_seconds = 18446744073709551616\n")
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}:12: schedule[0].misfire_grace_seconds: Input should be "
                                 "less than or equal to 2678400")


@pytest.mark.parametrize("url", ["https://bot:hunter2@hooks.example/x",
                                 "https://hooks.example/x?token=hunter2",
                                 "https://hooks.example/x?a=1&Password=hunter2"])
def test_webhook_url_with_credentials_is_refused(tmp_path: Path, url: str) -> None:
    """A webhook URL carrying a password or token is refused when the config is read (it is
    shown by `alerts test`, stored with each delivery and quoted by errors), never echoed."""
    p = _config(tmp_path, STORE + SYNTHETIC + f'[[alerts]]\nname = "a"\ntype = "webhook"\n'
                f'url = "{url}"\nhmac_secret = {{ env = "K" }}\n')
    for args in (["alerts", "test"], ["controls", "--json"]):
        code, out, err = _evidence("-c", str(p), *args, env={"K": "k"})
        _one_line(code, out, err, 2, f"{p}:12: alerts[0].url: holds a credential",
                  "--json" in args)
        assert "hunter2" not in out + err


def test_index_url_port_out_of_range_is_a_config_error(tmp_path: Path) -> None:
    """`:99999` is no port: refused with the file and line (exit 2), not at connect time."""
    p = _config(tmp_path, '[store]\nindex_url = "postgresql+psycopg://u@127.0.0.1:99999/db"\n')
    code, out, err = _cli("-c", str(p), "runs")
    _one_line(code, out, err, 2, f"{p}:2: store.index_url: port 99999 is out of range "
                                 "(1 to 65535)")


@pytest.mark.parametrize(("ref", "message"), [
    ('{ env = "EVIDENCE_TEST_NOT_SET" }', "secret environment variable EVIDENCE_TEST_NOT_SET "
                                          "is not set"),
    ('{ file = "/nonexistent/pw" }', "secret file /nonexistent/pw cannot be read: No such file "
                                     "or directory"),
])
def test_index_password_error_names_the_config_key(tmp_path: Path, ref: str, message: str
                                                   ) -> None:
    """A missing index password names the config file and key, not only the variable."""
    p = _config(tmp_path, '[store]\nindex_url = "postgresql+psycopg://u@127.0.0.1:1/db"\n'
                f"index_password = {ref}\n")
    code, out, err = _cli("-c", str(p), "runs")
    _one_line(code, out, err, 2, f"{p}: store.index_password: {message}")


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfehunter2", "is not UTF-8 text"),
    (b"\n", "is empty"),
])
def test_index_password_file_not_text_or_empty(tmp_path: Path, data: bytes, message: str
                                               ) -> None:
    """A password file that is binary or empty: one line naming it, never its bytes."""
    pw = tmp_path / "pw"
    pw.write_bytes(data)
    p = _config(tmp_path, '[store]\nindex_url = "postgresql+psycopg://u@127.0.0.1:1/db"\n'
                f'index_password = {{ file = "{pw}" }}\n')
    code, out, err = _evidence("-c", str(p), "runs")
    _one_line(code, out, err, 2, f"store.index_password: secret file {pw} {message}")
    assert "hunter2" not in err


# -- command options and output files -----------------------------------------------------

@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one sealed collection (shared: the tests below only read it, or write
    files outside it)."""
    d = tmp_path_factory.mktemp("store")
    p = _config(d, STORE + SYNTHETIC + "items = 25\n")
    assert _cli("-c", str(p), "key", "create")[0] == 0
    assert _cli("-c", str(p), "collect")[0] == 0
    return p


@pytest.mark.parametrize("args", [
    ["verify", "--no-checkpoint"],
    ["verify-bundle", "BUNDLE"],
])
@pytest.mark.parametrize("as_json", [False, True])
def test_public_key_that_is_no_key_is_a_usage_error(collected: Path, tmp_path: Path,
                                                    args: list[str], as_json: bool) -> None:
    """`--public-key` naming a file that is no PEM public key (text, binary, the private
    key): one line naming the file, exit 2 (bad input, not a verification failure)."""
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    argv = [bundle.as_posix() if a == "BUNDLE" else a for a in args]
    for data in (b"not a key\n", b"\xff\xfe\x00", (collected.parent / "signing.key").read_bytes()):
        pem = tmp_path / "k.pem"
        pem.write_bytes(data)
        code, out, err = _cli("-c", str(collected), *argv, "--public-key", str(pem),
                              *(["--json"] if as_json else []))
        _one_line(code, out, err, 2, f"{pem}: not a PEM Ed25519 public key", as_json)


@pytest.mark.parametrize("size", [str(2 ** 64), "10000000001"])
def test_sample_size_out_of_range_is_a_usage_error(collected: Path, size: str) -> None:
    """`sample --size 2**64` named the JSON canonicalizer's limit and exited 1; it is a bad
    option value (exit 2) and nothing is ledgered."""
    before = _cli("-c", str(collected), "runs", "--json")[1]
    code, out, err = _cli("-c", str(collected), "sample", "--control", "CC8.1", "--since",
                          "2026-01-01", "--until", "2026-02-01", "--size", size, "--json")
    _one_line(code, out, err, 2, f"Invalid value for '--size': {size} is not in the range "
                                 "1<=x<=1000000000", True)
    assert _cli("-c", str(collected), "runs", "--json")[1] == before


def test_diff_from_after_to_is_refused(collected: Path) -> None:
    """`diff --from` is the earlier instant: given the later one, the answer read every item
    as `gone`; refused, one line, exit 2."""
    code, out, err = _cli("-c", str(collected), "diff", "--control", "CC6.1", "--from",
                          "2026-12-01", "--to", "2026-01-01", "--json")
    _one_line(code, out, err, 2, "--from 2026-12-01 is not before --to 2026-01-01", True)


def test_coverage_of_centuries_is_refused(collected: Path) -> None:
    """`coverage --since 1970-01-01 --until 9998-12-31` ran for minutes, day by day: a
    period longer than ten years is refused at once."""
    code, out, err = _cli("-c", str(collected), "coverage", "--since", "1970-01-01",
                          "--until", "9998-12-31", "--json")
    _one_line(code, out, err, 2, "coverage: the period 1970-01-01..9998-12-31 is longer than "
                                 "3660 days", True)


def _write_commands(collected: Path, out: Path) -> list[list[str]]:
    c = ["-c", str(collected)]
    return [[*c, "seal", "export", "-o", str(out)],
            [*c, "coverage", "--since", "2026-11-01", "--until", "2026-11-02", "--html",
             str(out)],
            [*c, "export", "--control", "CC6.1", "-o", str(out)]]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_output_files_are_never_clobbered(collected: Path, tmp_path: Path, which: int
                                          ) -> None:
    """`seal export -o` and `coverage --html` (like `export -o`) replace an existing file
    only with --force, never anything but a regular file, and leave nothing behind when they
    cannot write (a folder that is a file: not "exists", no traceback)."""
    kept = tmp_path / "kept.json"
    kept.write_text("the seal an auditor kept\n")
    code, out, err = _cli(*_write_commands(collected, kept)[which])
    assert code == 2 and err == f"evidence: error: {kept} exists: refusing to overwrite it " \
                                "(use --force)\n", err
    assert kept.read_text() == "the seal an auditor kept\n"
    code, out, err = _cli(*_write_commands(collected, kept)[which], "--force")
    assert code in (0, 3) and kept.read_bytes() != b"the seal an auditor kept\n", err
    for target in (Path("/dev/null"), tmp_path / "link"):
        if target.name == "link":
            target.symlink_to(kept)
        code, out, err = _cli(*_write_commands(collected, target)[which], "--force")
        _one_line(code, out, err, 2, f"{target} exists and is not a regular file: refusing "
                                     "to replace it")
    d = tmp_path / "d"
    d.mkdir()
    (d / "file").write_text("x")
    for where, why in ((d / "file" / "x.json", f"{d / 'file'} is not a folder"),
                       (d / "file" / "sub" / "x.json", "Not a directory")):
        code, out, err = _cli(*_write_commands(collected, where)[which])
        _one_line(code, out, err, 1, f"cannot write {where}: {why}")
    assert sorted(p.name for p in d.iterdir()) == ["file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "kept.json", "link"]


# -- a store on read-only media -------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["collect"],
    ["collect", "--json"],
    ["sample", "--control", "CC8.1", "--since", "2026-01-01", "--until", "2026-02-01",
     "--size", "2", "--json"],
    ["token", "create", "--role", "auditor", "--name", "x"],
    ["token", "revoke", "nope"],
    ["key", "rotate"],
    ["exception", "add", "--snapshot", "synthetic/one:items", "--resource", "item-1",
     "--reason", "r", "--approved-by", "me", "--expires",
     (datetime.now(UTC) + timedelta(days=30)).date().isoformat()],
])
def test_writing_commands_on_read_only_media_are_one_line(collected: Path, tmp_path: Path,
                                                          args: list[str]) -> None:
    """A command that must write, on a store whose media is read-only: one line naming the
    cause, exit 1 (a JSON object under --json), nothing changed (was a traceback)."""
    from tests.mounts import tmpfs

    with tmpfs(tmp_path / "ro", size="20m", seed=collected.parent, read_only=True) as ro:
        before = sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in ro.rglob("*"))
        code, out, err = _evidence("-c", str(ro / collected.name), *args)
        assert code in (1, 2), err
        _one_line(code, out, err, code, "", "--json" in args)
        assert "read-only" in err.lower() or "readonly" in err.lower() or \
            "no token with ID" in err, err
        assert sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                      for p in ro.rglob("*")) == before


# -- the portal's own start --------------------------------------------------------------

@pytest.mark.parametrize("which", ["cert", "key", "both"])
def test_serve_with_a_bad_tls_file_is_one_line(collected: Path, tmp_path: Path, which: str
                                               ) -> None:
    """`serve --tls-cert/--tls-key` naming files that are no PEM certificate or key: one line
    naming them, exit 2, before anything listens (was a 57-line traceback from uvicorn)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "localhost")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(k, hashes.SHA256()))
    good_cert, good_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    good_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    good_key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a pem\n")
    c = garbage if which in ("cert", "both") else good_cert
    key = garbage if which in ("key", "both") else good_key
    code, out, err = _evidence("-c", str(collected), "serve", "--port", "0", "--tls-cert",
                               str(c), "--tls-key", str(key))
    _one_line(code, out, err, 2, f"--tls-cert {c} / --tls-key {key}: not a PEM certificate "
                                 "and its private key")


def test_serve_on_a_port_in_use_is_one_line(collected: Path) -> None:
    """A port another process holds, or a host that does not resolve: one line, exit 2."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, out, err = _evidence("-c", str(collected), "serve", "--port", str(port))
        _one_line(code, out, err, 2, f"cannot listen on 127.0.0.1:{port}: ")
    code, out, err = _evidence("-c", str(collected), "serve", "--host", "no-such-host.invalid",
                               "--insecure-http", "--port", "0")
    _one_line(code, out, err, 2, "cannot listen on no-such-host.invalid:0: ")


# -- secrets in what is stored -----------------------------------------------------------

def test_a_token_in_a_connectors_url_is_not_stored(tmp_path: Path) -> None:
    """A connector URL with a secret query parameter (`?token=`): the provenance keeps the
    call's target without it (it was stored verbatim and shown by `show`)."""
    p = _config(tmp_path, STORE + SYNTHETIC + 'url = "http://127.0.0.1:9/api?token=s3cr3t&x=1"'
                "\nretry_budget_seconds = 0\n")
    assert _cli("-c", str(p), "key", "create")[0] == 0
    code, out, err = _cli("-c", str(p), "collect", "--snapshot", "items", "--json")
    assert code == 3, err
    rid = json.loads(out)["snapshots"][0]["record_ids"][0]
    code, out, err = _cli("-c", str(p), "show", rid, "--json")
    assert code == 0, err
    targets = {c.get("target") for c in json.loads(out)["provenance"]["calls"]}
    assert targets == {"http://127.0.0.1:9/api?token=%3Credacted%3E&x=1"}, targets
    assert "s3cr3t" not in out
    blobs = b"".join(f.read_bytes() for f in (tmp_path / "blobs").rglob("*") if f.is_file())
    assert b"s3cr3t" not in blobs


# -- verify-bundle on hostile numbers ----------------------------------------------------

@pytest.mark.parametrize("entry", ["seal.json", "ledger.jsonl"])
def test_bundle_with_a_sequence_number_beyond_json_is_a_problem(collected: Path,
                                                                tmp_path: Path,
                                                                entry: str) -> None:
    """A bundle whose seal or ledger line holds seq 2**70: reported as a problem of that
    entry (exit 1, the report), not as an error about canonical JSON."""
    import io
    import zipfile

    good = tmp_path / "good.zip"
    assert _cli("-c", str(collected), "export", "--control", "CC6.1", "-o", str(good))[0] == 0
    buf = io.BytesIO()
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(buf, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == entry == "seal.json":
                data = json.dumps({**json.loads(data), "seq": 2 ** 70}).encode()
            elif name == entry:
                lines = data.decode().splitlines()
                lines[0] = json.dumps({**json.loads(lines[0]), "seq": 2 ** 70})
                data = "\n".join(lines).encode()
            zout.writestr(name, data)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(buf.getvalue())
    code, out, err = _cli("verify-bundle", str(bad), "--json")
    assert code == 1, err
    rep = json.loads(out)
    assert rep["ok"] is False and "ok" in rep and "error" not in rep, rep
    assert any(p.startswith(entry) and "2**53" in p for p in rep["problems"]), rep["problems"]


# -- time arguments ------------------------------------------------------------------------

def test_week_dates_mean_a_day_like_any_date(collected: Path) -> None:
    """An ISO 8601 week date with its day (2026-W48-1, 2026W481) is a bare date: the end of
    that day for --as-of, like 2026-11-23 (it meant the day's start); a week without its day
    names no day and is refused."""
    answers = []
    for spelling in ("2026-W48-1", "2026W481", "2026-11-23"):
        code, out, err = _cli("-c", str(collected), "query", "--control", "CC6.1", "--as-of",
                              spelling, "--json")
        assert code == 0, err
        answers.append(json.loads(out)["as_of"])
    assert answers == ["2026-11-23T23:59:59.999999Z"] * 3
    code, out, err = _cli("-c", str(collected), "query", "--control", "CC6.1", "--as-of",
                          "2026-W48", "--json")
    _one_line(code, out, err, 2, "'2026-W48' names a week, not a day", True)


def test_missing_key_after_a_rotation_names_the_new_key(tmp_path: Path) -> None:
    """After `key rotate`, a missing key file names the key the store now expects (the new
    one), not the rotated-out key whose restoring would be refused in turn."""
    p = _config(tmp_path, STORE + SYNTHETIC + "items = 3\n")
    assert _cli("-c", str(p), "key", "create")[0] == 0
    assert _cli("-c", str(p), "collect")[0] == 0
    code, _, err = _cli("-c", str(p), "key", "rotate")
    assert code == 0, err
    old_id, new_id = err.split("# rotated key ")[1].split(" in ")[0].split(" -> ")
    (tmp_path / "signing.key").unlink()
    code, out, err = _cli("-c", str(p), "collect")
    _one_line(code, out, err, 2, f"is missing, but this store is sealed by key {new_id}")
    assert old_id not in err


@pytest.mark.parametrize("command", ["population", "sample"])
def test_population_not_collected_yet_is_not_called_unmapped(tmp_path: Path, command: str
                                                             ) -> None:
    """CC8.1 is mapped to the synthetic `events` population, which was not collected yet:
    the message says so, rather than that no population snapshot is mapped to CC8.1."""
    p = _config(tmp_path, STORE + SYNTHETIC + "items = 3\n")
    assert _cli("-c", str(p), "key", "create")[0] == 0
    assert _cli("-c", str(p), "collect", "--snapshot", "items")[0] == 0
    extra = ["--size", "2"] if command == "sample" else []
    code, out, err = _cli("-c", str(p), command, "--control", "CC8.1", "--since", "2026-01-01",
                          "--until", "2026-02-01", *extra, "--json")
    _one_line(code, out, err, 2, "no population snapshot mapped to CC8.1 has been collected",
              True)


# -- the S3 store ---------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "message"), [
    ("http://AKIAX:hunter2@127.0.0.1:9000", "store.s3.endpoint_url: holds a credential"),
    ("not a url", "store.s3.endpoint_url: expected an http:// or https:// URL"),
])
def test_s3_endpoint_url_is_checked(tmp_path: Path, endpoint: str, message: str) -> None:
    """An S3 endpoint with inline credentials, or no URL at all, is refused when the config
    is read (no URL was a botocore traceback at the first command that wrote)."""
    p = _config(tmp_path, STORE + f'[store.s3]\nbucket = "b"\nendpoint_url = "{endpoint}"\n')
    code, out, err = _cli("-c", str(p), "controls")
    _one_line(code, out, err, 2, f"{p}:8: {message}")
    assert "hunter2" not in err


def test_unreachable_s3_store_is_one_line(tmp_path: Path) -> None:
    """`verify` against an S3 blob store that does not answer: one line, exit 1, a JSON
    object under --json (was a 130-line botocore traceback)."""
    p = _config(tmp_path, STORE + '[store.s3]\nbucket = "b"\nregion = "us-east-1"\n'
                'endpoint_url = "http://127.0.0.1:9"\n')
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "hunter2",
           "AWS_MAX_ATTEMPTS": "1"}
    assert _evidence("-c", str(p), "key", "create", env=env)[0] == 0
    assert _evidence("-c", str(p), "migrate", env=env)[0] == 0
    code, out, err = _evidence("-c", str(p), "verify", "--json", env=env)
    _one_line(code, out, err, 1, "blob store: Could not connect to the endpoint URL", True)
    assert "hunter2" not in out + err

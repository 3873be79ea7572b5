"""Bad input, each through the real `evidence` command (a subprocess, or click's runner on
real files): one line naming the problem (a JSON object under --json), exit 2 for usage and
config errors, nothing stored lost or half-written, no secret in any output."""

from __future__ import annotations

import json
import subprocess
import sys
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

"""The `evidence` command: exit codes, one-line errors, JSON shapes, help on every command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from collector.cli import cli
from tests.conftest import subprocess_env


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, f"{prefix}{name} "))
    return out


def test_every_command_has_help() -> None:
    """Every command and option has help text."""
    for name, cmd in _commands(cli):
        assert cmd.help, f"`evidence {name}` has no help text"
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, f"`evidence {name} {p.opts[0]}` has no help text"
        code, out, _ = _run(*name.split(), "--help")
        assert code == 0 and "Usage:" in out


@pytest.fixture
def cfg(config_file: Callable[..., Path]) -> str:
    return str(config_file(connectors='[[connectors]]\ntype = "synthetic"\ninstance = "one"\n'
                                      'items = 12\n'))


def test_collect_query_show_verify(cfg: str, tmp_path: Path) -> None:
    """A collection can be queried, shown, verified and its seal checked later."""
    code, out, _ = _run("-c", cfg, "collect", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "ok" and summary["counts"] == {"complete": 3}

    code, out, _ = _run("-c", cfg, "query", "--control", "CC6.1", "--as-of", "now", "--json")
    assert code == 0
    q = json.loads(out)
    assert q["control"] == "CC6.1"
    assert len(q["records"]) == 1
    rec = q["records"][0]
    for k in ("id", "connector", "instance", "snapshot", "sha256", "collected_at",
              "effective_at", "status", "stale", "controls"):
        assert k in rec
    assert rec["stale"] is False and rec["controls"] == ["CC6.1", "CC6.2"]

    code, out, _ = _run("-c", cfg, "query", "--control", "CC6.1", "--as-of", "2999-01-01",
                        "--json")
    assert json.loads(out)["records"][0]["stale"] is True
    code, out, _ = _run("-c", cfg, "query", "--control", "CC6.1", "--as-of", "2000-01-01",
                        "--json")
    q_old = json.loads(out)
    assert q_old["records"] == [] and len(q_old["no_evidence_yet"]) == 1

    code, out, _ = _run("-c", cfg, "show", rec["id"], "--content", "--json")
    shown = json.loads(out)
    assert shown["provenance"]["principal"] == "synthetic:tester"
    assert len(shown["content"]["items"]) == 12 and len(shown["findings"]) == 12

    code, out, _ = _run("-c", cfg, "query", "--control", "CC8.1", "--since", "2000-01-01")
    assert code == 0 and "events" in out

    seal_file = tmp_path / "kept-seal.json"
    code, _, _ = _run("-c", cfg, "seal", "export", "-o", str(seal_file))
    assert code == 0 and json.loads(seal_file.read_text())["seq"] == 5
    code, out, _ = _run("-c", cfg, "verify", "--against", str(seal_file), "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    code, out, err = _run("-c", cfg, "key", "export")
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and "key id" in err
    code, out, _ = _run("-c", cfg, "runs", "--json")
    assert json.loads(out)[0]["status"] == "ok"


def test_collect_exits_3_when_a_snapshot_fails(config_file: Callable[..., Path]) -> None:
    """Exit 3 when some snapshots failed; they are recorded."""
    cfg = config_file(connectors='[[connectors]]\ntype = "synthetic"\nfail = ["settings"]\n')
    code, out, _ = _run("-c", str(cfg), "collect", "--json")
    assert code == 3
    assert json.loads(out)["counts"] == {"complete": 2, "failed": 1}


def test_verify_exit_1_names_problem(cfg: str, tmp_path: Path) -> None:
    """verify exits 1 and names the blob whose content changed."""
    _run("-c", cfg, "collect")
    blob = next(p for p in (tmp_path / "blobs" / "sha256").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b" ")
    code, out, _ = _run("-c", cfg, "verify")
    assert code == 1
    assert f"PROBLEM blob {blob.name}: content changed" in out


@pytest.mark.parametrize(("args", "message"), [
    (["query", "--control", "CC42.1"], "unknown control ID 'CC42.1'"),
    (["query", "--control", "CC6.1", "--as-of", "last tuesday"], "bad date/time 'last tuesday'"),
    (["collect", "--connector", "nosuchplatform"], "unknown connector 'nosuchplatform'"),
    (["collect", "--control", "CC6.9"], "unknown control ID 'CC6.9'"),
    (["show", "nope"], "no record with ID 'nope'"),
])
def test_bad_input_is_one_line_exit_2(cfg: str, args: list[str], message: str) -> None:
    """Unknown control, bad date, unknown connector: one clear line, exit 2."""
    if args[0] == "show":  # read commands need an index (they never create one)
        _run("-c", cfg, "key", "create")
        assert _run("-c", cfg, "collect")[0] == 0
    code, _out, err = _run("-c", cfg, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("evidence: error: ") and message in err


def test_malformed_config_is_one_line_exit_2(tmp_path: Path) -> None:
    """A malformed config is one line naming the file and line; nothing is collected."""
    p = tmp_path / "bad.toml"
    p.write_text('[store]\nblob_dir = "b"\n[[connectors]]\ntype = "synthetic"\nitems = "x"\n')
    code, _, err = _run("-c", str(p), "collect")
    assert code == 2
    assert err == f"evidence: error: {p}:5: connectors[0].items: Input should be a valid " \
                  "integer, unable to parse string as an integer (got 'x')\n"
    assert not (tmp_path / "b").exists() and not (tmp_path / "evidence").exists()


def test_connectors_list_and_permissions() -> None:
    """connectors list shows snapshots with criteria; permissions prints what one needs."""
    code, out, _ = _run("connectors", "list", "--json")
    data = json.loads(out)
    assert data["synthetic"]["snapshots"]["items"]["controls"] == ["CC6.1", "CC6.2"]
    code, out, _ = _run("connectors", "permissions", "synthetic")
    assert out.split() == ["synthetic.events.read", "synthetic.items.read",
                           "synthetic.settings.read"]
    code, _, err = _run("connectors", "permissions", "nosuch")
    assert code == 2 and "unknown connector 'nosuch'" in err


def test_connectors_check(cfg: str) -> None:
    """connectors check runs each instance's check() and reports the principal."""
    code, out, _ = _run("-c", cfg, "connectors", "check", "--json")
    assert code == 0 and json.loads(out)[0]["principal"] == "synthetic:tester"


def test_controls_lists_catalog_and_custom(config_file: Callable[..., Path]) -> None:
    """controls prints the criteria and the organization's own IDs."""
    cfg = config_file('[controls]\n"ACME-1" = ["CC6.1"]\n')
    _code, out, _ = _run("-c", str(cfg), "controls", "--json")
    d = json.loads(out)
    assert len(d["criteria"]) == 61 and d["custom"] == {"ACME-1": ["CC6.1"]}


def test_key_create_makes_a_private_key_once(config_file: Callable[..., Path]) -> None:
    """`key create` writes a 0600 key and prints its public PEM; a second call refuses, and
    `key export` then prints the same public key."""
    import stat

    path = config_file()
    run = CliRunner()
    first = run.invoke(cli, ["-c", str(path), "key", "create"])
    assert first.exit_code == 0, first.output
    key = path.parent / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert first.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    again = run.invoke(cli, ["-c", str(path), "key", "create"])
    assert again.exit_code == 2 and "already there" in again.output
    assert key.exists()
    exported = run.invoke(cli, ["-c", str(path), "key", "export"])
    assert exported.exit_code == 0 and exported.stdout == first.stdout


def _modules_after(*args: str, cwd: Path) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after `evidence ARGS`."""
    code = ("import json, sys\n"
            f"sys.argv = ['evidence', *{list(args)!r}]\n"
            "from collector.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return set(json.loads(r.stderr.strip().splitlines()[-1]))


# Loaded only by the commands that use them (serve, fieldwork, migrate, the tests).
_NOT_FOR_COLLECT = {"fastapi", "uvicorn", "starlette", "alembic", "mako", "jsonschema",
                    "hypothesis", "jinja2", "playwright", "google", "azure", "okta", "github",
                    "aiohttp", "apscheduler", "anyio", "httpx"}


def test_help_and_collect_import_only_what_they_use(cfg: str, tmp_path: Path) -> None:
    """Start-up cost is paid per command: `evidence --help` loads no store, SDK or model
    library, and a collection into an up-to-date store loads no portal, migration or test
    library (checked in fresh interpreters, where nothing was imported before)."""
    loaded = _modules_after("--help", cwd=tmp_path)
    assert "click" in loaded
    heavy = {"sqlalchemy", "pydantic", "boto3", "botocore", "cryptography"} | _NOT_FOR_COLLECT
    assert not loaded & heavy, sorted(loaded & heavy)

    _modules_after("-c", cfg, "collect", "--json", cwd=tmp_path)  # creates the store
    loaded = _modules_after("-c", cfg, "collect", "--json", cwd=tmp_path)
    assert {"sqlalchemy", "pydantic", "synthetic_connector"} <= loaded
    assert not loaded & _NOT_FOR_COLLECT, sorted(loaded & _NOT_FOR_COLLECT)


def test_collect_start_up_walks_no_garbage_collection(cfg: str, tmp_path: Path) -> None:
    """In its own process, a collection's start-up (imports, config, store, key) runs no
    full garbage collection (each walked every object loaded so far: ~0.2 s of a one-second
    collect); collection is on again for the run, and what start-up made is frozen. Run from
    a caller's interpreter (CliRunner here) the collector is left as it was."""
    code = ("import gc, json, sys\n"
            "full = []\n"
            "gc.callbacks.append(lambda phase, info: phase == 'start' and "
            "info['generation'] == 2 and full.append(1))\n"
            f"sys.argv = ['evidence', '-c', {cfg!r}, 'collect', '--json']\n"
            "from collector.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(json.dumps([len(full), gc.isenabled(), gc.get_freeze_count()]), "
            "file=sys.stderr)\n")
    for _ in range(2):  # the first run creates the store
        r = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        full, enabled, frozen = json.loads(r.stderr.strip().splitlines()[-1])
        assert full == 0 and enabled and frozen > 50_000

    import gc

    before = gc.get_freeze_count()
    code_, _out, _ = _run("-c", cfg, "collect", "--json")
    assert code_ == 0 and gc.isenabled() and gc.get_freeze_count() == before

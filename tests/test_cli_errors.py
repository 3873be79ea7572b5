"""Issue 8 items 9 and 11: bad input is one line (a JSON object under --json), read commands
change nothing, a read-only or full disk is a recorded failure, export never clobbers."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from collector.cli import cli
from collector.config import load
from storage.index import runs
from storage.queries import parse_time
from storage.store import EvidenceStore
from tests.conftest import subprocess_env
from tests.mounts import tmpfs


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _one_line(code: int, out: str, err: str, want_code: int, message: str,
              as_json: bool) -> None:
    assert code == want_code, (out, err)
    assert err.count("\n") == 1 and err.startswith("evidence: error: ") and message in err, err
    assert "Traceback" not in out + err
    if as_json:
        obj = json.loads(out)
        assert obj["ok"] is False and obj["exit"] == want_code and message in obj["error"]
    else:
        assert out == ""


@pytest.fixture
def collected(config_file: Callable[..., Path]) -> Path:
    """A store with one sealed collection."""
    path = config_file()
    assert _cli("-c", str(path), "key", "create")[0] == 0
    assert _cli("-c", str(path), "collect")[0] == 0
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_as_of_whose_utc_is_before_year_one_is_one_line(collected: Path, as_json: bool) -> None:
    """`--as-of 0001-01-01T00:00:00+01:00` (UTC would be year 0): one line, exit 2."""
    code, out, err = _cli("-c", str(collected), "query", "--control", "CC6.1", "--as-of",
                          "0001-01-01T00:00:00+01:00", *(["--json"] if as_json else []))
    _one_line(code, out, err, 2, "'0001-01-01T00:00:00+01:00' is out of range", as_json)


@pytest.mark.parametrize("limit", [str(2 ** 64), "99999999999999999999999", "-1", "0"])
@pytest.mark.parametrize("as_json", [False, True])
def test_runs_limit_out_of_range_is_one_line(collected: Path, limit: str, as_json: bool) -> None:
    """`runs --limit` beyond 64 bits, negative or zero: one line naming the option, exit 2."""
    code, out, err = _cli("-c", str(collected), "runs", "--limit", limit,
                          *(["--json"] if as_json else []))
    _one_line(code, out, err, 2, f"Invalid value for '--limit': {limit} is not in the range",
              as_json)


@pytest.mark.parametrize("command", ["query", "export"])
def test_since_after_as_of_is_refused(collected: Path, command: str) -> None:
    """`--since` after `--as-of` is an empty period: refused, one line, exit 2, no file."""
    out_file = collected.parent / "x.zip"
    extra = ["-o", str(out_file)] if command == "export" else ["--json"]
    code, out, err = _cli("-c", str(collected), command, "--control", "CC6.1", "--since",
                          "2026-12-01", "--as-of", "2026-11-01", *extra)
    _one_line(code, out, err, 2, "--since 2026-12-01 is not before --as-of 2026-11-01",
              command == "query")
    assert not out_file.exists()


def test_compact_and_extended_dates_mean_the_same_moment(collected: Path) -> None:
    """`20261130` and `2026-11-30` are the same date: the end of that day for --as-of, its
    start for --since (documented in --help and the README)."""
    for end in (True, False):
        assert parse_time("20261130", end_of_day=end) == parse_time("2026-11-30", end_of_day=end)
    assert parse_time("20261130").isoformat() == "2026-11-30T23:59:59.999999+00:00"
    answers = []
    for spelling in ("20261130", "2026-11-30"):
        code, out, _ = _cli("-c", str(collected), "query", "--control", "CC6.1", "--as-of",
                            spelling, "--json")
        assert code == 0
        answers.append(json.loads(out)["as_of"])
    assert answers[0] == answers[1] == "2026-11-30T23:59:59.999999Z"


@pytest.mark.parametrize("args", [["query", "--control", "CC6.1"], ["runs"], ["verify"],
                                  ["show", "x"], ["key", "export"], ["seal", "export"],
                                  ["population", "--control", "CC6.1", "--since", "2026-01-01",
                                   "--until", "2026-02-01"]])
def test_read_commands_never_create_an_index(config_file: Callable[..., Path],
                                             args: list[str]) -> None:
    """A read command on a store where nothing was collected fails clearly and creates no
    index, no folder, no key."""
    path = config_file()
    before = sorted(p.name for p in path.parent.iterdir())
    code, out, err = _cli("-c", str(path), *args)
    if args == ["key", "export"]:  # needs only the key file
        _one_line(code, out, err, 2, "no signing key at", False)
    else:
        _one_line(code, out, err, 1, "no evidence index at", False)
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_read_commands_never_migrate(collected: Path) -> None:
    """An index at an older schema revision is not migrated by a read command (one line
    naming both revisions); the index file is unchanged. `collect` then upgrades it."""
    st = EvidenceStore.open(load(collected))

    def state() -> str:
        with st.engine.connect() as c:
            rows = c.execute(text("SELECT type, name, sql FROM sqlite_master ORDER BY name"))
            version = c.execute(text("SELECT version_num FROM alembic_version")).all()
            seals = c.execute(text("SELECT count(*) FROM seals")).scalar_one()
        return hashlib.sha256(repr((rows.all(), version, seals)).encode()).hexdigest()

    with st.engine.begin() as c:
        head = c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        c.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    before = state()
    for args in (["query", "--control", "CC6.1"], ["runs"], ["verify"]):
        code, out, err = _cli("-c", str(collected), *args)
        _one_line(code, out, err, 1, f"is at schema revision 0004, this version reads {head}",
                  False)
    assert state() == before
    st.close()


def test_read_commands_work_on_a_read_only_index(collected: Path, tmp_path: Path) -> None:
    """On read-only media, query, runs and verify work; verify says it could not seal its
    checkpoint instead of failing."""
    with tmpfs(tmp_path / "ro", size="20m", seed=collected.parent, read_only=True) as ro:
        cfg = str(ro / collected.name)
        code, out, _ = _cli("-c", cfg, "query", "--control", "CC6.1", "--json")
        assert code == 0 and len(json.loads(out)["records"]) == 1
        code, out, _ = _cli("-c", cfg, "runs", "--json")
        assert code == 0 and json.loads(out)[0]["status"] == "ok"
        code, out, err = _cli("-c", cfg, "verify")
        assert code == 0 and out.endswith(": intact\n")
        assert "note: no checkpoint sealed" in err and "readonly" in err


def test_vv_collect_logs_each_step_and_shows_progress(collected: Path) -> None:
    """`evidence -vv collect` logs the run, each snapshot's lease and outcome and the seal;
    plain `collect` shows one progress line per snapshot."""
    exe = str(Path(sys.executable).parent / "evidence")
    r = subprocess.run([exe, "-vv", "-c", str(collected), "collect"], env=subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    log = r.stderr
    assert "INFO evidence.collector: run " in log and "3 snapshot(s)" in log
    for snap in ("items", "settings", "events"):
        assert f"DEBUG evidence.collector: synthetic/one {snap}: lease" in log
        assert f"synthetic/one {snap}: complete" in log
    assert "INFO evidence.collector: run " in log and "sealed at #" in log
    r = subprocess.run([exe, "-c", str(collected), "collect"], env=subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("[")]
    assert sorted(ln[:5] for ln in progress) == ["[1/3]", "[2/3]", "[3/3]"]
    assert "DEBUG" not in r.stderr and "INFO" not in r.stderr


@pytest.mark.parametrize("how", ["read-only", "full"])
def test_unwritable_blob_directory_fails_snapshots_and_finishes_the_run(
        config_file: Callable[..., Path], tmp_path: Path, how: str) -> None:
    """A read-only or full blob directory: each snapshot is recorded as failed (in the run's
    summary) naming the cause, the run is finished, sealed, and never shows as interrupted."""
    blob_dir = tmp_path / "blobmnt"
    with tmpfs(blob_dir, size="64k", read_only=how == "read-only", fill=how == "full"):
        path = config_file()
        path.write_text(path.read_text().replace(
            'blob_dir = "blobs"', f'blob_dir = "{blob_dir}"\nseal_dir = "seals"'))
        assert _cli("-c", str(path), "key", "create")[0] == 0
        code, out, err = _cli("-c", str(path), "collect")
        assert code == 3, err
        cause = "Read-only file system" if how == "read-only" else "No space left on device"
        failed = [ln for ln in err.splitlines() if ln.startswith("[")]
        assert len(failed) == 3 and all("FAILED" in ln and "evidence not stored" in ln and
                                        cause in ln for ln in failed), err
        assert "Traceback" not in err and "sealed at #" in out
        st = EvidenceStore.open(load(path), create=False)
        with st.engine.connect() as c:
            row = c.execute(select(runs)).one()
        assert row.status == "failed-snapshots" and row.finished_at is not None
        snaps = row.summary["snapshots"]
        assert [s["status"] for s in snaps] == ["failed"] * 3
        assert all(cause in s["error"] for s in snaps)
        code, out, _ = _cli("-c", str(path), "runs", "--json")
        assert json.loads(out)[0]["status"] == "failed-snapshots"


# item 9: export never clobbers ------------------------------------------------------------
def _export(cfg: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return _cli("-c", str(cfg), "export", "--control", "CC6.1", "-o", str(out), *extra)


def test_export_refuses_to_overwrite_without_force(collected: Path) -> None:
    """An existing file is kept unless --force; with it the bundle replaces the file."""
    out = collected.parent / "bundle.zip"
    out.write_bytes(b"precious")
    code, _, err = _export(collected, out)
    assert code == 2 and "refusing to overwrite it (use --force)" in err
    assert out.read_bytes() == b"precious"
    code, _, err = _export(collected, out, "--force")
    assert code == 0, err
    assert out.read_bytes()[:2] == b"PK"
    assert _cli("verify-bundle", str(out))[0] == 0


def test_export_never_replaces_a_non_regular_file(collected: Path, tmp_path: Path) -> None:
    """A directory, a symlink (to a directory or a file), a FIFO and a device node are never
    replaced, even with --force: one line, exit 2, the thing is still there."""
    d = tmp_path / "adir"
    d.mkdir()
    target = tmp_path / "target.zip"
    target.write_bytes(b"target")
    (tmp_path / "link_dir").symlink_to(d)
    (tmp_path / "link_file").symlink_to(target)
    os.mkfifo(tmp_path / "fifo")
    nodes = ["link_dir", "link_file", "fifo"]
    try:
        os.mknod(tmp_path / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        nodes.append("null")
    except PermissionError:
        pass  # not root: the FIFO stands in for a special file
    for name in nodes:
        p = tmp_path / name
        kind = os.lstat(p).st_mode
        code, _out, err = _export(collected, p, "--force")
        assert code == 2 and err.count("\n") == 1, (name, err)
        assert "is not a regular file: refusing to replace it" in err or \
            "is a directory" in err, (name, err)
        assert os.lstat(p).st_mode == kind
    assert target.read_bytes() == b"target"
    code, _, err = _export(collected, d, "--force")
    assert code == 2 and err.count("\n") == 1 and d.is_dir()
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_to_a_full_disk_leaves_nothing_behind(collected: Path, tmp_path: Path) -> None:
    """A full disk: one line naming the file and the cause, exit 1, no .tmp file, no output."""
    with tmpfs(tmp_path / "full", size="64k", fill=True) as full:
        out = full / "bundle.zip"
        code, _stdout, err = _export(collected, out)
        assert code == 1, err
        assert err == f"evidence: error: cannot write {out}: No space left on device\n"
        assert sorted(p.name for p in full.iterdir()) == [".filler"]


@pytest.mark.parametrize("value", ['["aws"]', "[1]"])
def test_connectors_not_tables_is_one_line(tmp_path: Path, value: str) -> None:
    """`connectors = ["aws"]` or `[1]`: one line naming the file, line and entry, exit 2."""
    cfg = tmp_path / "e.toml"
    cfg.write_text(f"connectors = {value}\n")
    for as_json in (False, True):
        code, out, err = _cli("-c", str(cfg), "collect", *(["--json"] if as_json else []))
        _one_line(code, out, err, 2, f"{cfg}:1: connectors[0]: expected a table", as_json)


def test_migrate_creates_the_index_that_read_commands_need(config_file: Callable[..., Path]
                                                           ) -> None:
    """`evidence migrate` creates the index explicitly; read commands then work on it."""
    path = config_file()
    assert _cli("-c", str(path), "runs")[0] == 1
    code, out, _ = _cli("-c", str(path), "migrate")
    assert code == 0 and out.startswith("index at schema revision ")
    code, out, _ = _cli("-c", str(path), "runs", "--json")
    assert code == 0 and json.loads(out) == []

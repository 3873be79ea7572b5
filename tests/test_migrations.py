"""Alembic migrations produce exactly the schema the table definitions describe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.index import make_engine, metadata, migrate


def _drift(url: str) -> list[object]:
    eng = make_engine(url)
    migrate(eng)
    migrate(eng)  # idempotent
    with eng.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    eng.dispose()
    return [d for d in diff if "apscheduler" not in str(d)]


def test_migrations_match_the_models_sqlite(tmp_path: Path) -> None:
    """The migrated SQLite schema has no drift from storage.index."""
    assert _drift(f"sqlite:///{tmp_path}/m.db") == []


@pytest.mark.postgres
def test_migrations_match_the_models_postgres(pg_url: str) -> None:
    """The migrated PostgreSQL schema has no drift from storage.index."""
    assert _drift(pg_url) == []


def test_upgrade_keeps_existing_evidence(config_file: Callable[..., Path]) -> None:
    """A store written at revision 0002 (version 1 seals) upgrades to head still verifying."""
    import json
    from datetime import UTC, datetime

    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    from collector.config import load
    from storage import keys
    from storage.index import writer
    from storage.ledger import Seal, lock_head
    from storage.store import EvidenceStore, NewRecord, open_blobs, seal_file_name
    from storage.verify import verify

    cfg = load(config_file())
    eng = make_engine(cfg.index_url())
    acfg = AlembicConfig()
    acfg.set_main_option("script_location", str(Path(migrate.__code__.co_filename).parent
                                                 / "migrations"))
    with writer(eng).begin() as conn:
        acfg.attributes["connection"] = conn
        command.upgrade(acfg, "0002")
    st = EvidenceStore(eng, open_blobs(cfg),
                       cfg.resolve_path(cfg.signing.key_file))
    t = datetime(2026, 3, 1, tzinfo=UTC)
    st.append([NewRecord("r0", "synthetic", "one", "items", "posture", ["CC6.1"], 3600, t, t,
                         "complete", {"calls": []}, content={"i": i}, has_content=True)
               for i in range(3)])
    key = keys.load_or_create(st.key_path)  # type: ignore[arg-type]
    with writer(eng).begin() as conn:  # a version 1 seal, as the code before 0005 wrote it
        seq, head = lock_head(conn)
        unsigned = Seal(seq, head, t, "r0", keys.key_id(key.public_key()), "", v=1)
        v1 = Seal(seq, head, t, "r0", unsigned.key_id, keys.sign(key, unsigned.payload()), v=1)
        conn.execute(text("INSERT INTO seals (seq, head_hash, sealed_at, run_id, key_id, "
                          "signature) VALUES (:a, :b, :c, :d, :e, :f)"),
                     {"a": v1.seq, "b": v1.head_hash, "c": t.replace(tzinfo=None),
                      "d": v1.run_id, "e": v1.key_id, "f": v1.signature})
    st.blobs.put_seal(seal_file_name(v1), json.dumps(v1.to_json()).encode())
    migrate(eng)
    assert _drift(cfg.index_url()) == []
    rep = verify(st)
    assert rep.ok, rep.problems
    assert rep.seals == 2


def test_schema_head_is_alembics_head_and_a_current_store_skips_alembic(tmp_path: Path) -> None:
    """schema_head() names Alembic's head revision, and opening an up-to-date store does not
    import Alembic (no migration work on every command)."""
    import subprocess
    import sys

    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    import storage.index
    from storage.index import schema_head, schema_is_current

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(storage.index.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == schema_head()
    url = f"sqlite:///{tmp_path}/h.db"
    eng = make_engine(url)
    assert not schema_is_current(eng)
    migrate(eng)
    assert schema_is_current(eng)
    eng.dispose()
    code = ("import sys; from storage.index import make_engine, migrate; "
            f"migrate(make_engine({url!r})); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False"

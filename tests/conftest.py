"""Shared fixtures: configs, stores on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PLUGINS = Path(__file__).parent / "plugins"
ROOT = Path(__file__).parent.parent
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))

from connectors.registry import cache_clear  # noqa: E402

cache_clear()

PG_ADMIN = os.environ.get("EVIDENCE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for running `evidence` in a subprocess with the test plugin visible."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def write_config(directory: Path, body: str = "", *, index_url: str | None = None,
                 connectors: str | None = None) -> Path:
    """Write an evidence.toml with a store in `directory`."""
    conns = connectors if connectors is not None else (
        '[[connectors]]\ntype = "synthetic"\ninstance = "one"\nitems = 25\n')
    idx = index_url or "sqlite:///index.db"
    text = (f'[store]\nindex_url = "{idx}"\nblob_dir = "blobs"\n\n'
            f'[signing]\nkey_file = "signing.key"\n\n'
            f'[collector]\nconcurrency = 2\nbackoff_seconds = 0\nlock_wait_seconds = 30\n\n'
            f"{body}\n{conns}")
    p = directory / "evidence.toml"
    p.write_text(text)
    return p


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[..., Path]:
    def make(body: str = "", **kw: Any) -> Path:
        return write_config(tmp_path, body, **kw)

    return make


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as e:
        return str(e).splitlines()[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the real server; dropped afterwards."""
    err = _pg_available()
    if err is not None:
        msg = (f"PostgreSQL not reachable at {PG_ADMIN} ({err}); start it "
               "(see ../shared/TESTING.md) or set EVIDENCE_TEST_PG")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    import sqlalchemy as sa

    name = f"evtest_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

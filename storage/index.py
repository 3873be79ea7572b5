"""The SQLAlchemy index: tables, engine set-up for SQLite and PostgreSQL, migrations."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime, TypeDecorator

from connectors.errors import StorageError

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the index; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


records = Table(
    "records", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("id", String(32), nullable=False, unique=True),
    Column("run_id", String(32), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("instance", String(128), nullable=False),
    Column("snapshot", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source", Text),
    Column("principal", Text),
    Column("collected_started_at", UTCDateTime(), nullable=False),
    Column("collected_finished_at", UTCDateTime(), nullable=False),
    Column("effective_at", UTCDateTime()),
    Column("period_start", UTCDateTime()),
    Column("period_end", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("api_calls", Integer, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("api_totals", JSON, nullable=False),
    Column("content_sha256", String(64)),
    Column("content_size", BigInteger, nullable=False),
    Column("ipe_sha256", String(64), nullable=False),
    Column("findings_sha256", String(64)),
    Column("assessment", JSON, nullable=False),
    Column("controls", JSON, nullable=False),
    Column("max_age_seconds", Integer, nullable=False),
    Column("error", Text),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("record_hash", String(64), nullable=False, unique=True),
    # seq last: "newest record of a series at or before T" is then the first entry of one
    # backward index range scan, with no sort over the series' history (migration 0002)
    Index("ix_records_series_time_seq", "connector", "instance", "snapshot",
          "collected_finished_at", "seq"),
    Index("ix_records_run", "run_id"),
)

# Which (connector, instance, snapshot) series support which criterion: a derived lookup
# table (rebuildable from records) that lets point-in-time queries avoid scanning records.
series = Table(
    "series", metadata,
    Column("control_id", String(16), primary_key=True),
    Column("connector", String(64), primary_key=True),
    Column("instance", String(128), primary_key=True),
    Column("snapshot", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
)

ledger_head = Table(
    "ledger_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

seals = Table(
    "seals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("sealed_at", UTCDateTime(), nullable=False),
    Column("run_id", String(32)),
    Column("key_id", String(16), nullable=False),
    Column("signature", Text, nullable=False),
    # run-scoped seals (migration 0003): which records the signer vouches for
    Column("v", Integer, nullable=False, server_default="1"),
    Column("covers", JSON),
    Column("purpose", String(16)),
    Column("note", Text),
)

# The PostgreSQL sequence that numbers runs (migration 0006): nextval is atomic, so
# concurrent writers never draw the same number.
RUNS_SEQ_SEQUENCE = "runs_seq_seq"


class NextRunSeq(FunctionElement[int]):
    """The next `runs.seq`, computed by the database inside the INSERT that records the run:
    nextval of a sequence on PostgreSQL; on SQLite, where writers are serialized by the
    database's write lock, one more than the largest so far."""

    type = BigInteger()
    name = "next_run_seq"
    inherit_cache = True


@compiles(NextRunSeq)
def _next_run_seq(element: NextRunSeq, compiler: SQLCompiler, **kw: Any) -> str:
    return "(SELECT coalesce(max(seq), 0) + 1 FROM runs)"


@compiles(NextRunSeq, "postgresql")
def _next_run_seq_pg(element: NextRunSeq, compiler: SQLCompiler, **kw: Any) -> str:
    return f"nextval('{RUNS_SEQ_SEQUENCE}')"


runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    # the order runs were recorded in, whatever the clocks said (migration 0006): "newest
    # run" means the largest seq, never the latest started_at, which a clock running ahead
    # would keep "newest" after the clock is fixed
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False,
           default=NextRunSeq()),
    Column("trigger", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("summary", JSON, nullable=False),
    Index("ix_runs_started", "started_at"),
    Index("ix_runs_seq", "seq", unique=True),
    Index("ix_runs_trigger_seq", "trigger", "seq"),
)

# Short-lived leases that stop two collectors (in any container) from running the same
# snapshot of the same instance at once.
locks = Table(
    "locks", metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Bearer tokens of the auditor portal (`evidence serve`): only a token's SHA-256 is kept.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

# Every portal request (who, what, when, result): append-only and hash-chained like the
# ledger (`entry_hash` covers every column and the previous entry's hash).
access_log = Table(
    "access_log", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("token_id", String(16)),
    Column("who", String(128), nullable=False),
    Column("role", String(16)),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("client", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False, unique=True),
)

# Each attempt to deliver drift alerts to a sink (`evidence status` shows the newest).
alert_deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sink", String(128), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("items", Integer, nullable=False),
    Column("error", Text),
    Index("ix_alert_deliveries_sink_at", "sink", "at"),
)

GENESIS = "0" * 64


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine that serializes ledger appends: BEGIN IMMEDIATE on SQLite."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 120, "check_same_thread": False},
                               **kw)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=120000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # writers take the write lock up front (no deadlocking lock upgrades);
            # readers use a deferred transaction and never block on each other
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def writer(engine: Engine) -> Engine:
    """The same engine, for transactions that write (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(immediate=True)


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*"?([^"\s]+)"?', re.M)


def schema_head() -> str:
    """The newest revision under migrations/versions, read from the files (without importing
    Alembic, which costs a command half a second)."""
    revs: set[str] = set()
    downs: set[str] = set()
    for f in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        for kind, value in _REVISION.findall(f.read_text()):
            (downs if kind == "down_revision" else revs).add(value)
    heads = revs - downs
    if len(heads) != 1:
        raise StorageError(f"migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def schema_is_current(engine: Engine) -> bool:
    """Whether the index is already at the newest revision (one cheap query, no Alembic)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # no version table yet: a new store
    return [r[0] for r in rows] == [schema_head()]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (safe with concurrent callers); an
    up-to-date store costs one query."""
    if schema_is_current(engine):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

"""Portal bearer tokens (only their SHA-256 is stored) and the hash-chained access log.

A token is shown once, when created; the index keeps its hash, name, role and expiry, so a
copy of the index gives nobody a working token. Every request the portal answers is appended
to `access_log`; each entry's `entry_hash` covers its columns and the previous entry's hash,
so an edited, deleted or reordered entry breaks the chain and `evidence verify` names it.
"""

from __future__ import annotations

import hashlib
import json
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from connectors.errors import ConfigError, StorageError
from storage.canonical import canonical, iso, sha256_hex
from storage.index import GENESIS, access_log, api_tokens, writer

ROLES = ("auditor", "operator")
PREFIX = "evd_"


@dataclass(frozen=True)
class Token:
    """A token as the index knows it (never the token itself)."""

    id: str
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at)}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, name: str, role: str, now: datetime,
                 expires_at: datetime | None = None) -> tuple[str, Token]:
    """A new token for `name` with `role`; returns (the token, shown only now, its record)."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 128:
        raise ConfigError("token name must be 1 to 128 characters")
    if expires_at is not None and expires_at <= now:
        raise ConfigError(f"token expiry {iso(expires_at)} is not in the future")
    tid = secrets.token_hex(8)
    token = PREFIX + secrets.token_urlsafe(32)
    with writer(engine).begin() as conn:
        conn.execute(insert(api_tokens).values(
            id=tid, name=name, role=role, token_sha256=token_hash(token), created_at=now,
            expires_at=expires_at, revoked_at=None))
    return token, Token(tid, name, role, now, expires_at, None)


def _tok(r: Any) -> Token:
    return Token(r.id, r.name, r.role, r.created_at, r.expires_at, r.revoked_at)


def list_tokens(engine: Engine) -> list[Token]:
    with engine.connect() as conn:
        return [_tok(r) for r in conn.execute(
            select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))]


def revoke_token(engine: Engine, token_id: str, now: datetime) -> Token:
    """Revoke a token by its ID (revoking twice keeps the first revocation time)."""
    with writer(engine).begin() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise ConfigError(f"no token with ID {token_id!r} (`evidence token list`)")
        if row.revoked_at is None:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(revoked_at=now))
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
    return _tok(row)


def authenticate(engine: Engine, token: str, now: datetime) -> Token | None:
    """The active token matching `token`, or None (unknown, expired or revoked). Read from
    the index on every call, so a revocation counts from the next request on."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(_by_hash(), {"h": token_hash(token)}).first()
    if row is None:
        return None
    tok = _tok(row)
    return tok if tok.active(now) else None


@cache
def _by_hash() -> Any:
    return select(api_tokens).where(api_tokens.c.token_sha256 == bindparam("h"))


# access log ---------------------------------------------------------------------------
_FIELDS = ("seq", "at", "token_id", "who", "role", "method", "path", "query", "status",
           "client", "prev_hash")


def entry_hash(row: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an entry's columns (times as ISO 8601 UTC)."""
    return sha256_hex(canonical({k: row[k] for k in _FIELDS}))


def entry(*, at: datetime, who: str, token_id: str | None, role: str | None, method: str,
          path: str, query: str, status: int, client: str) -> dict[str, Any]:
    """One request as an access-log entry (not yet chained: no seq or hashes)."""
    return {"at": at, "token_id": token_id, "who": who[:128], "role": role,
            "method": method[:8], "path": path[:2000], "query": query[:2000],
            "status": status, "client": client[:64]}


def append_entries(engine: Engine, entries: Sequence[dict[str, Any]], *,
                   fsync: bool = False) -> list[dict[str, Any]]:
    """Chain `entries` after the access log's last entry and commit them in one
    transaction; returns them with seq and hashes. With `fsync` on SQLite the commit is
    synced to disk (synchronous=FULL) before this returns; PostgreSQL commits durably by
    default (synchronous_commit=on)."""
    for _ in range(5):
        try:
            with writer(engine).connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite and fsync:
                    _synchronous(conn, "FULL")
                try:
                    with conn.begin():
                        return _chain(conn, entries)
                finally:
                    if sqlite and fsync:
                        _synchronous(conn, "NORMAL")
        except SAIntegrityError:
            continue  # another writer took this seq; chain onto theirs
    raise StorageError("access log: could not append after 5 attempts")


def _synchronous(conn: Any, level: str) -> None:
    # outside any transaction (SQLite refuses the change inside one); the engine's
    # connections run in driver autocommit and BEGIN explicitly, see storage/index.py
    dbapi = conn.connection.driver_connection
    assert dbapi is not None and dbapi.in_transaction is False
    dbapi.execute(f"PRAGMA synchronous={level}")


def _chain(conn: Any, entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(727275)"))
    last = conn.execute(_last_entry()).first()
    seq, prev = (int(last.seq), str(last.entry_hash)) if last else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    for e in entries:
        seq += 1
        row = {**e, "seq": seq, "prev_hash": prev}
        row["entry_hash"] = prev = entry_hash(row)
        rows.append(row)
    if rows:
        conn.execute(insert(access_log), rows)
    return rows


@cache
def _last_entry() -> Any:
    return (select(access_log.c.seq, access_log.c.entry_hash)
            .order_by(access_log.c.seq.desc()).limit(1))


def log_access(engine: Engine, *, at: datetime, who: str, token_id: str | None,
               role: str | None, method: str, path: str, query: str, status: int,
               client: str) -> None:
    """Append one request to the access log, chained to the previous entry."""
    append_entries(engine, [entry(at=at, who=who, token_id=token_id, role=role,
                                  method=method, path=path, query=query, status=status,
                                  client=client)])


class AccessLogWriter:
    """Group commit for a server: requests hand their entries to one writer thread, which
    chains every entry waiting into one transaction, syncs it to disk, then resolves each
    request's future. A request waits for its future before it is answered, so no answer
    leaves before its entry is durable; under load one commit (and one fsync) serves many
    requests instead of one each."""

    def __init__(self, engine: Engine, *, max_batch: int = 256, fsync: bool = True) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.fsync = fsync
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[int]] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.entries = 0

    def submit(self, e: dict[str, Any]) -> Future[int]:
        """Queue an entry (from `entry()`); the future gives its seq once committed."""
        fut: Future[int] = Future()
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="access-log-writer",
                                                daemon=True)
                self._thread.start()
        self._queue.put((e, fut))
        return fut

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._start_lock:
            t = self._thread
            self._thread = None
        if t is not None and t.is_alive():
            self._queue.put(None)
            t.join(30)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[tuple[dict[str, Any], Future[int]]] = []
            while True:
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                if stop or len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                rows = append_entries(self.engine, [e for e, _ in batch], fsync=self.fsync)
            except Exception as exc:  # each waiting request fails; the server goes on
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            self.batches += 1
            self.entries += len(rows)
            for (_, fut), row in zip(batch, rows, strict=True):
                fut.set_result(int(row["seq"]))


# checkpoints: the access log's head signed into seals ---------------------------------
def head(conn: Any) -> tuple[int, str] | None:
    """The access log's last entry as (seq, entry_hash), or None while it is empty."""
    last = conn.execute(_last_entry()).first()
    return (int(last.seq), str(last.entry_hash)) if last else None


def note_with_head(note: str | None, at: tuple[int, str] | None) -> str | None:
    """A seal's note carrying the access log's head (`{"access_log": [seq, entry_hash]}`),
    so the seal's signature also commits to every access-log entry up to it. A note that
    is free text (an adoption's reason) is left as it is."""
    if at is None:
        return note
    if note is None:
        return json.dumps({"access_log": list(at)}, sort_keys=True)
    try:
        d = json.loads(note)
    except ValueError:
        return note
    if not isinstance(d, dict):
        return note
    return json.dumps({**d, "access_log": list(at)}, sort_keys=True)


def head_in_note(note: str | None) -> tuple[int, str] | None:
    """The access-log head a seal's note commits to, if any."""
    if not note or not note.startswith("{"):
        return None
    try:
        v = json.loads(note).get("access_log")
        seq, h = int(v[0]), str(v[1])
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return None
    return (seq, h) if seq >= 1 and len(h) == 64 else None


def iter_access(engine: Engine, batch: int = 5000) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(access_log).where(access_log.c.seq > last)
                                .order_by(access_log.c.seq).limit(batch)).mappings().all()
        if not rows:
            return
        for r in rows:
            yield dict(r)
        last = int(rows[-1]["seq"])


@dataclass(frozen=True)
class Claim:
    """A signed seal's statement that the access log had entry #seq with this hash."""

    seq: int
    entry_hash: str
    label: str  # which seal said so (for the problem line)


def verify_access_log(engine: Engine, claims: Sequence[Claim] = ()
                      ) -> tuple[int, list[str]]:
    """Walk the access log: (entries checked, problems), each problem naming its entry.

    `claims` (from seals whose signature verified) anchor the log: an entry a seal saw that
    is missing now means the log's tail was cut off; one that differs means it was
    rewritten. Entries after the newest claim are anchored by nothing yet."""
    problems: list[str] = []
    want: dict[int, list[Claim]] = {}
    for c in claims:
        want.setdefault(c.seq, []).append(c)
    with engine.connect() as conn:  # entries below #1: the walk from #1 never sees them
        low = conn.execute(select(func.count(), func.min(access_log.c.seq),
                                  func.max(access_log.c.seq)).where(access_log.c.seq < 1)).one()
    if low[0]:
        problems.append(f"access log: entries #{low[1]}..#{low[2]} lie before entry #1, "
                        f"outside the log's chain ({low[0]} inserted)")
    prev, expect, n = GENESIS, 1, 0
    for r in iter_access(engine):
        n += 1
        seq = int(r["seq"])
        if seq != expect:
            problems.append(f"access log: entry #{seq} follows #{expect - 1} "
                            f"(entries #{expect}..#{seq - 1} missing)")
        if r["prev_hash"] != prev:
            problems.append(f"access log: entry #{seq} does not chain to the entry before it")
        if entry_hash(r) != r["entry_hash"]:
            problems.append(f"access log: entry #{seq} was altered (hash mismatch)")
        for c in want.pop(seq, []):
            if c.entry_hash != r["entry_hash"]:
                problems.append(f"access log: entry #{seq} is not the entry {c.label} saw "
                                "(the log was rewritten from there on)")
                break
        prev, expect = r["entry_hash"], seq + 1
    if want:
        top = max(want)
        problems.append(f"access log: entry #{top} is missing, but {want[top][0].label} saw "
                        f"it: entries #{expect}..#{top} (at least) were cut off")
    return n, problems


def anchored(claims: Sequence[Claim]) -> int:
    """The newest access-log entry a valid seal commits to (0: none)."""
    return max((c.seq for c in claims), default=0)


def access_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)).scalar() or 0)

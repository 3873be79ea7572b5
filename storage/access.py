"""Portal bearer tokens (only their SHA-256 is stored) and the hash-chained access log.

A token is shown once, when created; the index keeps its hash, name, role and expiry, so a
copy of the index gives nobody a working token. Every request the portal answers is appended
to `access_log`; each entry's `entry_hash` covers its columns and the previous entry's hash,
so an edited, deleted or reordered entry breaks the chain and `evidence verify` names it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from connectors.errors import ConfigError
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
    """The active token matching `token`, or None (unknown, expired or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(
            api_tokens.c.token_sha256 == token_hash(token))).first()
    if row is None:
        return None
    tok = _tok(row)
    return tok if tok.active(now) else None


# access log ---------------------------------------------------------------------------
_FIELDS = ("seq", "at", "token_id", "who", "role", "method", "path", "query", "status",
           "client", "prev_hash")


def entry_hash(row: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an entry's columns (times as ISO 8601 UTC)."""
    return sha256_hex(canonical({k: row[k] for k in _FIELDS}))


def log_access(engine: Engine, *, at: datetime, who: str, token_id: str | None,
               role: str | None, method: str, path: str, query: str, status: int,
               client: str) -> None:
    """Append one request to the access log, chained to the previous entry."""
    for _ in range(5):
        try:
            with writer(engine).begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(727275)"))
                last = conn.execute(select(access_log.c.seq, access_log.c.entry_hash)
                                    .order_by(access_log.c.seq.desc()).limit(1)).first()
                seq, prev = (int(last.seq) + 1, last.entry_hash) if last else (1, GENESIS)
                row: dict[str, Any] = {
                    "seq": seq, "at": at, "token_id": token_id, "who": who[:128],
                    "role": role, "method": method[:8], "path": path[:2000],
                    "query": query[:2000], "status": status, "client": client[:64],
                    "prev_hash": prev}
                row["entry_hash"] = entry_hash(row)
                conn.execute(insert(access_log).values(**row))
                return
        except SAIntegrityError:
            continue  # another writer took this seq; chain onto theirs
    raise ConfigError("access log: could not append after 5 attempts")


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


def verify_access_log(engine: Engine) -> tuple[int, list[str]]:
    """Walk the access log: (entries checked, problems), each problem naming its entry."""
    problems: list[str] = []
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
        prev, expect = r["entry_hash"], seq + 1
    return n, problems


def access_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)).scalar() or 0)

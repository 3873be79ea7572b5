"""The evidence store: blobs first, then the ledgered index record, then seals."""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connectors.errors import ConfigError, StorageError
from storage import keys
from storage.blobs import BlobStore, FileBlobStore, S3BlobStore
from storage.canonical import canonical, sha256_hex
from storage.index import make_engine, migrate, records, runs, seals, writer
from storage.ledger import Ranges, Seal, append_rows, make_seal
from storage.queries import PERMANENT_GAP

if TYPE_CHECKING:
    from storage.rotation import KeyChain
    from storage.runlock import RunLock
    from storage.settings import StoreSettings as Config
    from storage.vouched import Vouched

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A 20-hex-digit random ID, time-prefixed so IDs sort roughly by creation."""
    return f"{int(utcnow().timestamp()):08x}{secrets.token_hex(6)}"


@dataclass
class NewRecord:
    """One snapshot's outcome, as the collector hands it to the store."""

    run_id: str
    connector: str
    instance: str
    snapshot: str
    kind: str
    controls: Sequence[str]
    max_age_seconds: int
    collected_started_at: datetime
    collected_finished_at: datetime
    status: str  # complete | partial | failed
    ipe: dict[str, Any]
    content: Any = None
    record_count: int = 0
    effective_at: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    findings: list[dict[str, Any]] | None = None
    error: str | None = None
    has_content: bool = field(default=False)


class EvidenceStore:
    """Append-only access to the index, the blobs and the signing key."""

    def __init__(self, engine: Engine, blobs: BlobStore, key_path: Path | None,
                 clock: Clock = utcnow) -> None:
        self.engine = engine
        self.writer = writer(engine)
        self.blobs = blobs
        self.key_path = key_path
        self.clock = clock
        self._key: Ed25519PrivateKey | None = None
        self._run_locks: dict[str, RunLock] = {}

    @classmethod
    def open(cls, config: Config, *, create: bool = True, clock: Clock = utcnow) -> EvidenceStore:
        """Open the store the config names. With `create` (commands that write), create and
        migrate the index as needed; without it (read commands), never create or change
        anything: a missing index or one at an older schema is a clear StorageError."""
        url = config.index_url()
        if not create:
            _require_sqlite_file(url)
        try:
            engine = make_engine(url)
            if create:
                migrate(engine)
        except (OperationalError, SQLAlchemyError) as e:
            raise StorageError(f"index {_safe_url(config.store.index_url)} cannot be opened: "
                               f"{_first_line(e)}") from None
        if not create:
            engine = _require_current_schema(engine, url, config.store.index_url)
        blobs = open_blobs(config)
        if create and isinstance(blobs, FileBlobStore):
            blobs.sweep_tmp()
        return cls(engine, blobs, config.resolve_path(config.signing.key_file), clock)

    # keys -------------------------------------------------------------------------------
    def has_key(self) -> bool:
        return self.key_path is not None and self.key_path.exists()

    @property
    def key(self) -> Ed25519PrivateKey:
        """The signing key. Created only for a store that was never sealed: a store sealed by
        one key refuses a missing or different key (ConfigError) unless a rotation to it is
        recorded (`evidence key rotate`), rather than sealing with a key an auditor does not
        trust."""
        if self._key is None:
            if self.key_path is None:
                raise ConfigError("no signing key configured ([signing] key_file)")
            with self.engine.connect() as conn:
                newest = self._newest_key_id(conn)
                expected = self._expected_key_id(conn) if newest is not None else None
            if not self.key_path.exists() and newest is not None:
                raise ConfigError(
                    f"signing key {self.key_path} is missing, but this store is sealed by key "
                    f"{expected}: restore the key file (a new key would not be trusted)")
            key = keys.load_or_create(self.key_path)
            with self.engine.connect() as conn:
                why = self._key_problem(conn, key)
            if why is not None:
                raise ConfigError(why)
            self._key = key
        return self._key

    @staticmethod
    def _newest_key_id(conn: Connection) -> str | None:
        kid = conn.execute(select(seals.c.key_id).order_by(seals.c.id.desc()).limit(1)).scalar()
        return None if kid is None else str(kid)

    @staticmethod
    def _expected_key_id(conn: Connection) -> str | None:
        """The key the newest seal hands on to, for messages only: the new key when that
        seal is a rotation (signed by the old key), else the key that signed it."""
        from storage.rotation import ROTATE

        row = conn.execute(select(seals.c.key_id, seals.c.purpose, seals.c.note)
                           .order_by(seals.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        if row.purpose == ROTATE and row.note:
            try:
                new = json.loads(row.note).get("new_key_id")
            except (ValueError, AttributeError):
                new = None
            if isinstance(new, str):
                return new
        return str(row.key_id)

    @staticmethod
    def _sealed_by_chain(conn: Connection, chain: KeyChain) -> bool:
        """Whether some seal in the index verifies with a key of `chain` (the store's history
        is linked to the key we hold), whatever seals an insider added with other keys."""
        for kid, pub in chain.pubs.items():
            # newest first: the first that verifies settles it (rows an insider added with
            # this key id and a bad signature only cost a check each)
            rows = conn.execute(select(seals).where(seals.c.key_id == kid)
                                .order_by(seals.c.id.desc())
                                .execution_options(yield_per=64))  # streamed, not fetched
            if any(Seal.from_row(row).valid(pub) for row in rows):
                return True
        return False

    def _key_problem(self, conn: Connection, key: Ed25519PrivateKey) -> str | None:
        """Why `key` may not seal this store now, or None. The chain of keys is built from
        `key` itself (we hold it), so a rotation forged into the index can neither hand the
        store to another key nor block this one: verify reports it."""
        from storage.rotation import key_chain

        kid = keys.key_id(key.public_key())
        chain = key_chain(key.public_key(), self.rotation_seals(conn))
        if chain.current != kid:
            at = chain.window[kid][1]
            return (f"signing key {self.key_path} is key {kid}, which was rotated out (to key "
                    f"{chain.current}) at #{at}: use the new key file")
        newest = self._newest_key_id(conn)
        if newest is not None and not self._sealed_by_chain(conn, chain):
            expected = self._expected_key_id(conn)
            return (f"signing key {self.key_path} is key {kid}, but this store is sealed by key "
                    f"{expected} and no rotation to key {kid} is recorded: restore the right "
                    f"key file, or record a rotation with `evidence key rotate` while holding "
                    f"key {expected}")
        return None

    def rotation_seals(self, conn: Connection | None = None) -> list[tuple[str, Seal]]:
        """Every index seal that claims to be a key rotation, in ledger order, labelled."""
        from storage.rotation import ROTATE

        if conn is None:
            with self.engine.connect() as c:
                return self.rotation_seals(c)
        rows = conn.execute(select(seals).where(seals.c.purpose == ROTATE)
                            .order_by(seals.c.seq, seals.c.id)).all()
        return [(f"rotation seal at #{r.seq} ({r.sealed_at:%Y-%m-%dT%H:%M:%SZ})",
                 Seal.from_row(r)) for r in rows]

    def key_chain(self, anchor: Ed25519PublicKey) -> KeyChain:
        """The keys the rotations recorded in this store link to `anchor`."""
        from storage.rotation import key_chain

        return key_chain(anchor, self.rotation_seals())

    def rotate(self, new: Ed25519PrivateKey, reason: str | None) -> Seal:
        """Record a rotation to `new`, signed by the current key (and by `new`): from this
        seal on, seals are made with `new`."""
        from storage.rotation import ROTATE, rotation_note

        old = self.key
        if keys.key_id(old.public_key()) == keys.key_id(new.public_key()):
            raise ConfigError("the new key is the current key")
        seal = self.seal(None, purpose=ROTATE,
                         note=lambda seq, head: rotation_note(old, new, seq, head, reason))
        self._key = new
        return seal

    def vouched(self, anchor: Ed25519PublicKey | None = None, *,
                full: bool = False) -> Vouched:
        """Which records are sealed evidence now (storage/vouched.py): what every read
        answer and every derivation that writes a record may use. Seals are checked as far
        down the ledger as records are asked about; `full` checks them all now (a server)."""
        from storage.vouched import vouched

        return vouched(self, anchor, full=full)

    def public_key(self) -> Ed25519PublicKey:
        """The public half of the store's key; never creates a key (read commands use it)."""
        if self._key is not None:
            return self._key.public_key()
        if self.key_path is None or not self.key_path.exists():
            raise ConfigError(f"no signing key at {self.key_path}: give the store's public key "
                              "with --public-key, or restore the key file")
        return keys.load_private(self.key_path).public_key()

    # writing ----------------------------------------------------------------------------
    def put_json(self, value: Any) -> tuple[str, int]:
        """Store `value` as a canonical JSON blob; returns (sha256, size)."""
        data = canonical(value)
        sha = sha256_hex(data)
        self.blobs.put(sha, data)
        return sha, len(data)

    def append(self, new: Sequence[NewRecord]) -> list[dict[str, Any]]:
        """Write each record's blobs (durably), then chain the records into the index."""
        return self.append_rows([self._row(n) for n in new])

    def append_rows(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain prepared rows (blobs already stored) into the index."""
        try:
            with self.writer.begin() as conn:
                return append_rows(conn, rows)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot append to the index: {_first_line(e)}") from None

    def _row(self, n: NewRecord) -> dict[str, Any]:
        content_sha, size = (None, 0)
        if n.has_content:
            content_sha, size = self.put_json(n.content)
        ipe_sha, _ = self.put_json(n.ipe)
        findings_sha = None
        assessment: dict[str, int] = {}
        if n.findings is not None:
            findings_sha, _ = self.put_json(n.findings)
            for f in n.findings:
                assessment[f["status"]] = assessment.get(f["status"], 0) + 1
        return {
            "id": new_id(), "run_id": n.run_id, "connector": n.connector,
            "instance": n.instance, "snapshot": n.snapshot, "kind": n.kind,
            "source": n.ipe.get("source"), "principal": n.ipe.get("principal"),
            "collected_started_at": n.collected_started_at,
            "collected_finished_at": n.collected_finished_at,
            "effective_at": n.effective_at, "period_start": n.period_start,
            "period_end": n.period_end, "status": n.status,
            "complete": n.status == "complete",
            "record_count": n.record_count, "api_calls": int(n.ipe.get("api_calls", 0)),
            "pages": int(n.ipe.get("pages", 0)), "retries": int(n.ipe.get("retries", 0)),
            "api_totals": dict(n.ipe.get("api_totals", {})),
            "content_sha256": content_sha, "content_size": size, "ipe_sha256": ipe_sha,
            "findings_sha256": findings_sha, "assessment": assessment,
            "controls": sorted(n.controls), "max_age_seconds": n.max_age_seconds,
            "error": n.error,
        }

    def seal(self, run_id: str | None, covers: Iterable[int] = (), *, purpose: str = "run",
             note: str | Callable[[int, str], str] | None = None, adopt: Ranges = ()) -> Seal:
        """Sign the ledger head and vouch for `covers` (the records this run wrote): the
        seal goes to the index and to the seal store, or to neither (StorageError)."""
        from storage import access

        key = self.key
        try:
            with self.writer.begin() as conn:
                if self._key_problem(conn, key) is not None and self.key_path is not None:
                    # rotated since this process loaded its key: the key file has the new one
                    self._key = None
                    key = keys.load_private(self.key_path)
                    why = self._key_problem(conn, key)
                    if why is not None:
                        raise ConfigError(why)
                    self._key = key
                # every seal also commits to the access log's head as it is now, so cutting
                # entries off the log's tail is caught (storage/access.py)
                at = access.head(conn)

                def note_at(seq: int, head: str) -> str | None:
                    own = note(seq, head) if callable(note) else note
                    return access.note_with_head(own, at)

                seal = make_seal(conn, key, self.clock(), run_id, covers, purpose, note_at,
                                 adopt)
                # written before the index commits: an index seal always has its file
                self.blobs.put_seal(seal_file_name(seal),
                                    json.dumps(seal.to_json(), indent=2).encode())
        except OSError as e:
            raise StorageError(f"cannot write the seal to the seal store: {e}") from None
        except SQLAlchemyError as e:
            raise StorageError(f"cannot write the seal to the index: {_first_line(e)}") from None
        return seal

    # runs -------------------------------------------------------------------------------
    def start_run(self, trigger: str) -> str:
        """Record a new run; it holds its run lock (storage/runlock.py) until finish_run, so
        `verify` can tell a live run from a row that only says `running`."""
        from storage import runlock

        run_id = new_id()
        lock = runlock.hold(self.engine, run_id)  # before the row: a running row without a
        try:                                      # held lock is never a live run
            with self.writer.begin() as conn:
                conn.execute(insert(runs).values(
                    id=run_id, trigger=trigger, host=socket.gethostname()[:255],
                    pid=os.getpid(), started_at=self.clock(), status="running", summary={}))
        except BaseException:
            lock.release()
            raise
        self._run_locks[run_id] = lock
        return run_id

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        try:
            with self.writer.begin() as conn:
                conn.execute(update(runs).where(runs.c.id == run_id).values(
                    finished_at=self.clock(), status=status, summary=summary))
        finally:
            lock = self._run_locks.pop(run_id, None)
            if lock is not None:
                lock.release()

    # reading ----------------------------------------------------------------------------
    def record(self, rid: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(records).where(records.c.id == rid)).mappings().first()
            return dict(row) if row else None

    def watermark(self, connector: str, instance: str, snapshot: str) -> datetime | None:
        """Where a population's next window starts: the end of its last complete window, or
        of a permanent gap (a span the source no longer keeps, recorded once)."""
        with self.engine.connect() as conn:
            mark: datetime | None = conn.execute(
                select(func.max(records.c.period_end)).where(
                    records.c.connector == connector, records.c.instance == instance,
                    records.c.snapshot == snapshot,
                    or_(records.c.status == "complete",
                        and_(records.c.status == "failed",
                             records.c.error.like(PERMANENT_GAP + "%"))))).scalar()
        return mark

    def blob_json(self, sha: str) -> Any:
        return json.loads(self.blobs.get(sha))

    def iter_records(self, batch: int = 5000, upto: int | None = None
                     ) -> Iterator[dict[str, Any]]:
        """Every record (up to seq `upto`) in ledger order, streamed in batches."""
        last = 0
        while True:
            q = select(records).where(records.c.seq > last)
            if upto is not None:
                q = q.where(records.c.seq <= upto)
            with self.engine.connect() as conn:
                rows = conn.execute(q.order_by(records.c.seq).limit(batch)).mappings().all()
            if not rows:
                return
            for r in rows:
                yield dict(r)
            last = int(rows[-1]["seq"])

    def close(self) -> None:
        for lock in list(self._run_locks.values()):
            lock.release()
        self._run_locks.clear()
        self.engine.dispose()


def seal_file_name(seal: Seal) -> str:
    """Seal files sort by the seq they seal."""
    return f"{seal.seq:012d}-{seal.sealed_at.strftime('%Y%m%dT%H%M%S%fZ')}-{seal.key_id}.json"


def open_blobs(config: Config) -> BlobStore:
    """The blob store the config names (S3 with Object Lock, or a local folder)."""
    if config.store.s3 is not None:
        s3 = config.store.s3
        import boto3
        from botocore.config import Config as BotoConfig

        session = boto3.Session(profile_name=s3.profile) if s3.profile else boto3.Session()
        client = session.client("s3", region_name=s3.region, endpoint_url=s3.endpoint_url,
                                config=BotoConfig(retries={"mode": "standard"}))
        return S3BlobStore(client, s3.bucket, s3.prefix, s3.object_lock_mode, s3.retention_days)
    seal_dir = config.resolve_path(config.store.seal_dir) if config.store.seal_dir else None
    return FileBlobStore(config.resolve_path(config.store.blob_dir), seal_dir)


def _require_sqlite_file(url: str) -> None:
    """A read command never creates an SQLite index (connecting would create the file)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
            and not u.database.startswith("file:") and not Path(u.database).is_file():
        raise StorageError(f"no evidence index at {u.database}: nothing was collected into this "
                           "store yet (`evidence collect` creates it)")


def _require_current_schema(engine: Engine, url: str, shown: str) -> Engine:
    """A read command never migrates: the index must already be at this version's schema.
    An SQLite index on read-only media is opened immutable (nobody can write it there)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.index import schema_head

    def version(eng: Engine) -> list[str]:
        with eng.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version"))
            return [str(r[0]) for r in rows]

    try:
        try:
            got = version(engine)
        except OperationalError:
            u = make_url(url)
            db = u.database or ""
            if u.get_backend_name() != "sqlite" or db.startswith("file:") or \
                    db == ":memory:" or os.access(Path(db).parent, os.W_OK):
                raise
            engine.dispose()
            engine = make_engine(f"sqlite:///file:{db}?mode=ro&immutable=1&uri=true")
            got = version(engine)
    except SQLAlchemyError as e:
        msg = _first_line(e)
        if "no such table" in msg or "does not exist" in msg:
            raise StorageError(f"index {_safe_url(shown)} holds no evidence index (no schema "
                               "version): `evidence collect` creates it") from None
        raise StorageError(f"index {_safe_url(shown)} cannot be read: {msg}") from None
    head = schema_head()
    if got != [head]:
        raise StorageError(
            f"index {_safe_url(shown)} is at schema revision {', '.join(got) or 'none'}, this "
            f"version reads {head}: read commands never migrate; a writing command (`evidence "
            "collect`) upgrades it")
    return engine


def _first_line(e: BaseException) -> str:
    return str(getattr(e, "orig", None) or e).strip().splitlines()[0][:300]


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<index url>"

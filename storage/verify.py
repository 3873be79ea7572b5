"""`evidence verify`: re-hash every blob, walk the chain, check every seal and what it covers.

What is checked (threat model: write access to the index and the blob store, not the key):
- every blob re-hashes to its name; every blob a record names exists;
- the records form one chain #1..head (no gap, no edit, no rewrite), and no row lies
  outside it (beyond the head), whatever its timestamps;
- every seal verifies with the key, matches the record at its seq, and every index seal has
  its file in the seal store (and every seal file its index seal);
- every record up to the head is vouched for by some seal (run-scoped seals, see
  docs/DESIGN-notes.md): a record no seal covers was not written by a run holding the key.

Scale: the chain is cut into ranges checked by worker processes (record hashing is pure
Python, so threads would share one core), blobs are re-hashed by worker processes too, and
seals are streamed, so memory stays flat. On SQLite, records are hashed from untyped rows
(`_fast_hash`); a row whose hash does not match is re-decided by the typed path.
`since_last` checks only what was added after the newest verify checkpoint (a seal a full
verify writes when it found nothing wrong).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import JSON, Boolean, Engine, func, select

from storage import keys, runlock
from storage.access import Claim, head_in_note
from storage.blobs import _SHA, FileBlobStore
from storage.blobs import _check as _check_sha
from storage.canonical import _dumps
from storage.index import GENESIS, UTCDateTime, ledger_head, records, runs, seals
from storage.ledger import HASHED, RECORD_VERSION, Ranges, Seal, fmt_ranges, record_hash
from storage.rotation import KeyChain
from storage.store import EvidenceStore

# Seals stamped within this of verify's start are taken as written concurrently.
CONCURRENT_SLACK = timedelta(seconds=5)
# A record this long after its (hashed) collection time is reported unsealed even while its
# run still holds its run lock.
RUN_MAX = timedelta(hours=12)
# Below this many records verify works in-process; above it, worker processes share the work.
PARALLEL_MIN = 20_000
CHUNK = 25_000
CHECKPOINT = "checkpoint"
# Blob files are read through one buffer of this size per worker.
_READ = 1 << 18
_OPEN = os.O_RDONLY | os.O_NONBLOCK
# Blob re-hashing tasks: this many top-level folders of the tree (of 256) each.
TREE_TOPS = 4


@dataclass(frozen=True)
class Problem:
    """One thing that does not match."""

    kind: str  # blob | record | chain | seal | unsealed | access-log
    subject: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"


@dataclass
class VerifyReport:
    """What `verify` checked and what it found wrong."""

    records: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    seals: int = 0
    head_seq: int = 0
    since_seq: int = 0  # with since_last: the checkpoint verified from
    pending: list[str] = field(default_factory=list)  # unsealed records of running runs
    checkpoint: int | None = None
    checkpoint_error: str | None = None  # a clean verify that could not seal its checkpoint
    seal_max_id: int = 0  # the newest index seal when the seals were read
    access_entries: int = 0  # access-log entries checked
    access_anchored: int = 0  # the newest access-log entry a valid seal commits to
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "blobs": self.blobs,
                "blob_bytes": self.blob_bytes, "seals": self.seals, "head_seq": self.head_seq,
                "since_seq": self.since_seq, "pending": self.pending,
                "checkpoint": self.checkpoint, "checkpoint_error": self.checkpoint_error,
                "access_log": {"entries": self.access_entries,
                               "anchored_upto": self.access_anchored},
                "problems": [p.to_json() for p in self.problems]}


def _chunks(it: Iterable[str], n: int) -> Iterator[list[str]]:
    buf: list[str] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


# workers ----------------------------------------------------------------------------------
_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    if url not in _ENGINES:
        from storage.index import make_engine

        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def _rehash(path: str, buf: bytearray) -> tuple[str, int] | None:
    """(SHA-256, size) of the file at `path`, read to its end into `buf` (one buffer per
    worker: no allocation per file); None when it is missing. Opened without blocking, so a
    FIFO put in a blob's place reads as empty (a changed blob) instead of waiting for ever;
    a folder raises OSError (the caller names it unreadable)."""
    try:
        fd = os.open(path, _OPEN)
    except FileNotFoundError:
        return None
    try:
        h = hashlib.sha256()
        view = memoryview(buf)
        size = 0
        while n := os.readv(fd, (buf,)):
            h.update(view[:n])
            size += n
        return h.hexdigest(), size
    finally:
        os.close(fd)


def _hash_files(root: str, shas: list[str]) -> tuple[int, int, list[tuple[str, str]]]:
    """Re-hash the blob files named: (files, bytes read, [(sha, problem)])."""
    for sha in shas:
        _check_sha(sha)
    return _rehash_all(root, shas)


def _rehash_all(root: str, shas: Iterable[str]) -> tuple[int, int, list[tuple[str, str]]]:
    """Re-hash each named blob file from the path its name gives: (files, bytes read,
    [(sha, problem)])."""
    base = os.path.join(root, "sha256")
    buf = bytearray(_READ)
    files = total = 0
    bad: list[tuple[str, str]] = []
    for sha in shas:
        files += 1
        try:
            got = _rehash(f"{base}/{sha[:2]}/{sha[2:4]}/{sha}", buf)
        except OSError as e:  # a folder (or worse) in a blob's place
            bad.append((sha, _unreadable(e)))
            continue
        if got is None:
            bad.append((sha, "missing"))
            continue
        total += got[1]
        if got[0] != sha:
            bad.append((sha, f"content changed (now hashes to {got[0]})"))
    return files, total, bad


def _unreadable(e: OSError) -> str:
    return f"unreadable ({e.strerror or type(e).__name__}): not a blob file"


def _hash_tree(root: str, tops: list[str]) -> tuple[int, int, list[tuple[str, str]]]:
    """List and re-hash the blob files under `root/sha256/<top>/` for each of `tops`, as
    `FileBlobStore.shas` lists them (every name at depth three that is a SHA-256) and
    `rehash` reads them (from the path the name gives): (files, bytes, [(sha, problem)]).

    Listing here, in the worker, spreads the walk of the tree over every core."""
    base = os.path.join(root, "sha256")
    return _rehash_all(root, (sha for a in tops for b in sorted(_listdir(f"{base}/{a}"))
                              for sha in sorted(_listdir(f"{base}/{a}/{b}"))
                              if _SHA.match(sha)))


def _listdir(path: str) -> list[str]:
    """The names in a folder of the blob tree; none when it is not a folder (any more)."""
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


@dataclass
class ChunkResult:
    """What one range of the chain looked like."""

    lo: int
    hi: int
    count: int = 0
    first: tuple[int, str] | None = None  # (seq, prev_hash) of its first record
    last: tuple[int, str] | None = None  # (seq, record_hash) of its last record
    sealed: dict[int, str] = field(default_factory=dict)  # seq -> record_hash, sealed seqs
    problems: list[tuple[str, str, str]] = field(default_factory=list)


def _check_range(url: str | None, engine: Engine | None, blob_root: str | None,
                 lo: int, hi: int, sealed_seqs: frozenset[int] | None = None) -> ChunkResult:
    """Hash and link records #lo..#hi, and check the blobs they name exist."""
    eng = engine if engine is not None else _engine(str(url))
    res = ChunkResult(lo, hi)
    with eng.connect() as conn:
        if sealed_seqs is None:
            sealed_seqs = frozenset(int(x) for x in conn.execute(
                select(seals.c.seq).where(seals.c.seq >= lo, seals.c.seq <= hi)).scalars())
    root = os.path.join(blob_root, "sha256") if blob_root else None
    present: dict[str, bool] = {}  # blob -> exists (bounded)

    def exists(sha: str) -> bool:
        if root is None:
            return True  # not a file store: the parent checks
        got = present.get(sha)
        if got is None:
            if len(present) >= 50_000:
                present.clear()
            got = present[sha] = os.path.isfile(f"{root}/{sha[:2]}/{sha[2:4]}/{sha}")
        return got

    def subject(t: Sequence[Any]) -> str:
        return f"#{t[_SEQ]} ({t[_ID]}, {t[_CONN]}/{t[_INST]}/{t[_SNAP]})"

    problems = res.problems
    sealed = res.sealed
    expected, prev = lo, None
    last_seq = lo - 1
    cur = lo
    while cur <= hi:
        rows = _hashed_raw(eng, cur, hi, 5000)
        if not rows:
            break
        res.count += len(rows)
        if res.first is None:
            res.first = (int(rows[0][0][_SEQ]), str(rows[0][0][_PREV]))
        for t, h in rows:
            seq = int(t[_SEQ])
            if seq != expected:
                span = f"#{expected}" if seq == expected + 1 else f"#{expected}..#{seq - 1}"
                problems.append(("chain", span, "record(s) missing from the chain "
                                 f"(deleted: sequence jumps from #{expected - 1} to #{seq})"))
            elif prev is not None and t[_PREV] != prev:
                problems.append(("chain", subject(t), f"prev_hash does not match record "
                                 f"#{seq - 1}: the chain was rewritten"))
            stored = t[_HASH]
            if h != stored:
                problems.append(("record", subject(t),
                                 "edited: its fields no longer match its record_hash"))
            for i in _BLOB_COLS:
                sha = t[i]
                if not sha:
                    continue
                if sha.__class__ is not str or not _SHA.match(sha):
                    # never turned into a path: it could name a file outside the store
                    problems.append(("record", subject(t), f"{_RAW_COLS[i]} {sha!r}: not a "
                                     "SHA-256 hex digest"))
                elif not exists(sha):
                    problems.append(("record", subject(t),
                                     f"{_RAW_COLS[i]} {sha}: blob missing"))
            prev = str(stored)
            if seq in sealed_seqs:
                sealed[seq] = prev
            expected = seq + 1
        last_seq = expected - 1
        res.last = (last_seq, str(prev))
        cur = last_seq + 1
    if last_seq < hi:
        span = f"#{last_seq + 1}" if last_seq + 1 == hi else f"#{last_seq + 1}..#{hi}"
        problems.append(("chain", span, "record(s) missing from the chain (deleted or "
                         f"cut off: the ledger head is at or beyond #{hi})"))
    return res


def _hashed_rows(eng: Engine, lo: int, hi: int, limit: int
                 ) -> list[tuple[dict[str, Any], str]]:
    """`_hashed_raw`, each row as a mapping."""
    return [(dict(zip(_RAW_COLS, t, strict=True)), h) for t, h in _hashed_raw(eng, lo, hi, limit)]


def _hashed_raw(eng: Engine, lo: int, hi: int, limit: int
                ) -> list[tuple[Sequence[Any], str]]:
    """Up to `limit` records from #lo to #hi in seq order, each as its `_RAW_COLS` values
    with the record_hash its fields give. On SQLite the rows are read untyped and hashed by
    `_fast_hash` (several times cheaper than decoding every column); a row it cannot hash,
    or whose hash does not match, is decided by the typed path, so the answer is the typed
    path's for every row."""
    if eng.dialect.name != "sqlite":
        with eng.connect() as conn:
            rows = conn.execute(select(records).where(records.c.seq >= lo, records.c.seq <= hi)
                                .order_by(records.c.seq).limit(limit)).mappings().all()
        return [(tuple(r[c] for c in _RAW_COLS), record_hash(r))
                for r in (dict(x) for x in rows)]
    out: list[tuple[Sequence[Any], str]] = []
    fast = _fast_hash
    with eng.connect() as conn:
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            raw = cur.execute(_RAW_SELECT, (lo, hi, limit)).fetchall()
        finally:
            cur.close()
        for t in raw:
            h = fast(t)
            if h is not None and h == t[_HASH]:
                out.append((t, h))
                continue
            try:
                r = dict(conn.execute(select(records).where(records.c.seq == t[_SEQ]))
                         .mappings().one())
                out.append((tuple(r[c] for c in _RAW_COLS), record_hash(r)))
            except Exception:  # a value not even the typed path can read: edited
                out.append((t, "unreadable"))
    return out


_RAW_COLS = (*HASHED, "record_hash")
_SEQ = _RAW_COLS.index("seq")
_HASH = _RAW_COLS.index("record_hash")
_PREV = _RAW_COLS.index("prev_hash")
_ID, _CONN, _INST, _SNAP = (_RAW_COLS.index(c) for c in ("id", "connector", "instance",
                                                          "snapshot"))
_BLOB_COLS = tuple(_RAW_COLS.index(c) for c in ("content_sha256", "ipe_sha256",
                                                "findings_sha256"))
_RAW_SELECT = (f"SELECT {', '.join(_RAW_COLS)} FROM records WHERE seq >= ? AND seq <= ? "
               "ORDER BY seq LIMIT ?")
_TIMES = frozenset(i for i, n in enumerate(HASHED) if isinstance(records.c[n].type, UTCDateTime))
_BOOLS = frozenset(i for i, n in enumerate(HASHED) if isinstance(records.c[n].type, Boolean))
_JSONS = frozenset(i for i, n in enumerate(HASHED) if isinstance(records.c[n].type, JSON))
_SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
# the hashed object's members in canonical (sorted) order: (index in the raw row or -1 for
# the version, `"name":` as canonical JSON writes it)
_MEMBERS = [(HASHED.index(k) if k != "v" else -1, f"{encode_basestring(k)}:")
            for k in sorted((*HASHED, "v"))]


@lru_cache(maxsize=4096)
def _json_member(text: str) -> str:
    """A JSON column's stored text as canonical JSON (these repeat: controls, totals)."""
    return _dumps(json.loads(text))


def _fast_hash_reference(raw: Sequence[Any]) -> str | None:
    """The hash `record_hash` gives an untyped SQLite row in the forms the index writes:
    times as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC; `iso` writes `YYYY-MM-DDTHH:MM:SS.ffffffZ`),
    booleans as 0/1, JSON columns as JSON text; the canonical JSON is written member by
    member (keys in sorted order, as `canonical` sorts them). None for any other form.

    Sound as a shortcut when it matches the stored hash: equal bytes parse to the same JSON
    document the typed path would serialize. The caller sends every mismatch to the typed
    path, so a form written differently from RFC 8785 costs time, never a verdict."""
    parts: list[str] = []
    try:
        for i, key in _MEMBERS:
            if i < 0:
                parts.append(f"{key}{RECORD_VERSION}")
                continue
            x = raw[i]
            t = type(x)
            if x is None:
                enc = "null"
            elif i in _TIMES:
                if t is not str or not _SQLITE_TIME.fullmatch(x):
                    return None
                enc = f'"{x[:10]}T{x[11:]}Z"'
            elif i in _BOOLS:
                if t is not int or x not in (0, 1):
                    return None
                enc = "true" if x == 1 else "false"
            elif i in _JSONS:
                if t is not str:
                    return None
                enc = _json_member(x)
            elif t is str:
                enc = encode_basestring(x)
            elif t is int:
                enc = str(x)
            else:
                return None
            parts.append(key + enc)
        return hashlib.sha256(("{" + ",".join(parts) + "}").encode("utf-8")).hexdigest()
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        return None


def _compile_fast_hash() -> Callable[[Sequence[Any]], str | None]:
    """`_fast_hash_reference` as one straight-line function generated from `_MEMBERS`: the
    same test per column (by its kind), the same encoding, the same answer for every row
    (tests/test_verify_fast.py compares them), without the per-member loop and its
    dispatch, which cost more than the hashing itself on a million records."""
    body: list[str] = []
    template: list[str] = []
    env: dict[str, Any] = {"_time": _SQLITE_TIME.fullmatch, "_quote": encode_basestring,
                           "_json": _json_member, "_sha256": hashlib.sha256, "_times": {}}
    for i, key in _MEMBERS:
        lit = key.replace("\\", "\\\\").replace("'", "\\'")
        lit = lit.replace("{", "{{").replace("}", "}}")
        if i < 0:
            template.append(f"{lit}{int(RECORD_VERSION)}")
            continue
        template.append(f"{lit}{{e{i}}}")
        body.append(f"        x = raw[{i}]")
        if i in _TIMES:  # neighbouring records share times: cached (bounded)
            body += [f"        e{i} = _times.get(x)", f"        if e{i} is None:",
                     "            if x.__class__ is str and _time(x) is not None:",
                     "                if len(_times) > 4096:", "                    _times.clear()",
                     f"                e{i} = _times[x] = '\"' + x[:10] + 'T' + x[11:] + 'Z\"'",
                     "            elif x is None:", f"                e{i} = 'null'",
                     "            else:", "                return None"]
            continue
        elif i in _BOOLS:
            test, enc = "x.__class__ is int and x in (0, 1)", "'true' if x == 1 else 'false'"
        elif i in _JSONS:
            test, enc = "x.__class__ is str", "_json(x)"
        else:
            test, enc = "x.__class__ is str", "_quote(x)"
            body += [f"        if {test}:", f"            e{i} = {enc}",
                     "        elif x is None:", f"            e{i} = 'null'",
                     "        elif x.__class__ is int:", f"            e{i} = str(x)",
                     "        else:", "            return None"]
            continue
        body += [f"        if {test}:", f"            e{i} = {enc}",
                 "        elif x is None:", f"            e{i} = 'null'",
                 "        else:", "            return None"]
    text = "f'{{" + ",".join(template) + "}}'"
    args = ", ".join(f"{k}={k}" for k in env)  # locals, not globals, in the loop
    src = "\n".join([f"def fast_hash(raw, *, {args}):", "    try:", *body,
                     f"        return _sha256({text}.encode('utf-8')).hexdigest()",
                     "    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):",
                     "        return None"])
    exec(compile(src, "<verify._fast_hash>", "exec"), env)  # our own source, from _MEMBERS
    fn: Callable[[Sequence[Any]], str | None] = env["fast_hash"]
    return fn


_fast_hash = _compile_fast_hash()


def _pool(workers: int) -> Executor:
    # spawn: verify may run beside threads (the scheduler); forking those is unsafe
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


# verify -------------------------------------------------------------------------------------
def verify(store: EvidenceStore, *, public: Ed25519PublicKey | None = None,
           against: Seal | None = None, workers: int | None = None,
           since_last: bool = False, write_checkpoint: bool = False) -> VerifyReport:
    """Check every blob, record and seal of `store`; `against` is a seal kept from earlier.

    With `since_last`, only what was added after the newest valid verify checkpoint. With
    `write_checkpoint`, a clean verify seals a checkpoint (needs the signing key)."""
    rep = VerifyReport()
    workers = workers or os.cpu_count() or 1
    if public is None:
        public = store.public_key()
    # the keys trusted from `public`: it and those recorded rotations link to it
    chain = store.key_chain(public)
    for subject, detail in chain.problems:
        rep.problems.append(Problem("seal", subject, detail))
    with store.engine.connect() as conn:
        # The head is read once, first: records and seals that other collectors append
        # while we verify lie beyond it and are left for the next verify.
        head = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    head_seq = int(head.seq)
    rep.head_seq = head_seq
    started = datetime.now(UTC)

    base = _checkpoint(store, chain, head_seq) if since_last else None
    lo = base.seq + 1 if base is not None else 1
    rep.since_seq = lo - 1

    blob_root = str(store.blobs.root) if isinstance(store.blobs, FileBlobStore) else None
    url = store.engine.url.render_as_string(hide_password=False)
    parallel = workers > 1 and head_seq - lo + 1 >= PARALLEL_MIN and \
        ":memory:" not in url and blob_root is not None
    ranges = [(a, min(a + CHUNK - 1, head_seq)) for a in range(lo, head_seq + 1, CHUNK)]
    claims: list[Claim] = []
    if parallel:
        # Workers re-hash blobs and walk the chain while this process checks the seals
        # (parsing, pairing index seals with files, signatures): every core stays busy.
        assert blob_root is not None
        pool = _pool(workers)
        try:
            blob_jobs = _submit_blobs(pool, store, blob_root, lo, head_seq, base is not None)
            range_jobs = [pool.submit(_check_range, url, None, blob_root, a, b)
                          for a, b in ranges]
            seal_checks = _check_seals(store, rep, chain, against, lo, claims)
            bad = _collect_blobs(rep, blob_jobs)
            chunks = _verify_chain(store, rep, [f.result() for f in range_jobs], blob_root,
                                   lo, head_seq, base, bad, str(head.hash))
        finally:
            pool.shutdown(cancel_futures=True)
    else:
        bad = _verify_blobs(store, rep, workers, lo, head_seq, base is not None)
        chunks = _verify_chain(store, rep, [_check_range(None, store.engine, blob_root, a, b)
                                            for a, b in ranges],
                               blob_root, lo, head_seq, base, bad, str(head.hash))
        seal_checks = _check_seals(store, rep, chain, against, lo, claims)
    sealed_hash: dict[int, str] = {}
    for c in chunks:
        sealed_hash.update(c.sealed)
    seal_problems, covered = _seal_heads(store, seal_checks, sealed_hash)
    rep.problems.extend(seal_problems)
    _outside_chain(store, rep)
    if base is not None:
        _still_checkpointed(store, rep, base)
    _uncovered(store, rep, chain, covered, lo, head_seq, started)
    _check_access_log(store, rep, claims)
    if rep.ok and write_checkpoint:
        rep.checkpoint = _write_checkpoint(store, chain, rep, head_seq)
    return rep


def _submit_blobs(pool: Executor, store: EvidenceStore, root: str, lo: int, hi: int,
                  incremental: bool) -> list[Future[tuple[int, int, list[tuple[str, str]]]]]:
    """Re-hash blobs on the workers: all of them (each worker lists its share of the tree),
    or only those records #lo..#hi name."""
    if incremental:
        return [pool.submit(_hash_files, root, chunk)
                for chunk in _chunks(sorted(_named_blobs(store.engine, lo, hi)), 2000)]
    tops = sorted(_listdir(os.path.join(root, "sha256")))
    return [pool.submit(_hash_tree, root, tops[i:i + TREE_TOPS])
            for i in range(0, len(tops), TREE_TOPS)]


def _collect_blobs(rep: VerifyReport,
                   jobs: list[Future[tuple[int, int, list[tuple[str, str]]]]]) -> dict[str, str]:
    bad: dict[str, str] = {}
    for f in jobs:
        files, total, found = f.result()
        rep.blobs += files
        rep.blob_bytes += total
        for sha, why in found:
            bad[sha] = why
    for sha, why in sorted(bad.items()):
        rep.problems.append(Problem("blob", sha, why))
    return bad


def _verify_blobs(store: EvidenceStore, rep: VerifyReport, workers: int, lo: int, hi: int,
                  incremental: bool) -> dict[str, str]:
    """Re-hash blobs in this process (all of them, or only those records #lo..#hi name);
    bad sha -> why."""
    bad: dict[str, str] = {}
    blobs = store.blobs
    if incremental:
        shas: Iterable[str] = sorted(_named_blobs(store.engine, lo, hi))
    else:
        shas = blobs.shas()

    def check(sha: str) -> tuple[str, tuple[str, int] | str | None]:
        try:
            return sha, blobs.rehash(sha)
        except OSError as e:  # a folder (or worse) in a blob's place
            return sha, _unreadable(e)

    with ThreadPoolExecutor(max_workers=max(2, workers)) as tp:
        for chunk in _chunks(shas, 256):
            for sha, got in tp.map(check, chunk):
                rep.blobs += 1
                if isinstance(got, str):
                    bad[sha] = got
                    continue
                if got is not None:
                    rep.blob_bytes += got[1]
                if got is None or got[0] != sha:
                    bad[sha] = "missing" if got is None else \
                        f"content changed (now hashes to {got[0]})"
    for sha, why in sorted(bad.items()):
        rep.problems.append(Problem("blob", sha, why))
    return bad


def _named_blobs(engine: Engine, lo: int, hi: int) -> set[str]:
    out: set[str] = set()
    with engine.connect() as conn:
        for row in conn.execute(select(records.c.content_sha256, records.c.ipe_sha256,
                                       records.c.findings_sha256)
                                .where(records.c.seq >= lo, records.c.seq <= hi)):
            # a value that is no digest is reported by the record check, never looked up
            out.update(x for x in row if isinstance(x, str) and _SHA.match(x))
    return out


def _verify_chain(store: EvidenceStore, rep: VerifyReport, chunks: list[ChunkResult],
                  blob_root: str | None, lo: int, hi: int, base: Seal | None,
                  bad: dict[str, str], head_hash: str) -> list[ChunkResult]:
    """Join the ranges of records #lo..#hi walked by `_check_range` into one chain."""
    prev: tuple[int, str] | None = (base.seq, base.head_hash) if base is not None else \
        (0, GENESIS)
    for c in chunks:
        rep.records += c.count
        for kind, subject, detail in c.problems:
            rep.problems.append(Problem(kind, subject, detail))
        if c.first is not None and prev is not None and c.first[0] == prev[0] + 1 \
                and c.first[1] != prev[1]:
            rep.problems.append(Problem("chain", f"#{c.first[0]}", f"prev_hash does not match "
                                        f"record #{prev[0]}: the chain was rewritten"))
        prev = c.last if c.last is not None else None
    if blob_root is None:  # S3: check the named blobs exist here (bounded cache)
        exists = lru_cache(maxsize=50_000)(store.blobs.exists)
        for r in store.iter_records(upto=hi):
            if int(r["seq"]) < lo:
                continue
            for col in ("content_sha256", "ipe_sha256", "findings_sha256"):
                sha = r[col]
                if not sha or not isinstance(sha, str) or not _SHA.match(sha):
                    continue  # no digest: the record check names it
                if sha not in bad and not exists(sha):
                    bad[sha] = "missing"
                    rep.problems.append(Problem("record", f"#{r['seq']} ({r['id']})",
                                                f"{col} {sha}: blob missing"))
    if bad:  # records naming a blob that changed
        with store.engine.connect() as conn:
            for col in ("content_sha256", "ipe_sha256", "findings_sha256"):
                q = select(records.c.seq, records.c.id, records.c[col]).where(
                    records.c[col].in_(list(bad)), records.c.seq >= lo, records.c.seq <= hi)
                for seq, rid, sha in conn.execute(q):
                    if bad[sha] != "missing":
                        rep.problems.append(Problem("record", f"#{seq} ({rid})",
                                                    f"{col} {sha}: blob {bad[sha]}"))
    last = chunks[-1].last if chunks else None
    if last is not None and last[0] == hi and head_hash != last[1]:
        rep.problems.append(Problem("chain", "head",
                                    "ledger head does not match the last record"))
    return chunks


# A seal whose signature verified, waiting for its head to be compared with the chain:
# (group seq, label, head hash, seal seq, vouches).
_HeadCheck = tuple[int, str, str, int, Ranges]


def _check_seals(store: EvidenceStore, rep: VerifyReport, chain: KeyChain,
                 against: Seal | None, lo: int,
                 claims: list[Claim]) -> list[Problem | _HeadCheck]:
    """Check every seal (from seq `lo` on) that needs nothing from the chain walk: that the
    index seals and the seal files match, and every signature. Runs while the workers walk
    the chain; `_seal_heads` then compares each valid seal with the record it seals. Returns
    the problems and head checks in the order they are reported; adds to `claims` the
    access-log heads valid seals commit to."""
    out: list[Problem | _HeadCheck] = []
    groups: Iterator[SealGroup] = _seal_groups(store, rep, lo)
    if against is not None:
        groups = _with_kept(groups, against.seq)
    for gseq, idx, files in groups:
        in_index = {(x.head_hash, x.signature) for x in idx}
        # a seal file whose index seal was committed after we read the index seals: a run
        # sealing while we verify (the file is written just before the commit)
        files = [(n, s) for n, s in files
                 if (s.head_hash, s.signature) in in_index or
                 not _in_index(store, s, rep.seal_max_id)]
        entries = [(f"index seal at #{s.seq} ({s.sealed_at:%Y-%m-%dT%H:%M:%SZ})", s)
                   for s in idx] + [(f"seal file {n}", fs) for n, fs in files]
        if against is not None and against.seq == gseq:
            entries.append((f"kept seal at #{against.seq}", against))
        in_files = {(x.head_hash, x.signature) for _n, x in files}
        # a seal is written once, to the index and to one file: a second copy is a replay
        if len(in_index) < len(idx):
            out.append(Problem("seal", f"index seals at #{gseq}", f"{len(idx) - len(in_index)}"
                               " copy(ies) of a seal already in the index (replayed rows)"))
        if len(in_files) < len(files):
            copies: dict[tuple[str, str], list[str]] = {}
            for n, x in files:
                copies.setdefault((x.head_hash, x.signature), []).append(n)
            twice = sorted(n for ns in copies.values() if len(ns) > 1 for n in ns)
            out.append(Problem("seal", f"seal files at #{gseq}", f"{len(files) - len(in_files)}"
                               " copy(ies) of a seal already in the seal store (replayed: "
                               f"{', '.join(twice)})"))
        for name, fs in files:
            if (fs.head_hash, fs.signature) not in in_index:
                out.append(Problem("seal", f"seal file {name}", "has no matching seal in the "
                                   "index (index seals removed?)"))
        for s in idx:
            if (s.head_hash, s.signature) not in in_files:
                out.append(Problem(
                    "seal", f"index seal at #{s.seq} ({s.sealed_at:%Y-%m-%dT%H:%M:%SZ})",
                    "has no matching file in the seal store (deleted, or never written)"))
        # an index seal and its file are the same statement (equal seals, so equal signed
        # payloads): check its signature once
        judged: dict[Seal, str | None] = {}
        for label, seal in entries:
            rep.seals += 1
            if seal not in judged:
                judged[seal] = chain.why_not(seal)
            why = judged[seal]
            if why is not None:
                out.append(Problem("seal", label, why))
                continue
            seen = head_in_note(seal.note)
            if seen is not None:
                claims.append(Claim(seen[0], seen[1], f"the {label.split(' (')[0]} "
                                                      f"({seal.sealed_at:%Y-%m-%dT%H:%M:%SZ})"))
            if gseq == 0:
                continue  # sealed an empty ledger
            out.append((gseq, label, seal.head_hash, seal.seq, seal.vouches))
    return out


def _seal_heads(store: EvidenceStore, checks: list[Problem | _HeadCheck],
                sealed_hash: dict[int, str]) -> tuple[list[Problem], list[tuple[int, int]]]:
    """Compare each valid seal's head with the record at its seq (after the chain walk);
    return every seal problem in order, and the ranges valid seals vouch for."""
    problems: list[Problem] = []
    covered: list[tuple[int, int]] = []
    cached: tuple[int, str | None] = (-1, None)
    for item in checks:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        gseq, label, head_hash, seq, vouches = item
        if cached[0] != gseq:
            cached = (gseq, _hash_at(store, sealed_hash, gseq))
        # a seal beyond the head we read first is a run that sealed while we verified if its
        # record is there now (else records were cut off and the head rewound)
        actual = cached[1]
        if actual is None:
            problems.append(Problem("seal", label, f"seals record #{gseq}, which is missing "
                                    "from the chain (records were cut off or deleted)"))
            continue
        if head_hash != actual:
            problems.append(Problem("seal", label, f"head hash does not match record #{gseq}: "
                                    "the chain was rewritten after it was sealed"))
            continue
        for a, b in vouches:
            if b > seq:
                problems.append(Problem("seal", label, f"vouches for #{b}, beyond its own head "
                                        f"#{seq}"))
                continue
            covered.append((a, b))
    return problems, covered


def _hash_at(store: EvidenceStore, sealed_hash: dict[int, str], seq: int) -> str | None:
    if seq in sealed_hash:
        return sealed_hash[seq]
    with store.engine.connect() as conn:
        h = conn.execute(select(records.c.record_hash).where(records.c.seq == seq)).scalar()
    return None if h is None else str(h)


def _in_index(store: EvidenceStore, s: Seal, max_id: int) -> bool:
    """Whether the index holds this very seal as one committed after verify read the index
    seals (id beyond `max_id`): a seal written while we verify. A file with another seal's
    signature but a different head, or one matching an index seal read already (and so in
    its group unless renamed), is not excused."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(seals).where(
            seals.c.seq == s.seq, seals.c.signature == s.signature,
            seals.c.head_hash == s.head_hash, seals.c.id > max_id)).scalar_one() > 0


def _outside_chain(store: EvidenceStore, rep: VerifyReport) -> None:
    """Rows beyond the ledger head as it is now, whatever their timestamps (one statement,
    so a concurrent append that moves the head and adds its row is never counted), and rows
    before #1 (seq 0 or negative: the index's key accepts them)."""
    head_now = select(ledger_head.c.seq).where(ledger_head.c.id == 1).scalar_subquery()
    with store.engine.connect() as conn:
        row = conn.execute(select(func.count(), func.min(records.c.seq), func.max(records.c.seq))
                           .where(records.c.seq > head_now)).one()
        # and rows below #1, which no walk from #1 sees (a separate range on the key, so
        # it is an index lookup, not a scan)
        low = conn.execute(select(func.count(), func.min(records.c.seq), func.max(records.c.seq))
                           .where(records.c.seq < 1)).one()
    if row[0]:
        rep.problems.append(Problem("chain", f"#{row[1]}..#{row[2]}", f"{row[0]} record(s) "
                                    "outside the chain, beyond the ledger head (inserted, or "
                                    "the head was rewound)"))
    if low[0]:
        rep.problems.append(Problem("chain", f"#{low[1]}..#{low[2]}", f"{low[0]} record(s) "
                                    "outside the chain, before record #1 (inserted: the "
                                    "chain starts at #1)"))


def _noted(seal: Seal, key: str) -> int | None:
    """An integer a seal's (signed) JSON note states under `key`, or None."""
    try:
        v = json.loads(seal.note or "").get(key)
    except (ValueError, AttributeError):
        return None
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _still_checkpointed(store: EvidenceStore, rep: VerifyReport, base: Seal) -> None:
    """`since_last`: the records #1..#upto the checkpoint vouched for are all still there, and
    so are the index seals before it, no more and no fewer (two counts; edits before the
    checkpoint need a full verify, deletions and replays do not)."""
    upto = base.seq
    with store.engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(records)
                             .where(records.c.seq >= 1, records.c.seq <= upto)).scalar_one())
        m = int(conn.execute(select(func.count()).select_from(seals)
                             .where(seals.c.seq < upto)).scalar_one())
    if n < upto:
        rep.problems.append(Problem("chain", f"#1..#{upto}", f"{upto - n} record(s) of the "
                                    f"#1..#{upto} the verify checkpoint at #{upto} found intact "
                                    "are missing (deleted since): a full verify names them"))
    want = _noted(base, "seals_before")
    if want is not None and m != want:
        what = f"{want - m} index seal(s) before the checkpoint at #{upto} are missing " \
            "(deleted since)" if m < want else f"{m - want} index seal(s) before the " \
            f"checkpoint at #{upto} were added since (replayed or forged)"
        rep.problems.append(Problem("seal", f"index seals before #{upto}",
                                    f"{what}: a full verify names them"))


def _uncovered(store: EvidenceStore, rep: VerifyReport, chain: KeyChain,
               covered: list[tuple[int, int]], lo: int, hi: int, started: datetime) -> None:
    """Report records #lo..#hi no valid seal vouches for (runs still going are pending)."""
    gaps = _gaps(covered, lo, hi)
    if gaps:
        # runs that sealed while we verified: their seals count (a run seals before its run
        # row stops saying `running`, so reading runs next cannot miss one)
        covered = covered + _late_cover(store, chain, rep.seal_max_id)
        gaps = _gaps(covered, lo, hi)
    if not gaps:
        return

    # Records of a run still going are sealed when it ends: shown as pending, not as a
    # problem, only while the run is provably alive (it holds its run lock, which no row can
    # fake) and for at most RUN_MAX after the record's own, hashed, collection time.
    unsealed: list[int] = []
    pending: list[int] = []
    alive: dict[str, bool] = {}
    with store.engine.connect() as conn:
        for a, b in gaps:
            q = (select(records.c.seq, records.c.run_id, records.c.collected_started_at,
                        runs.c.status)
                 .select_from(records.outerjoin(runs, runs.c.id == records.c.run_id))
                 .where(records.c.seq >= a, records.c.seq <= b).order_by(records.c.seq))
            for seq, run_id, collected, status in conn.execute(q):
                live = False
                if status == "running" and collected is not None and \
                        started - RUN_MAX < collected <= started + CONCURRENT_SLACK:
                    if run_id not in alive:
                        alive[run_id] = runlock.held(store.engine, str(run_id))
                    live = alive[run_id]
                (pending if live else unsealed).append(int(seq))
    from storage.ledger import to_ranges

    for a, b in to_ranges(unsealed):
        span = f"#{a}" if a == b else f"#{a}..#{b}"
        rep.problems.append(Problem("unsealed", span, "no seal vouches for these records: "
                                    "not written by a run holding the key (inserted, or left "
                                    "by a crashed run: check them, then `evidence seal adopt`)"))
    if pending:
        rep.pending.append(f"{fmt_ranges(to_ranges(pending))}: written by a run still in "
                           "progress, sealed when it ends")


def _gaps(covered: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """The parts of #lo..#hi outside the `covered` ranges."""
    gaps: list[tuple[int, int]] = []
    cur = lo
    for a, b in sorted(covered):
        if b < cur:
            continue
        if a > cur:
            gaps.append((cur, min(a - 1, hi)))
        cur = max(cur, b + 1)
        if cur > hi:
            break
    if cur <= hi:
        gaps.append((cur, hi))
    return [g for g in gaps if g[0] <= g[1]]


def _late_cover(store: EvidenceStore, chain: KeyChain,
                max_id: int) -> list[tuple[int, int]]:
    """What seals written after verify began vouch for (signature and head checked)."""
    out: list[tuple[int, int]] = []
    with store.engine.connect() as conn:
        for row in conn.execute(select(seals).where(seals.c.id > max_id)).all():
            s = Seal.from_row(row)
            h = conn.execute(select(records.c.record_hash).where(records.c.seq == s.seq)).scalar()
            if chain.valid(s) and h == s.head_hash:
                out.extend(r for r in s.vouches if r[1] <= s.seq)
    return out


def _checkpoint(store: EvidenceStore, chain: KeyChain, head_seq: int) -> Seal | None:
    """The newest verify checkpoint signed by a trusted key that still matches the chain."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(seals).where(seals.c.purpose == CHECKPOINT,
                                                seals.c.seq <= head_seq)
                            .order_by(seals.c.id.desc()).limit(20)).all()
        for row in rows:
            s = Seal.from_row(row)
            if not chain.valid(s) or _noted(s, "verified_upto") != s.seq:
                # a checkpoint sealing more than its verify checked (earlier code sealed the
                # head as it was when it finished, records appended meanwhile included)
                continue
            h = conn.execute(select(records.c.record_hash).where(records.c.seq == s.seq)).scalar()
            if s.seq == 0 or h == s.head_hash:
                return s
    return None


def _write_checkpoint(store: EvidenceStore, chain: KeyChain, rep: VerifyReport,
                      head_seq: int) -> int | None:
    """Seal that the chain up to the head verified; skipped without the matching key."""
    from connectors.errors import EvidenceError, StorageError

    try:
        if not store.has_key() or keys.key_id(store.key.public_key()) != chain.current:
            return None
    except EvidenceError:
        return None  # a key problem is for collect to report; verify itself is done
    # Seals before head_seq were all written before it was the head (a seal seals the head as
    # it is then, and the head only grows): their number is fixed, and --since-last checks it.
    with store.engine.connect() as conn:
        before = int(conn.execute(select(func.count()).select_from(seals)
                                  .where(seals.c.seq < head_seq)).scalar_one())
    note = json.dumps({"verified_upto": head_seq, "records": rep.records, "blobs": rep.blobs,
                       "seals_before": before}, sort_keys=True)

    def at_verified_head(seq: int, _head: str) -> str:
        # a checkpoint covers exactly what this verify checked: never records appended since
        # it read the head (they would lie under the checkpoint, skipped by --since-last)
        if seq != head_seq:
            raise StorageError(f"the ledger grew from #{head_seq} to #{seq} while verifying; "
                               "the next verify writes one")
        return note

    try:
        s = store.seal(None, purpose=CHECKPOINT, note=at_verified_head)
    except EvidenceError as e:  # e.g. a read-only index: the verify itself stands
        rep.checkpoint_error = str(e)
        return None
    return s.seq


def _check_access_log(store: EvidenceStore, rep: VerifyReport, claims: list[Claim]) -> None:
    """The portal's access log is chained like the ledger: name every broken entry, and
    every entry a valid seal saw that is gone or different (its tail cut off, rewritten)."""
    from storage.access import anchored, verify_access_log

    rep.access_entries, problems = verify_access_log(store.engine, claims)
    rep.access_anchored = anchored(claims)
    rep.problems.extend(Problem("access-log", p.split(":", 1)[1].split()[1], p)
                        for p in problems)


SealGroup = tuple[int, list[Seal], list[tuple[str, Seal]]]


def _index_seals(store: EvidenceStore, lo: int, max_id: int,
                 batch: int = 2000) -> Iterator[Seal]:
    """Index seals from seq `lo` on, written before verify began (id <= max_id)."""
    last = (lo - 1, -1)
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(seals).where((seals.c.seq > last[0]) |
                                    ((seals.c.seq == last[0]) & (seals.c.id > last[1])))
                .where(seals.c.id <= max_id)
                .order_by(seals.c.seq, seals.c.id).limit(batch)).all()
        if not rows:
            return
        for s in rows:
            yield Seal.from_row(s)
        last = (int(rows[-1].seq), int(rows[-1].id))


def _file_seals(store: EvidenceStore, rep: VerifyReport, lo: int
                ) -> Iterator[tuple[int, str, Seal]]:
    for name, data in store.blobs.seals():  # names start with the zero-padded seq: in order
        try:
            named: int | None = int(name.split("-", 1)[0])
        except ValueError:
            named = None
        if named is not None and named < lo:
            continue
        try:
            seal = Seal.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError):
            rep.problems.append(Problem("seal", name, "seal file is not a valid seal"))
            continue
        if named != seal.seq:
            # out of the order the merge with the index seals relies on: named, not paired
            # (its index seal is then reported without a file)
            said = f"named for #{named}" if named is not None else "not named for its seq"
            rep.problems.append(Problem("seal", f"seal file {name}", f"seal file {said} holds "
                                        f"the seal of #{seal.seq} (renamed?)"))
            continue
        if seal.seq < lo:
            continue
        yield seal.seq, name, seal


def _seal_groups(store: EvidenceStore, rep: VerifyReport, lo: int = 0) -> Iterator[SealGroup]:
    """Index seals and seal files merged by seq, one group per seq, in ascending order:
    streamed, so memory does not grow with the number of runs. Seals of a checkpoint's own
    seq are included (`lo` - 1), so `since_last` checks the checkpoint is still there."""
    with store.engine.connect() as conn:
        # read before the seal files are listed: each of these seals has its file by then
        max_id = int(conn.execute(select(func.max(seals.c.id))).scalar() or 0)
    rep.seal_max_id = max_id
    idx = _index_seals(store, max(0, lo - 1), max_id)
    files = _file_seals(store, rep, max(0, lo - 1))
    a = next(idx, None)
    b = next(files, None)
    while a is not None or b is not None:
        seq = min(x for x in (a.seq if a else None, b[0] if b else None) if x is not None)
        ga: list[Seal] = []
        gb: list[tuple[str, Seal]] = []
        while a is not None and a.seq == seq:
            ga.append(a)
            a = next(idx, None)
        while b is not None and b[0] == seq:
            gb.append((b[1], b[2]))
            b = next(files, None)
        yield seq, ga, gb


def _with_kept(groups: Iterator[SealGroup], seq: int) -> Iterator[SealGroup]:
    """Make sure a group exists at `seq`, for a kept seal no stored seal matches."""
    done = False
    for g in groups:
        if not done and g[0] > seq:
            yield seq, [], []
            done = True
        if g[0] == seq:
            done = True
        yield g
    if not done:
        yield seq, [], []


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

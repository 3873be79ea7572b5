"""Run locks: a run holds an operating-system or database lock for its whole life, which a
verifier can test but nobody can fake by writing rows.

`verify` shows a run's unsealed records as *pending* (not yet a problem) only while the run
is really alive; the `runs` table says who claims to be running, but anyone with write access
to the index can write that. What cannot be written is a lock held by a live process:

- SQLite (one host): an exclusive `flock` on `<index dir>/.evidence-runs/<run id>.lock`,
  taken before the run row is inserted and released when the run is finished. The kernel
  drops it when the process dies, however it dies.
- PostgreSQL (any number of hosts): a session-level advisory lock keyed by the run id, held on
  a connection of its own; the server drops it when the session ends.

`held()` tries the lock without waiting (and releases it at once): taken means nobody holds
it, so the run is not alive. See docs/DESIGN-notes.md for what this does and does not close.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

_MEMORY: set[str] = set()  # runs of this process on an in-memory SQLite index
_GUARD = threading.Lock()
SWEEP_AFTER = 24 * 3600.0


def _pg_key(run_id: str) -> int:
    """A signed 64-bit advisory lock key for the run (namespaced: never collides with the
    migration lock, a small constant)."""
    d = hashlib.sha256(b"evidence-agent.run:" + run_id.encode()).digest()
    return int.from_bytes(d[:8], "big", signed=True)


def _lock_dir(engine: Engine) -> Path | None:
    """Where an SQLite index keeps its run lock files; None for an in-memory index."""
    db = make_url(engine.url).database or ""
    if db.startswith("file:"):
        db = db[5:].split("?", 1)[0]
    if not db or db == ":memory:":
        return None
    return Path(db).parent / ".evidence-runs"


class RunLock:
    """The lock one run holds; `release()` when the run is finished."""

    def __init__(self, run_id: str, fd: int | None = None, path: Path | None = None,
                 conn: Any = None) -> None:
        self.run_id = run_id
        self._fd = fd
        self._path = path
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"),
                                   {"k": _pg_key(self.run_id)})
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            if self._path is not None:
                self._path.unlink(missing_ok=True)
            os.close(self._fd)  # closing drops the flock
            self._fd = None
        with _GUARD:
            _MEMORY.discard(self.run_id)


def hold(engine: Engine, run_id: str) -> RunLock:
    """Take the run's lock (it is new: nobody else can hold it)."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _pg_key(run_id)})
        conn.commit()  # the lock is the session's, not the transaction's
        return RunLock(run_id, conn=conn)
    d = _lock_dir(engine)
    if d is None:
        with _GUARD:
            _MEMORY.add(run_id)
        return RunLock(run_id)
    d.mkdir(parents=True, exist_ok=True)
    _sweep(d)
    path = d / f"{run_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # a verifier of another user tests it
    fcntl.flock(fd, fcntl.LOCK_EX)
    return RunLock(run_id, fd, path)


def held(engine: Engine, run_id: str) -> bool:
    """Whether a live process holds the run's lock now (never creates anything)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            k = _pg_key(run_id)
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": k}).scalar())
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": k})
            conn.commit()
        return not got
    d = _lock_dir(engine)
    if d is None:
        with _GUARD:
            return run_id in _MEMORY
    try:
        # never a symlink (it could point at any file some other process locks: a daemon's pid
        # file) and never blocking (a FIFO would wait for a writer for ever)
        fd = os.open(d / f"{run_id}.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False  # no lock file: the run never took its lock here, or finished
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return False  # not a lock file `hold` made (a FIFO, a folder, a second hard link)
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops a lock we got
    return False


def _sweep(d: Path) -> None:
    """Remove lock files of runs that died long ago (nobody holds them)."""
    cutoff = time.time() - SWEEP_AFTER
    for f in d.glob("*.lock"):
        try:
            if f.stat().st_mtime >= cutoff:
                continue
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            f.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(fd)

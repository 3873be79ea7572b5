"""Leases in the index database, so two collectors in any process or container never run
the same snapshot of the same instance at once. A lease expires if its holder dies."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from connectors.errors import StorageError
from storage.index import locks, writer


class LockTimeout(StorageError):
    """Another collector holds the lease and did not release it within the wait bound."""


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def holder_is_dead(holder: str) -> bool:
    """Whether `holder` (host:pid:thread) is a process on this host that no longer exists."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _try(engine: Engine, name: str, holder: str, now: datetime,
         ttl: timedelta) -> tuple[bool, str, datetime | None]:
    with writer(engine).begin() as conn:
        q = select(locks).where(locks.c.name == name)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            conn.execute(insert(locks).values(name=name, holder=holder, acquired_at=now,
                                              expires_at=now + ttl))
            return True, holder, now
        if row.expires_at <= now or row.holder == holder or holder_is_dead(str(row.holder)):
            conn.execute(update(locks).where(locks.c.name == name).values(
                holder=holder, acquired_at=now, expires_at=now + ttl))
            return True, holder, now
        return False, str(row.holder), row.acquired_at


@contextmanager
def lease(engine: Engine, name: str, *, holder: str | None = None, wait: float = 60.0,
          ttl: timedelta = timedelta(minutes=5), clock: Callable[[], datetime],
          sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """Hold the lease `name` for the block, waiting at most `wait` seconds to get it."""
    me = holder or default_holder()
    deadline = time.monotonic() + wait
    while True:
        try:
            ok, who, since = _try(engine, name, me, clock(), ttl)
        except SAIntegrityError:
            ok, who, since = False, "another collector", None  # lost an insert race
        if ok:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            when = f" since {since:%Y-%m-%dT%H:%M:%SZ}" if since else ""
            raise LockTimeout(f"a run is in progress: {name} is held by {who}{when}; "
                              f"waited {wait:g}s")
        sleep(min(0.5, left))

    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl.total_seconds() / 3):
            with writer(engine).begin() as conn:
                conn.execute(update(locks).where(locks.c.name == name, locks.c.holder == me)
                             .values(expires_at=clock() + ttl))

    t = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    t.start()
    try:
        yield me
    finally:
        stop.set()
        t.join()
        with writer(engine).begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == me))

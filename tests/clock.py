"""A settable clock for tests: collectors, stores and the portal take it as `clock=`."""

from __future__ import annotations

from datetime import datetime


class Clock:
    """Returns `t`; tests move time by assigning to it."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

"""The connector contract: read this one screen to write a connector.

A connector is a class with a `name`, a typed `config_model`, a cheap `check()` and named
snapshots. A snapshot is a method decorated with `@snapshot(...)` that declares what it
proves (SOC 2 criteria, kind, max age, permissions, an optional pure `assess`) and returns
a `SnapshotResult`. While it runs it reports how the evidence was produced (IPE) on
`ctx.ipe`: every API call with its parameters, pages, counts, the principal and the source.

    class Okta(Connector[OktaConfig]):        # typed by its config model: self.config
        name = "okta"                         # is an OktaConfig, no isinstance needed

        def check(self) -> CheckResult: ...

        @snapshot(controls=["CC6.1"], max_age=timedelta(days=1),
                  permissions=["okta.users.read"], assess=assess_mfa, example=EXAMPLE)
        def users_mfa_status(self, ctx: SnapshotContext) -> SnapshotResult:
            \"\"\"Every user with their enrolled factors: proves MFA coverage.\"\"\"

No I/O at import time and no module-level clients: clients come from `self.factory`.
Recording, paging, retries and fan-out over scopes come from `connectors.kit`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from connectors.controls import check_criteria
from connectors.errors import ConfigError

SnapshotKind = Literal["posture", "population"]
FindingStatus = Literal["pass", "fail", "inconclusive"]
JSON = Any


class ConfigModel(BaseModel):
    """Base of every config model: frozen, unknown keys rejected, no infinite or NaN number.
    (The config reader also takes each scalar as written: `"4"` or `true` is no integer.)"""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ConnectorConfig(ConfigModel):
    """Base of every connector's config model: frozen, unknown keys rejected (ConfigModel)."""


@dataclass(frozen=True)
class Finding:
    """One resource's verdict from `assess()`."""

    resource: str
    status: FindingStatus
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"resource": self.resource, "status": self.status, "reason": self.reason}


Assess = Callable[[JSON], list[Finding]]
# A population's items, each a dict with at least a stable "id" and an ISO 8601 "time".
Items = Callable[[JSON], list[dict[str, JSON]]]


@dataclass
class ApiCall:
    """One logical API call, as the auditor sees it in the record's provenance."""

    operation: str
    params: dict[str, JSON] = field(default_factory=dict)
    target: str | None = None
    pages: int = 1
    items: int | None = None
    ok: bool = True
    error: str | None = None
    status: int | None = None
    retries: int = 0
    total: int | None = None

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"operation": self.operation, "params": self.params,
                                "pages": self.pages, "ok": self.ok}
        if self.target is not None:
            out["target"] = self.target
        if self.items is not None:
            out["items"] = self.items
        if self.error is not None:
            out["error"] = self.error
        if self.status is not None:
            out["status"] = self.status
        if self.retries:
            out["retries"] = self.retries
        if self.total is not None:
            out["total"] = self.total
        return out


class Provenance:
    """Collects how a snapshot was produced (IPE); thread-safe, append-only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.principal: str | None = None
        self.source: str | None = None
        self.calls: list[ApiCall] = []
        self.api_totals: dict[str, int] = {}
        self.pagination_exhausted = True
        self.retries = 0
        self.errors: list[str] = []
        # the source's own clock (HTTP `Date` of its answers): earliest and latest reading
        self.source_clock: tuple[datetime, datetime] | None = None

    def call(self, operation: str, params: Mapping[str, JSON] | None = None, *,
             target: str | None = None, pages: int = 1, items: int | None = None,
             ok: bool = True, error: str | None = None, status: int | None = None,
             retries: int = 0, total: int | None = None) -> ApiCall:
        """Record one API call (pages and items may be updated on the returned object).
        A `target` that is a URL is kept without credentials (user:pass@, ?token=...)."""
        if target is not None and "://" in target:
            from connectors.kit.redact import redact_url

            target = redact_url(target)
        entry = ApiCall(operation, dict(params or {}), target, pages, items, ok, error, status,
                        retries, total)
        with self._lock:
            self.calls.append(entry)
        return entry

    def api_total(self, what: str, total: int) -> None:
        """Record a total the API itself reports, to reconcile against what was fetched."""
        with self._lock:
            self.api_totals[what] = total

    def cut_short(self, reason: str) -> None:
        """Mark the population incomplete: pagination was not exhausted."""
        with self._lock:
            self.pagination_exhausted = False
            self.errors.append(reason)

    def error(self, message: str) -> None:
        """Record a part that could not be read (a region, an account); the result is partial."""
        with self._lock:
            self.errors.append(message)

    def retried(self, n: int = 1) -> None:
        with self._lock:
            self.retries += n

    def source_time(self, when: datetime) -> None:
        """Note the source's own clock at one of its answers (its HTTP `Date`): a population
        window never ends after the earliest reading. Kept out of `to_json`, so an unchanged
        source still gives identical provenance; the runner records it with the window."""
        with self._lock:
            sc = self.source_clock
            self.source_clock = (when, when) if sc is None else \
                (min(sc[0], when), max(sc[1], when))

    def to_json(self) -> dict[str, JSON]:
        """The provenance as JSON; calls sorted so an unchanged source gives identical bytes
        however concurrent calls interleaved (and so deduplicates in the blob store)."""
        import json

        with self._lock:
            calls = sorted((c.to_json() for c in self.calls),
                           key=lambda c: json.dumps(c, sort_keys=True, default=str))
            return {
                "principal": self.principal,
                "source": self.source,
                "calls": calls,
                "api_calls": len(self.calls),
                "pages": sum(c.pages for c in self.calls),
                "api_totals": dict(self.api_totals),
                "pagination_exhausted": self.pagination_exhausted,
                "retries": self.retries,
                "errors": list(self.errors),
            }


@dataclass
class SnapshotContext:
    """What a snapshot gets while it runs."""

    instance: str
    snapshot: str
    started_at: datetime
    ipe: Provenance
    log: logging.Logger
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass
class SnapshotResult:
    """What a snapshot returns: the raw content (JSON) and how many records it holds."""

    content: JSON
    record_count: int
    effective_at: datetime | None = None


@dataclass(frozen=True)
class SnapshotSpec:
    """What a snapshot declares about itself."""

    name: str
    doc: str
    controls: tuple[str, ...]
    kind: SnapshotKind
    max_age: timedelta
    permissions: tuple[str, ...]
    assess: Assess | None
    example: JSON
    lookback: timedelta
    max_window: timedelta
    fn: Callable[[Any, SnapshotContext], SnapshotResult]
    items: Items | None = None
    schema: JSON = None
    vendor: tuple[str, ...] = ()

    def content_schema(self) -> dict[str, JSON]:
        """The JSON Schema content must have: declared, else inferred from the example (the
        keys in `vendor` holding the platform's own documents, whose inner keys are free)."""
        from connectors.kit.shape import infer_schema

        if self.schema is not None:
            return dict(self.schema)
        return infer_schema(self.example, self.vendor)
    # how long after an event the source may still add it to what it lists (its delivery
    # delay): a population window ends at least that long before now
    settle: timedelta = timedelta(0)


_F = TypeVar("_F", bound=Callable[..., SnapshotResult])


def snapshot(*, controls: Iterable[str], max_age: timedelta, permissions: Iterable[str],
             kind: SnapshotKind = "posture", assess: Assess | None = None,
             example: JSON = None, lookback: timedelta = timedelta(days=90),
             max_window: timedelta = timedelta(days=7),
             items: Items | None = None, schema: JSON = None,
             vendor: Iterable[str] = (),
             settle: timedelta = timedelta(0)) -> Callable[[_F], _F]:
    """Declare a method as a snapshot. `lookback` and `max_window` matter for populations:
    the first window starts `lookback` ago, and one run covers at most `max_window`;
    `items` (pure) lists a population's items so fieldwork can count and sample them;
    `schema` (JSON Schema) is the content's shape, inferred from `example` when omitted;
    `vendor` names the keys that hold the platform's own documents (an IAM policy, a tag
    map), which inference leaves free inside; `settle` is how long after an event the
    source may still add it (a population window ends at least that long before now, so a
    late-delivered event falls in the next window, never between two)."""
    ctl = check_criteria(controls, where="@snapshot")
    documents = tuple(vendor)
    if schema is not None and documents:
        raise TypeError("@snapshot: `vendor` shapes the inferred schema; with `schema` "
                        "declare the documents' looseness there instead")

    def wrap(fn: _F) -> _F:
        fn.__snapshot__ = SnapshotSpec(  # type: ignore[attr-defined]
            name=fn.__name__, doc=(fn.__doc__ or "").strip(), controls=ctl, kind=kind,
            max_age=max_age, permissions=tuple(permissions), assess=assess, example=example,
            lookback=lookback, max_window=max_window, fn=fn, items=items, schema=schema,
            vendor=documents, settle=settle)
        return fn

    return wrap


@dataclass(frozen=True)
class CheckResult:
    """Outcome of `Connector.check()`: reachable, authenticated, permitted."""

    ok: bool
    principal: str | None = None
    source: str | None = None
    detail: str = ""


C = TypeVar("C", bound=ConnectorConfig, default=ConnectorConfig)


class Connector(ABC, Generic[C]):
    """Base class of every connector; subclasses declare snapshots with `@snapshot`.

    `class Okta(Connector[OktaConfig])` types `self.config` as an OktaConfig and sets
    `config_model` from it; the config is checked once here, so connectors need no casts."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    _snapshots: ClassVar[dict[str, SnapshotSpec]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Connector:
                (model,) = get_args(base)
                if isinstance(model, type) and issubclass(model, ConnectorConfig) and \
                        "config_model" not in vars(cls):
                    cls.config_model = model
        found: dict[str, SnapshotSpec] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                spec = getattr(attr, "__snapshot__", None)
                if isinstance(spec, SnapshotSpec):
                    found[spec.name] = spec
        cls._snapshots = found

    def __init__(self, instance: str, config: C, *, factory: Any = None) -> None:
        if not isinstance(config, self.config_model):
            raise ConfigError(f"{self.name}/{instance}: expected a {self.config_model.__name__}, "
                              f"got {type(config).__name__}")
        self.instance = instance
        self.config: C = config
        self.factory = factory

    @classmethod
    def snapshots(cls) -> Mapping[str, SnapshotSpec]:
        """Every snapshot this connector declares, by name."""
        return cls._snapshots

    @classmethod
    def permissions(cls) -> tuple[str, ...]:
        """The union of the read-only permissions every snapshot needs, sorted."""
        return tuple(sorted({p for s in cls._snapshots.values() for p in s.permissions}))

    @classmethod
    def permission_document(cls) -> str:
        """The permissions in the platform's own policy format (default: one per line)."""
        return "\n".join(cls.permissions())

    @abstractmethod
    def check(self) -> CheckResult:
        """One cheap authenticated call: reachable, authenticated, permitted."""

    def run(self, name: str, ctx: SnapshotContext) -> SnapshotResult:
        """Run the snapshot called `name`."""
        return self._snapshots[name].fn(self, ctx)

    def close(self) -> None:
        """Release clients (default: nothing)."""

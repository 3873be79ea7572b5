"""The TOML config, read into frozen typed models that reject unknown keys.

Secrets are never written in the config itself: a secret field takes `{ env = "NAME" }` or
`{ file = "/run/secrets/name" }` and `resolve_secret` reads it when it is used.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from connectors.base import ConfigModel, Connector, ConnectorConfig, SnapshotSpec
from connectors.controls import ControlCatalog, check_criteria, is_criterion
from connectors.errors import ConfigError
from connectors.secrets import SecretRef as SecretRef
from connectors.secrets import resolve_secret as resolve_secret

ENV_CONFIG = "EVIDENCE_CONFIG"


class _Model(ConfigModel):
    """Frozen, unknown keys rejected, scalars taken as written, numbers finite."""


class S3Store(_Model):
    """Blobs and seals in an S3 bucket with Object Lock (production)."""

    bucket: str
    prefix: str = "evidence/"
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    retention_days: int = Field(default=400, ge=1, le=36500)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if _url_credential(v):  # never quoted (see _validation_message)
            raise ValueError("holds a credential (user:password@ or a secret parameter): "
                             "the store's AWS credentials come from its profile or the "
                             "environment")
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return v


class StoreConfig(_Model):
    """Where evidence is kept: an SQLAlchemy index and a blob store."""

    index_url: str = "sqlite:///evidence/index.db"
    index_password: SecretRef | None = None
    blob_dir: str = "evidence/blobs"
    seal_dir: str | None = None
    s3: S3Store | None = None


class SigningConfig(_Model):
    """The Ed25519 key that signs each run's seal (created on first use)."""

    key_file: str = "evidence/signing.key"


class CollectorConfig(_Model):
    """How collections run."""

    concurrency: int = Field(default=4, ge=1, le=64)
    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=300)
    lock_wait_seconds: float = Field(default=60.0, ge=0, le=86400)


class ScheduleConfig(_Model):
    """A cron schedule and what it collects."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cron: str
    timezone: str = "UTC"
    connectors: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    misfire_grace_seconds: int = Field(default=3600, ge=1, le=31 * 86400)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError("cron takes five fields: minute hour day month weekday")
        return v


class ExceptionDecl(_Model):
    """An exception declared in the config (`[[exceptions]]`), kept in git by teams who
    prefer that; its ID becomes `cfg:<id>` in the register."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    snapshot: str = Field(description="CONNECTOR/INSTANCE:SNAPSHOT, e.g. aws/prod:iam_users")
    resource: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: str = Field(min_length=1)
    ticket: str | None = None


class ExceptionPolicy(_Model):
    """Limits on exceptions: none may last longer than `max_days`."""

    max_days: int = Field(default=365, ge=1, le=3650)


class AlertSink(_Model):
    """Where drift alerts go: a signed generic webhook, a Slack incoming webhook, or email."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    type: Literal["webhook", "slack", "email"]
    url: str | None = None  # webhook: where to POST (not a secret)
    url_secret: SecretRef | None = None  # slack: the incoming-webhook URL is a secret
    hmac_secret: SecretRef | None = None  # webhook: key of the X-Evidence-Signature header
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls_ca_file: str | None = None  # email: CA bundle to trust for STARTTLS (default: system)
    username: str | None = None
    password: SecretRef | None = None
    from_addr: str | None = None
    to: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    connectors: tuple[str, ...] = ()
    min_severity: Literal["low", "medium", "high"] = "low"
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _complete(self) -> AlertSink:
        need = {"webhook": ("url", "hmac_secret"), "slack": ("url_secret",),
                "email": ("smtp_host", "from_addr", "to")}[self.type]
        for k in need:
            if not getattr(self, k):
                raise ValueError(f"a {self.type} sink needs {k}")
        if self.type == "email" and (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    @field_validator("url")
    @classmethod
    def _no_credential(cls, v: str | None) -> str | None:
        if v is not None and _url_credential(v):
            # _validation_message does not quote a value holding a credential
            raise ValueError("holds a credential (a password or token in the URL): the url "
                             "is shown and stored with each delivery; a webhook is "
                             "authenticated by hmac_secret, a Slack URL goes in url_secret")
        return v


def _url_credential(url: str) -> bool:
    """Whether `url` carries a password (user:pass@) or a secret query parameter."""
    import urllib.parse

    from connectors.kit.redact import is_secret_key

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    return ":" in parts.netloc.rpartition("@")[0] or \
        any(is_secret_key(k) or _SECRETISH.search(k) for k, _ in query)


@dataclass(frozen=True)
class ConnectorInstance:
    """One configured instance of a connector (e.g. aws/prod)."""

    type: str
    instance: str
    config: ConnectorConfig
    snapshots: tuple[str, ...] | None

    @property
    def key(self) -> str:
        return f"{self.type}/{self.instance}"

    def config_snapshots(self) -> set[str]:
        """Names of the snapshots this instance runs."""
        return {s.name for s in self.specs()}

    def specs(self) -> list[SnapshotSpec]:
        """The snapshots this instance runs (all of its connector's, or those it lists)."""
        from connectors.registry import get

        return [s for s in get(self.type).snapshots().values()
                if self.snapshots is None or s.name in self.snapshots]


@dataclass(frozen=True)
class Config:
    """The whole configuration, paths resolved against the config file's folder."""

    path: Path | None
    store: StoreConfig
    signing: SigningConfig
    collector: CollectorConfig
    catalog: ControlCatalog
    connectors: tuple[ConnectorInstance, ...]
    schedules: tuple[ScheduleConfig, ...]
    exceptions: tuple[ExceptionDecl, ...] = ()
    exception_policy: ExceptionPolicy = field(default_factory=ExceptionPolicy)
    alerts: tuple[AlertSink, ...] = ()

    def resolve_path(self, p: str) -> Path:
        base = self.path.parent if self.path else Path.cwd()
        q = Path(p).expanduser()
        return q if q.is_absolute() else (base / q)

    def index_url(self) -> str:
        url = self.store.index_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///"):]
            if rel and rel != ":memory:":
                url = "sqlite:///" + str(self.resolve_path(rel))
        if self.store.index_password is not None:
            from sqlalchemy.engine import make_url

            try:
                password = resolve_secret(self.store.index_password)
            except ConfigError as e:
                raise ConfigError(f"{self.path or '<config>'}: store.index_password: "
                                  f"{e.message}") from None
            u = make_url(url).set(password=password)
            return u.render_as_string(hide_password=False)
        return url


_SECRETISH = re.compile(r"password|token|secret|api_?key|private|credential|external_id",
                        re.IGNORECASE)
_TOP = {"store", "signing", "collector", "controls", "connectors", "schedule", "exceptions",
        "exception_policy", "alerts"}


def _locate(text: str, path: tuple[str | int, ...]) -> int | None:
    """Best-effort line number of `path` (e.g. ("connectors", 0, "region")) in TOML text."""
    lines = text.splitlines()
    table: list[str | int] = []
    counts: dict[str, int] = {}
    header = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    keyline = re.compile(r"^\s*(\"[^\"]+\"|[A-Za-z0-9_.-]+)\s*=")
    best: int | None = None
    for no, line in enumerate(lines, 1):
        m = header.match(line)
        if m:
            name = m.group(2)
            parts: list[str | int] = list(name.split("."))
            if m.group(1) == "[[":
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                parts = [*parts, idx]
            table = parts
            if tuple(table) == path[: len(table)] and len(table) == len(path):
                best = best or no
            continue
        k = keyline.match(line)
        if k:
            key = k.group(1).strip('"')
            full = (*table, *key.split("."))
            if full == path[: len(full)]:
                return no
    return best


def _where(file: str, text: str, path: tuple[str | int, ...]) -> str:
    line = _locate(text, path)
    return f"{file}:{line}" if line else file


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _validation_message(e: ValidationError, file: str, text: str,
                        prefix: tuple[str | int, ...]) -> str:
    err = e.errors()[0]
    loc = tuple(x for x in err["loc"] if isinstance(x, str | int))
    path = (*prefix, *loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    value = err.get("input")
    shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) \
        else f" (got {value!r})"
    if any(_SECRETISH.search(p) for p in path if isinstance(p, str)) or \
            (isinstance(value, str) and _url_credential(value)):
        shown = ""  # never echo what may be a secret written in the wrong place
    return f"{_where(file, text, path)}: {_dotted(path)}: {msg}{shown}"


def load(path: str | os.PathLike[str] | None = None,
         env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config at `path` (or $EVIDENCE_CONFIG); ConfigError if bad."""
    env = os.environ if env is None else env
    p = path if path is not None else env.get(ENV_CONFIG)
    if p is None:
        raise ConfigError("no config given: pass -c/--config FILE or set EVIDENCE_CONFIG")
    fp = Path(p)
    try:
        text = fp.read_text("utf-8")
    except OSError as e:
        raise ConfigError(f"{fp}: cannot read config: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{fp}: cannot read config: not UTF-8 text (byte "
                          f"0x{e.object[e.start]:02x} at offset {e.start})") from None
    return parse(text, fp)


def parse(text: str, fp: Path | None = None) -> Config:
    """Validate config `text` (from file `fp`) into a Config."""
    file = str(fp) if fp else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: invalid TOML: {e}") from None
    for key in data:
        if key not in _TOP:
            raise ConfigError(f"{_where(file, text, (key,))}: {key}: unknown key "
                              f"(expected one of: {', '.join(sorted(_TOP))})")

    def model(cls: type[_Model], key: str) -> Any:
        raw = data.get(key, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{_where(file, text, (key,))}: {key}: expected a table")
        _as_written(cls, raw, file, text, (key,))
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            raise ConfigError(_validation_message(e, file, text, (key,))) from None

    store = model(StoreConfig, "store")
    _check_index_url(store.index_url, _where(file, text, ("store", "index_url")))
    signing = model(SigningConfig, "signing")
    collector = model(CollectorConfig, "collector")

    custom: dict[str, tuple[str, ...]] = {}
    controls = data.get("controls", {})
    if not isinstance(controls, dict):
        raise ConfigError(f"{_where(file, text, ('controls',))}: controls: expected a table")
    for cid, targets in controls.items():
        where = _where(file, text, ("controls", cid))
        if is_criterion(cid):
            raise ConfigError(f"{where}: controls.{cid}: a criterion cannot be remapped")
        if not isinstance(targets, list) or not targets or \
                not all(isinstance(t, str) for t in targets):
            raise ConfigError(f"{where}: controls.{cid}: expected a list of criteria IDs")
        custom[cid] = check_criteria(targets, where=f"{where}: controls.{cid}")
    catalog = ControlCatalog(custom)

    instances: list[ConnectorInstance] = []
    raw_conns = data.get("connectors", [])
    if not isinstance(raw_conns, list):
        raise ConfigError(f"{_where(file, text, ('connectors',))}: connectors: "
                          "expected [[connectors]] entries")
    from connectors.registry import get

    seen: set[str] = set()
    for i, raw in enumerate(raw_conns):
        if not isinstance(raw, dict):
            raise ConfigError(f"{_where(file, text, ('connectors',))}: connectors[{i}]: "
                              f"expected a table such as [[connectors]] type = \"aws\" "
                              f"(got {raw!r})")
        body = dict(raw)
        typ = body.pop("type", None)
        inst = body.pop("instance", None)
        snaps = body.pop("snapshots", None)
        at = _where(file, text, ("connectors", i))
        if not isinstance(typ, str):
            raise ConfigError(f"{at}: connectors[{i}].type: missing (e.g. type = \"aws\")")
        try:
            cls: type[Connector] = get(typ)
        except ConfigError as e:
            raise ConfigError(f"{_where(file, text, ('connectors', i, 'type'))}: "
                              f"connectors[{i}].type: {e.message}") from None
        inst = inst if inst is not None else "default"
        if not isinstance(inst, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", inst):
            raise ConfigError(f"{at}: connectors[{i}].instance: expected a name of letters, "
                              f"digits, '_', '.', '-' (got {inst!r})")
        key = f"{typ}/{inst}"
        if key in seen:
            raise ConfigError(f"{at}: connectors[{i}]: instance {key} is configured twice")
        seen.add(key)
        if snaps is not None:
            if not isinstance(snaps, list) or not all(isinstance(s, str) for s in snaps):
                raise ConfigError(f"{at}: connectors[{i}].snapshots: expected a list of names")
            for s in snaps:
                if s not in cls.snapshots():
                    raise ConfigError(f"{_where(file, text, ('connectors', i, 'snapshots'))}: "
                                      f"connectors[{i}].snapshots: {typ} has no snapshot {s!r}")
        _as_written(cls.config_model, body, file, text, ("connectors", i))
        try:
            cfg = cls.config_model.model_validate(body)
        except ValidationError as e:
            raise ConfigError(_validation_message(e, file, text, ("connectors", i))) from None
        instances.append(ConnectorInstance(typ, inst, cfg, tuple(snaps) if snaps else None))

    schedules: list[ScheduleConfig] = []
    raw_sched = data.get("schedule", [])
    if not isinstance(raw_sched, list):
        raise ConfigError(f"{_where(file, text, ('schedule',))}: schedule: "
                          "expected [[schedule]] entries")
    names: set[str] = set()
    for i, raw in enumerate(raw_sched):
        _as_written(ScheduleConfig, raw, file, text, ("schedule", i))
        try:
            sc = ScheduleConfig.model_validate(raw)
        except ValidationError as e:
            raise ConfigError(_validation_message(e, file, text, ("schedule", i))) from None
        at = _where(file, text, ("schedule", i))
        if sc.name in names:
            raise ConfigError(f"{at}: schedule[{i}].name: {sc.name!r} is used twice")
        names.add(sc.name)
        known = {c.type for c in instances} | {c.key for c in instances}
        for c in sc.connectors:
            if c not in known:
                raise ConfigError(f"{at}: schedule[{i}].connectors: {c!r} is not configured")
        for cid in sc.controls:
            try:
                catalog.resolve(cid)
            except ConfigError as e:
                raise ConfigError(f"{at}: schedule[{i}].controls: {e.message}") from None
        _check_schedule_time(sc, f"{at}: schedule[{i}]")
        schedules.append(sc)

    policy = model(ExceptionPolicy, "exception_policy")
    declared = _entries(data, "exceptions", ExceptionDecl, file, text)
    for i, d in enumerate(declared):
        _check_exception(d, instances, f"{_where(file, text, ('exceptions', i))}: "
                                       f"exceptions[{i}]")
    if len({d.id for d in declared}) != len(declared):
        raise ConfigError(f"{_where(file, text, ('exceptions',))}: exceptions: an id is "
                          "used twice")
    sinks = _entries(data, "alerts", AlertSink, file, text)
    for i, sink in enumerate(sinks):
        at = f"{_where(file, text, ('alerts', i))}: alerts[{i}]"
        for cid in sink.controls:
            try:
                catalog.resolve(cid)
            except ConfigError as e:
                raise ConfigError(f"{at}.controls: {e.message}") from None
    if len({a.name for a in sinks}) != len(sinks):
        raise ConfigError(f"{_where(file, text, ('alerts',))}: alerts: a name is used twice")
    return Config(fp.resolve() if fp else None, store, signing, collector, catalog,
                  tuple(instances), tuple(schedules), tuple(declared), policy, tuple(sinks))


_M = TypeVar("_M", bound=_Model)


def _entries(data: Mapping[str, Any], key: str, cls: type[_M], file: str, text: str
             ) -> list[_M]:
    raw = data.get(key, [])
    if not isinstance(raw, list):
        raise ConfigError(f"{_where(file, text, (key,))}: {key}: expected [[{key}]] entries")
    out: list[_M] = []
    for i, item in enumerate(raw):
        _as_written(cls, item, file, text, (key, i))
        try:
            out.append(cls.model_validate(item))
        except ValidationError as e:
            raise ConfigError(_validation_message(e, file, text, (key, i))) from None
    return out


def _scalars(annotation: Any) -> tuple[set[type], list[type[BaseModel]]]:
    """The scalar types (bool, int, float, str) and the models an annotation admits, at its
    top and as the items of a tuple or list."""
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) \
        else (annotation,)
    kinds: set[type] = set()
    models: list[type[BaseModel]] = []
    for a in args:
        if get_origin(a) is Annotated:
            a = get_args(a)[0]
        if a in (bool, int, float, str):
            kinds.add(a)
        elif get_origin(a) is Literal:
            kinds.update(type(x) for x in get_args(a))
        elif isinstance(a, type) and issubclass(a, BaseModel):
            models.append(a)
        elif get_origin(a) in (tuple, list):
            for inner in get_args(a):
                if inner is not Ellipsis:
                    k, m = _scalars(inner)
                    kinds |= k
                    models += m
    return kinds, models


def _as_written(cls: type[BaseModel], raw: Any, file: str, text: str,
                path: tuple[str | int, ...]) -> None:
    """Refuse a scalar TOML gave in another type than its key's: pydantic would turn `"4"`
    or `true` into the integer 4 or 1, and `1` into true, without a word."""
    if not isinstance(raw, dict):
        return
    for key, v in raw.items():
        f = cls.model_fields.get(key) if isinstance(key, str) else None
        if f is None:
            continue
        kinds, models = _scalars(f.annotation)
        at = (*path, key)
        for i, item in (enumerate(v) if isinstance(v, list) else [(None, v)]):
            where = at if i is None else (*at, i)
            number = "a number" if float in kinds else "an integer"
            why = None
            if isinstance(item, bool) and bool not in kinds and kinds & {int, float}:
                why = f"expected {number}, not true/false"
            elif isinstance(item, str) and str not in kinds and kinds & {int, float} \
                    and _numeric(item):  # other strings: pydantic's own message
                why = f"expected {number}, not a string"
            elif isinstance(item, int | float) and not isinstance(item, bool) \
                    and kinds == {bool}:
                why = "expected true or false"
            if why is not None:
                shown = "" if any(_SECRETISH.search(p) for p in where if isinstance(p, str)) \
                    else f" (got {item!r})"
                raise ConfigError(f"{_where(file, text, where)}: {_dotted(where)}: {why}{shown}")
            if isinstance(item, dict) and len(models) == 1:
                _as_written(models[0], item, file, text, where)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_exception(d: ExceptionDecl, instances: list[ConnectorInstance], at: str) -> None:
    from storage.queries import parse_time

    m = re.match(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.*?-]+):([A-Za-z0-9_.-]+)$", d.snapshot)
    if not m:
        raise ConfigError(f"{at}.snapshot: expected CONNECTOR/INSTANCE:SNAPSHOT "
                          f"(got {d.snapshot!r})")
    if not any(c.type == m.group(1) and m.group(3) in c.config_snapshots() for c in instances):
        raise ConfigError(f"{at}.snapshot: no configured {m.group(1)} instance has a snapshot "
                          f"{m.group(3)!r} (got {d.snapshot!r})")
    if d.resource.strip() == "*":
        raise ConfigError(f"{at}.resource: '*' would except every finding; name the resources")
    try:
        parse_time(d.expires)
    except ConfigError:
        raise ConfigError(f"{at}.expires: not an ISO 8601 date (got {d.expires!r})") from None


def _check_index_url(url: str, where: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
        _ = u.port  # a non-numeric port fails here, not later with a traceback
    except (ArgumentError, ValueError):
        raise ConfigError(f"{where}: store.index_url: not an SQLAlchemy URL "
                          "(e.g. sqlite:///evidence/index.db)") from None
    if u.port is not None and not 1 <= u.port <= 65535:
        raise ConfigError(f"{where}: store.index_url: port {u.port} is out of range "
                          "(1 to 65535)")
    secret_params = [k for k in u.query if _SECRETISH.search(k) or k.lower() in ("passfile",)]
    if u.password is not None or secret_params:
        raise ConfigError(f"{where}: store.index_url: holds a password; write it as "
                          'index_password = { env = "NAME" } (or { file = "PATH" }) instead')
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{where}: store.index_url: {u.get_backend_name()!r} is not "
                          "supported (use sqlite or postgresql)")


def _check_schedule_time(sc: ScheduleConfig, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(sc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: unknown time zone {sc.timezone!r}") from None
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(sc.cron, timezone=sc.timezone)
    except ValueError as e:
        raise ConfigError(f"{where}.cron: {e} (got {sc.cron!r})") from None

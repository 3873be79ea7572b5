"""Accounts and regions one run collects from: profiles, assumed roles, Organizations members."""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import handlers
from botocore.hooks import EventAliaser, HierarchicalEmitter

from connectors.aws.calls import Recorder
from connectors.aws.config import AwsAccount, AwsConfig
from connectors.errors import ConnectorError
from connectors.secrets import SecretRef, resolve_secret

SessionFactory = Callable[[str | None], boto3.Session]


_LOADER_LOCK = threading.Lock()


class _SharedLoader(botocore.loaders.Loader):  # type: ignore[misc]
    """botocore's loader, shared by the threads of a run: each file is parsed once, not once
    by every snapshot that asks for it at the same moment (its cache has no lock)."""

    def __init__(self, extra_search_paths: list[str]) -> None:
        super().__init__(extra_search_paths=extra_search_paths)
        self._parse_lock = threading.RLock()

    def list_available_services(self, *a: Any, **k: Any) -> Any:
        with self._parse_lock:
            return super().list_available_services(*a, **k)

    def load_service_model(self, *a: Any, **k: Any) -> Any:
        with self._parse_lock:
            return super().load_service_model(*a, **k)

    def load_data_with_path(self, *a: Any, **k: Any) -> Any:
        with self._parse_lock:
            return super().load_data_with_path(*a, **k)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    # Service models and endpoint data, parsed once per process: every snapshot makes fresh
    # sessions, and a fresh session's own loader would parse the same JSON files again.
    extra = os.environ.get("AWS_DATA_PATH", "")  # botocore's own sessions honour it too
    return _SharedLoader([os.path.expanduser(os.path.expandvars(d))
                          for d in extra.split(os.pathsep) if d])


@functools.cache
def _builtin_events() -> HierarchicalEmitter:
    # botocore's built-in event handlers, registered once per process, the way a session
    # registers them (botocore.session.Session._register_builtin_handlers). A new session
    # would register its 127 again, aliasing every event name on the way (~8 ms a session,
    # and every snapshot makes one); each starts from a copy of these instead (~1 ms).
    events = HierarchicalEmitter()
    aliased = EventAliaser(events)
    for spec in handlers.BUILTIN_HANDLERS:
        if len(spec) == 2:
            aliased.register(spec[0], spec[1])
        elif spec[2] is handlers.REGISTER_FIRST:
            aliased.register_first(spec[0], spec[1])
        elif spec[2] is handlers.REGISTER_LAST:
            aliased.register_last(spec[0], spec[1])
    return events


def new_session(profile: str | None = None, **credentials: str) -> boto3.Session:
    """A boto3 session (a profile, explicit credentials, or the default chain) that shares
    botocore's parsed service data and its built-in handler table with every other session
    of this process."""
    loader = _shared_loader()
    core = botocore.session.Session(profile=profile, event_hooks=copy.copy(_builtin_events()),
                                    include_builtin_handlers=False)
    core.register_component("data_loader", loader)
    with _LOADER_LOCK:
        session = boto3.Session(botocore_session=core, **credentials)
        # boto3 appends its data folder to the loader's search path on every session
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


def default_factory(profile: str | None) -> boto3.Session:
    """A boto3 session from a named profile, or from the default credential chain."""
    return new_session(profile)


@dataclass(frozen=True)
class Account:
    """An account reached and identified (STS GetCallerIdentity) for this run."""

    label: str
    account_id: str
    principal: str
    session: boto3.Session


@dataclass(frozen=True)
class Unreachable:
    """An account that could not be reached; its evidence is missing, not passing."""

    label: str
    account_id: str | None
    error: ConnectorError


def _secret(ref: SecretRef | None) -> str | None:
    return None if ref is None else resolve_secret(ref)


def _assume(rec: Recorder, base: boto3.Session, home: str, role_arn: str,
            external_id: str | None, session_name: str) -> boto3.Session:
    sts = rec.client(base, "sts", home, "base")
    params: dict[str, str] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id:
        params["ExternalId"] = external_id
    creds = sts.need("AssumeRole", **params)["Credentials"]
    return new_session(aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"], region_name=home)


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def resolve_accounts(config: AwsConfig, factory: SessionFactory,
                     rec: Recorder) -> tuple[list[Account], list[Unreachable]]:
    """Reach every configured (and discovered) account; failures are returned, not raised."""
    home = config.home_region
    reached: list[Account] = []
    failed: list[Unreachable] = []
    seen: set[str] = set()
    base = factory(config.profile)

    def identify(label: str, session: boto3.Session) -> None:
        me = rec.client(session, "sts", home, label).need("GetCallerIdentity")
        if me["Account"] in seen:
            return
        seen.add(me["Account"])
        reached.append(Account(label, me["Account"], me["Arn"], session))

    def reach(label: str, make: Callable[[], boto3.Session], account_id: str | None) -> None:
        try:
            identify(label, make())
        except ConnectorError as e:
            failed.append(Unreachable(label, account_id, e))

    specs: list[AwsAccount] = list(config.accounts)
    if not specs and config.organizations_discovery is None:
        reach((config.profile and f"profile:{config.profile}") or "default", lambda: base, None)
    for spec in specs:
        if spec.profile is not None:
            prof = spec.profile
            reach(spec.describe(), lambda p=prof: factory(p), None)  # type: ignore[misc]
        else:
            arn = str(spec.role_arn)
            ext = _secret(spec.external_id)
            reach(spec.describe(),
                  lambda a=arn, x=ext, n=spec.session_name:  # type: ignore[misc]
                  _assume(rec, base, home, a, x, n), arn.split(":")[4])

    disc = config.organizations_discovery
    if disc is not None:
        try:
            me = rec.client(base, "sts", home, "base").need("GetCallerIdentity")
            # members on pages never read are unreachable, not absent
            org = rec.client(base, "organizations", home, f"{me['Account']}/organizations",
                             on_cut=lambda e: failed.append(Unreachable("organizations", None, e)))
            members = [a for p in org.pages("ListAccounts") for a in p.get("Accounts", [])]
        except ConnectorError as e:
            failed.append(Unreachable("organizations", None, e))
            members = []
        ext = _secret(disc.external_id)
        for m in sorted(members, key=lambda a: str(a["Id"])):
            aid = str(m["Id"])
            status = m.get("State") or m.get("Status")
            if aid in disc.exclude or aid in seen or status not in ("ACTIVE", None):
                continue
            arn = f"arn:{_partition(me['Arn'])}:iam::{aid}:role/{disc.role_name}"
            reach(f"org:{aid}", partial(_assume, rec, base, home, arn, ext, "evidence-agent"),
                  aid)
    return reached, failed


def resolve_regions(config: AwsConfig, account: Account, rec: Recorder) -> list[str]:
    """The configured regions, or every region enabled for `account` ("all")."""
    if config.regions != "all":
        return list(config.regions)
    ec2 = rec.client(account.session, "ec2", config.home_region,
                     f"{account.account_id}/{config.home_region}")
    regions = ec2.need("DescribeRegions", AllRegions=False)["Regions"]
    return sorted(str(r["RegionName"]) for r in regions
                  if r.get("OptInStatus", "opt-in-not-required") != "not-opted-in")

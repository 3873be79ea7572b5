"""The `okta` connector: users and MFA factors, admin roles, policies, lifecycle events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import (
    ConfigError,
    ConnectorError,
    DataUnavailable,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from connectors.okta import examples as X
from connectors.okta.assess import assess_admins, assess_users
from connectors.okta.client import (
    SCOPES,
    ClientFactory,
    NotFound,
    OktaHttp,
    RateLimitExhausted,
    make_client,
    recorded_session,
)
from connectors.okta.config import OktaConfig
from connectors.okta.policies import assess_policies

DAY = timedelta(days=1)
RETENTION = timedelta(days=90)
POLICY_TYPES = ("PASSWORD", "MFA_ENROLL", "OKTA_SIGN_ON", "ACCESS_POLICY")
LIFECYCLE_EVENT_TYPES = ("user.lifecycle.create", "user.lifecycle.activate",
                         "user.lifecycle.reactivate", "user.lifecycle.deactivate",
                         "user.lifecycle.suspend", "user.lifecycle.unsuspend",
                         "user.lifecycle.delete.initiated", "user.lifecycle.delete.completed")
_T = TypeVar("_T")
_R = TypeVar("_R")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def factor_row(f: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Factors API object an auditor needs (type, provider, status)."""
    return {"id": f.get("id"), "type": f.get("factorType"), "provider": f.get("provider"),
            "vendor": f.get("vendorName"), "status": f.get("status"),
            "created": f.get("created"), "last_updated": f.get("lastUpdated")}


def user_row(u: dict[str, Any]) -> dict[str, Any]:
    """A user as evidence. Okta has no `deactivated` field: a DEPROVISIONED user's
    `statusChanged` is when it was deactivated."""
    status = u.get("status")
    return {"id": u.get("id"), "login": (u.get("profile") or {}).get("login"),
            "status": status, "created": u.get("created"), "activated": u.get("activated"),
            "last_login": u.get("lastLogin"), "status_changed": u.get("statusChanged"),
            "deactivated": u.get("statusChanged") if status == "DEPROVISIONED" else None,
            "password_changed": u.get("passwordChanged"), "factors": None,
            "factors_error": None}


def lifecycle_items(content: Any) -> list[dict[str, Any]]:
    """Each lifecycle event as a population item (id = the event's uuid)."""
    out = []
    for e in content.get("events", []):
        users = [t for t in e.get("target") or [] if t.get("type") == "User"]
        target: dict[str, Any] = users[0] if users else {}
        out.append({"id": e["uuid"], "time": e["published"], "event_type": e.get("eventType"),
                    "user": target.get("alternateId"), "user_id": target.get("id"),
                    "actor": (e.get("actor") or {}).get("alternateId"),
                    "outcome": (e.get("outcome") or {}).get("result")})
    return out


async def bounded(items: list[_T], fn: Callable[[_T], Awaitable[_R]], n: int
                  ) -> list[_R | BaseException]:
    """fn over items with at most n in flight; results (or the exception) in input order.
    After a RateLimitExhausted the remaining items are not started."""
    results: list[_R | BaseException | None] = [None] * len(items)
    it = iter(enumerate(items))
    stop: list[RateLimitExhausted] = []

    async def worker() -> None:
        for i, x in it:
            if stop:
                results[i] = stop[0]
                continue
            try:
                results[i] = await fn(x)
            except RateLimitExhausted as e:
                stop.append(e)
                results[i] = e
            except ConnectorError as e:
                results[i] = e

    await asyncio.gather(*(worker() for _ in range(max(1, min(n, len(items))))))
    return [r if r is not None else RuntimeError("not run") for r in results]


class OktaConnector(Connector[OktaConfig]):
    """Evidence from an Okta org: users and MFA, admin roles, policies, lifecycle events."""

    name: ClassVar[str] = "okta"
    title: ClassVar[str] = "Okta"

    def __init__(self, instance: str, config: OktaConfig, *,
                 factory: ClientFactory | None = None,
                 sleep: Callable[[float], Awaitable[Any]] | None = None) -> None:
        super().__init__(instance, config, factory=factory)
        self._sleep = sleep or asyncio.sleep

    @classmethod
    def permission_document(cls) -> str:
        """The OAuth 2.0 scopes to grant the service app (an API token needs a read-only
        admin role instead), one per line."""
        return "\n".join(cls.permissions())

    # --- plumbing -----------------------------------------------------------------------------

    def _mode(self) -> str:
        return "oauth" if self.config.oauth is not None else "api_token"

    @asynccontextmanager
    async def _http(self, mode: str, scopes: tuple[str, ...], ipe: Provenance
                    ) -> AsyncIterator[OktaHttp]:
        """An SDK client whose session is the kit's (every call recorded on `ipe`, retried)."""
        client = make_client(self.config, mode, self.factory, scopes)
        async with client, recorded_session(self.config, ipe, sleep=self._sleep) as session:
            client.get_request_executor().set_session(session)
            yield OktaHttp(self.config, client)

    def _collect(self, ctx: SnapshotContext,
                 body: Callable[[OktaHttp], Coroutine[Any, Any, SnapshotResult]]
                 ) -> SnapshotResult:
        async def go() -> SnapshotResult:
            mode = self._mode()
            # Ask only for the scopes this snapshot needs: one missing grant stops only the
            # snapshots that need it.
            scopes = self.snapshots()[ctx.snapshot].permissions if \
                ctx.snapshot in self.snapshots() else SCOPES
            async with self._http(mode, tuple(scopes), ctx.ipe) as http:
                ctx.ipe.source = self.config.org_url
                if mode == "oauth":
                    assert self.config.oauth is not None
                    ctx.ipe.principal = f"service app {self.config.oauth.client_id} " \
                                        "(OAuth 2.0, private_key_jwt)"
                else:
                    me, _ = await http.get("/api/v1/users/me")
                    login = (me.get("profile") or {}).get("login")
                    ctx.ipe.principal = f"API token of {login} ({me.get('id')})"
                try:
                    return await body(http)
                except RateLimitExhausted as e:
                    # Waited as long as allowed: a recorded failure, not a retry loop.
                    raise ConnectorError(e.message, hint=e.hint) from None

        return asyncio.run(go())

    async def _factors(self, http: OktaHttp, ctx: SnapshotContext,
                       rows: list[dict[str, Any]]) -> None:
        async def one(row: dict[str, Any]) -> list[dict[str, Any]]:
            data, _ = await http.get(f"/api/v1/users/{row['id']}/factors")
            return [factor_row(f) for f in data or []]

        results = await bounded(rows, one, self.config.concurrency)
        cut: str | None = None
        for row, res in zip(rows, results, strict=True):
            if isinstance(res, list):
                row["factors"] = res
            elif isinstance(res, NotFound):
                row["factors_error"] = "the user no longer exists (404)"
            elif isinstance(res, RateLimitExhausted):
                row["factors_error"] = "not read: the rate-limit budget was spent"
                cut = str(res)
            elif isinstance(res, PermissionDenied):
                raise res
            else:
                row["factors_error"] = str(res)[:300]
                ctx.ipe.error(f"factors of {row['id']}: {str(res)[:200]}")
        if cut:
            ctx.ipe.cut_short(f"factors not read for every user: {cut}")

    # --- check ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Each configured credential: does it authenticate, and which read scope is missing."""
        lines: list[str] = []
        principals: list[str] = []
        ok_any = False
        for mode in ("oauth", "api_token"):
            if (mode == "oauth" and self.config.oauth is None) or (
                    mode == "api_token" and self.config.api_token is None):
                continue
            try:
                ok, principal, detail = asyncio.run(self._check(mode))
            except ConfigError as e:
                ok, principal, detail = False, None, str(e)
            ok_any = ok_any or ok
            if principal:
                principals.append(principal)
            lines.append(f"{mode}: {detail}")
        return CheckResult(ok_any, ", ".join(principals) or None, self.config.org_url,
                           "; ".join(lines))

    async def _check(self, mode: str) -> tuple[bool, str | None, str]:
        probes: dict[str, tuple[str, dict[str, Any]]] = {
                  "okta.users.read": ("/api/v1/users", {"limit": 1}),
                  "okta.groups.read": ("/api/v1/groups", {"limit": 1}),
                  "okta.roles.read": ("/api/v1/iam/assignees/users", {"limit": 1}),
                  "okta.policies.read": ("/api/v1/policies", {"type": "PASSWORD"}),
                  "okta.logs.read": ("/api/v1/logs", {
                      "limit": 1, "since": _iso(datetime.now(UTC) - timedelta(minutes=5)),
                      "until": _iso(datetime.now(UTC))})}
        if mode == "oauth":
            assert self.config.oauth is not None
            principal = f"service app {self.config.oauth.client_id}"
            missing = []
            async with self._http(mode, SCOPES, Provenance()) as http:
                try:  # one token with every scope: the usual, cheap case
                    for path, params in probes.values():
                        await http.get(path, params)
                    return True, principal, f"works ({principal}; all of {', '.join(SCOPES)})"
                except PermissionDenied:
                    pass  # find out which scope is missing, one token per scope
                except ConnectorError as e:
                    return False, principal, f"fails: {e}"
            for scope, (path, params) in probes.items():
                async with self._http(mode, (scope,), Provenance()) as one:
                    try:
                        await one.get(path, params)
                    except PermissionDenied:
                        missing.append(scope)
                    except ConnectorError as e:
                        return False, principal, f"fails: {e}"
        else:
            async with self._http(mode, SCOPES, Provenance()) as http:
                try:
                    me, _ = await http.get("/api/v1/users/me")
                except ConnectorError as e:
                    return False, None, f"fails: {e}"
                principal = f"API token of {(me.get('profile') or {}).get('login')}"
                missing = []
                for scope, (path, params) in probes.items():
                    try:
                        await http.get(path, params)
                    except PermissionDenied:
                        missing.append(scope)
                    except ConnectorError as e:
                        return False, principal, f"fails: {e}"
        if missing:
            what = "grant scope" if mode == "oauth" else "its admin role cannot read"
            return False, principal, f"authenticates as {principal}, but {what}: " + \
                ", ".join(missing)
        return True, principal, f"works ({principal}; all of {', '.join(SCOPES)})"

    # --- snapshots ------------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.2"], max_age=DAY, permissions=["okta.users.read"],
              assess=assess_users, example=X.USERS)
    def users(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every user (DEPROVISIONED ones too) with status, created, activated, last login,
        deactivation time and enrolled MFA factors: the population for MFA coverage and
        access reviews."""
        async def body(http: OktaHttp) -> SnapshotResult:
            seen: dict[str, dict[str, Any]] = {}
            lim = self.config.page_limit
            # Listing without a filter leaves DEPROVISIONED users out (Okta documents it).
            for params in ({"limit": lim},
                           {"limit": lim, "filter": 'status eq "DEPROVISIONED"'}):
                try:
                    async for page in http.pages("/api/v1/users", params):
                        for u in page:
                            seen[u["id"]] = user_row(u)  # deactivated meanwhile: newest wins
                except (RateLimitExhausted, TransientError, UnexpectedResponse) as e:
                    ctx.ipe.cut_short(f"user list not read to the end: {e}")
                    break
            rows = sorted(seen.values(), key=lambda r: str(r["id"]))
            if ctx.ipe.pagination_exhausted:
                await self._factors(http, ctx, rows)
            else:
                for r in rows:
                    r["factors_error"] = "not read: the user list was cut short"
            return SnapshotResult({"org": self.config.org_url, "users": rows}, len(rows))

        return self._collect(ctx, body)

    @snapshot(controls=["CC6.3", "CC6.1"], max_age=DAY,
              permissions=["okta.roles.read", "okta.groups.read", "okta.users.read"],
              assess=assess_admins, example=X.ADMIN_ROLES)
    def admin_roles(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every admin role assignment, to users directly and to groups (with the groups'
        members), and each admin's MFA factors: proves who holds privileged access and
        whether it is protected by phishing-resistant MFA."""
        async def body(http: OktaHttp) -> SnapshotResult:
            assignments: list[dict[str, Any]] = []
            unreadable: list[dict[str, Any]] = []
            admins: dict[str, dict[str, Any]] = {}
            ids: list[str] = []
            async for page in http.pages("/api/v1/iam/assignees/users", {"limit": 100}):
                ids.extend(str(x["id"]) for x in page)

            async def user_and_roles(uid: str) -> tuple[dict[str, Any], list[Any]]:
                u, _ = await http.get(f"/api/v1/users/{uid}")
                r, _ = await http.get(f"/api/v1/users/{uid}/roles")
                return u, r or []

            for uid, res in zip(ids, await bounded(ids, user_and_roles, self.config.concurrency),
                                strict=True):
                if isinstance(res, BaseException):
                    self._raise_fatal(res)
                    unreadable.append({"what": f"user {uid}", "error": str(res)[:300]})
                    continue
                u, roles = res
                row = admins.setdefault(uid, {**user_row(u), "roles": []})
                for r in roles:
                    assignments.append(self._assignment("USER", uid, row["login"], r))
                    row["roles"].append(f"{r.get('type')} (direct)")
            groups: list[dict[str, Any]] = []
            async for page in http.pages("/api/v1/groups", {"limit": 10000}):
                groups.extend(page)

            async def group_roles(g: dict[str, Any]) -> list[Any]:
                r, _ = await http.get(f"/api/v1/groups/{g['id']}/roles")
                return list(r or [])

            admin_groups: list[dict[str, Any]] = []
            for g, gres in zip(groups, await bounded(groups, group_roles,
                                                     self.config.concurrency), strict=True):
                name = (g.get("profile") or {}).get("name")
                if isinstance(gres, BaseException):
                    self._raise_fatal(gres)
                    unreadable.append({"what": f"group {name} ({g['id']})",
                                       "error": str(gres)[:300]})
                    continue
                if not gres:
                    continue
                entry: dict[str, Any] = {"id": g["id"], "name": name, "members": [],
                                         "members_complete": True, "error": None,
                                         "roles": [r.get("type") for r in gres]}
                admin_groups.append(entry)
                for r in gres:
                    assignments.append(self._assignment("GROUP", g["id"], name, r))
                try:
                    async for page in http.pages(f"/api/v1/groups/{g['id']}/users",
                                                 {"limit": 1000}):
                        for u in page:
                            entry["members"].append(u["id"])
                            row = admins.setdefault(u["id"], {**user_row(u), "roles": []})
                            row["roles"].extend(f"{t} (group {name})" for t in entry["roles"])
                except ConnectorError as e:
                    self._raise_fatal(e)
                    entry["members_complete"], entry["error"] = False, str(e)[:300]
            rows = sorted(admins.values(), key=lambda r: str(r["id"]))
            for r in rows:
                r["roles"] = sorted(set(r["roles"]))
            await self._factors(http, ctx, rows)
            for bad in unreadable:
                ctx.ipe.error(f"{bad['what']}: {bad['error']}")
            for g in admin_groups:
                if not g["members_complete"]:
                    ctx.ipe.error(f"members of group {g['name']}: {g['error']}")
            assignments.sort(key=lambda a: (a["principal_type"], str(a["principal_id"]),
                                            str(a["role_id"])))
            return SnapshotResult({"org": self.config.org_url, "assignments": assignments,
                                   "groups": admin_groups, "admins": rows,
                                   "unreadable": unreadable}, len(assignments))

        return self._collect(ctx, body)

    @staticmethod
    def _raise_fatal(e: BaseException) -> None:
        # A missing scope or a spent rate budget stops the snapshot; one bad object does not.
        if isinstance(e, (PermissionDenied, RateLimitExhausted)):
            raise e

    @staticmethod
    def _assignment(kind: str, pid: str, name: Any, r: dict[str, Any]) -> dict[str, Any]:
        return {"principal_type": kind, "principal_id": pid, "principal_name": name,
                "role_id": r.get("id"), "role_type": r.get("type"), "label": r.get("label"),
                "status": r.get("status"), "assignment_type": r.get("assignmentType"),
                "custom_role": r.get("role"), "resource_set": r.get("resource-set"),
                "created": r.get("created")}

    @snapshot(controls=["CC6.1"], max_age=DAY, permissions=["okta.policies.read"],
              assess=assess_policies, example=X.POLICIES, schema=X.POLICIES_SCHEMA)
    def policies(self, ctx: SnapshotContext) -> SnapshotResult:
        """Password, MFA enrollment, global sign-on and authentication (access) policies,
        each with its rules in priority order: proves how sign-in and MFA are enforced
        (password settings, MFA enrollment for everyone, no sign-in without MFA)."""
        async def body(http: OktaHttp) -> SnapshotResult:
            out: list[dict[str, Any]] = []
            unavailable: dict[str, str] = {}
            for ptype in POLICY_TYPES:
                # Policies (and rules) are Link-paginated lists (`limit`, `after`): a weaker
                # policy on a later page must be read, never silently dropped.
                data: list[dict[str, Any]] = []
                try:
                    async for page in http.pages("/api/v1/policies", {"type": ptype}):
                        data.extend(page)
                except ConnectorError as e:
                    self._raise_fatal(e)
                    # e.g. ACCESS_POLICY does not exist in a Classic Engine org (400).
                    unavailable[ptype] = str(e)[:300]
                    continue
                for p in sorted(data, key=lambda p: (p.get("priority") or 0,
                                                     str(p.get("id")))):
                    rules: list[dict[str, Any]] = []
                    async for page in http.pages(f"/api/v1/policies/{p['id']}/rules"):
                        rules.extend(page)
                    p = {k: v for k, v in p.items() if k != "_links"}
                    p["rules"] = sorted(rules or [], key=lambda r: (r.get("priority") or 0,
                                                                    str(r.get("id"))))
                    out.append(p)
            return SnapshotResult({"org": self.config.org_url, "policies": out,
                                   "unavailable_types": unavailable}, len(out))

        return self._collect(ctx, body)

    @snapshot(controls=["CC6.2"], max_age=DAY, permissions=["okta.logs.read"],
              kind="population", items=lifecycle_items, example=X.LIFECYCLE,
              schema=X.LIFECYCLE_SCHEMA,
              lookback=timedelta(days=89), max_window=timedelta(days=7))
    def user_lifecycle_events(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every System Log event creating, activating, deactivating, suspending or deleting
        a user in the window (all pages to the end): the population for joiner/leaver
        testing. Okta keeps 90 days, so windows are collected continuously."""
        now = datetime.now(UTC)
        start = ctx.period_start or (now - DAY)
        end = ctx.period_end or now
        floor = now - RETENTION + timedelta(minutes=5)
        if start < now - RETENTION + timedelta(minutes=1):
            # No retry can bring these back: the runner records the span once as a
            # permanent gap and asks again from `floor`, a few minutes inside the retention
            # so that the next window (moments later) is not past it again.
            raise DataUnavailable(
                f"Okta keeps System Log events 90 days: events from {_iso(start)} to "
                f"{_iso(min(floor, end))} are no longer available at the source",
                available_from=floor,
                hint="collect user_lifecycle_events on a schedule (at least every 80 days) "
                     "so every window is read while Okta still keeps it")
        flt = " or ".join(f'eventType eq "{t}"' for t in LIFECYCLE_EVENT_TYPES)

        async def body(http: OktaHttp) -> SnapshotResult:
            events: list[dict[str, Any]] = []
            params = {"since": _iso(start), "until": _iso(end), "filter": flt,
                      "limit": self.config.log_page_limit, "sortOrder": "ASCENDING"}
            if start < end:
                try:
                    async for page in http.pages("/api/v1/logs", params):
                        events.extend(page)
                except (RateLimitExhausted, TransientError, UnexpectedResponse) as e:
                    ctx.ipe.cut_short(f"System Log not read to the end: {e}")
            return SnapshotResult({"org": self.config.org_url,
                                   "window": {"since": _iso(start), "until": _iso(end)},
                                   "filter": flt, "events": events}, len(events))

        return self._collect(ctx, body)

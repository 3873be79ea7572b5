"""The `github` connector: organization access, branch protection and the population of
merged changes with their reviews, through PyGithub."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    CheckResult,
    Connector,
    Provenance,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.errors import AuthError, ConfigError, ConnectorError, PermissionDenied
from connectors.github import assess as A
from connectors.github import examples as X
from connectors.github import schemas as S
from connectors.github.client import Api, ClientFactory, RateLimited, default_factory
from connectors.github.config import GitHubConfig
from connectors.github.permissions import permission_document

DAY = timedelta(days=1)
Json = Any


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def _user(u: Any) -> str | None:
    return u.get("login") if isinstance(u, dict) else None


class GitHubConnector(Connector[GitHubConfig]):
    """Evidence from GitHub organizations (github.com or Enterprise Server)."""

    name: ClassVar[str] = "github"
    title: ClassVar[str] = "GitHub"

    def __init__(self, instance: str, config: GitHubConfig, *,
                 factory: ClientFactory | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(instance, config, factory=factory or default_factory)
        self.cfg = self.config
        self._sleep = sleep
        self._clock = clock
        self._apis: list[Api] = []
        self._apis_lock = threading.Lock()

    @classmethod
    def permission_document(cls) -> str:
        """The read-only fine-grained token / GitHub App permissions, per snapshot."""
        return permission_document({n: s.permissions for n, s in cls.snapshots().items()})

    def _api(self, ipe: Provenance) -> Api:
        """This snapshot's GitHub access: its own recorder, retrier and wait budget."""
        api = Api(self.factory, self.cfg, ipe, sleep=self._sleep, clock=self._clock)
        with self._apis_lock:
            self._apis.append(api)
        ipe.source = f"{self.cfg.base_url} orgs={','.join(self.cfg.organizations)}"
        ipe.principal = self._principal(api)
        return api

    def _principal(self, api: Api) -> str:
        if self.cfg.app is not None:
            return f"GitHub App {self.cfg.app.app_id} installation {self.cfg.app.installation_id}"
        me = api.get("/user")
        return f"user {me.get('login')}"

    def close(self) -> None:
        with self._apis_lock:
            apis, self._apis = self._apis, []
        for api in apis:
            api.close()

    def check(self) -> CheckResult:
        """Who the credential is, each organization readable, and which permission is missing."""
        ipe = Provenance()
        try:
            api = self._api(ipe)
            missing: list[str] = []
            for org in self.cfg.organizations:
                o = api.get(f"/orgs/{_q(org)}")
                if o.get("two_factor_requirement_enabled") is None:
                    missing.append(f"{org}: organization Administration: read (2FA setting "
                                   "hidden)")
                try:
                    api.get(f"/orgs/{_q(org)}/members", {"filter": "2fa_disabled",
                                                          "per_page": 1})
                except ConnectorError as e:
                    missing.append(f"{org}: members with 2FA disabled unreadable ({e.message})")
        except ConnectorError as e:
            return CheckResult(False, ipe.principal, ipe.source, str(e))
        finally:
            self.close()
        if missing:
            return CheckResult(False, ipe.principal, ipe.source, "missing: " + "; ".join(missing))
        return CheckResult(True, ipe.principal, ipe.source,
                           f"{len(self.cfg.organizations)} organization(s) readable")

    # --- scope ---------------------------------------------------------------------------------

    def _repos(self, api: Api, ctx: SnapshotContext) -> Iterator[tuple[str, Json]]:
        """In-scope repositories of every organization, sorted by full name."""
        for org in self.cfg.organizations:
            # A later page failing after its retries keeps what was read (cut short).
            found = [r for r in api.all(f"/orgs/{_q(org)}/repos", {"type": "all"})
                     if (self.cfg.include_archived or not r.get("archived"))
                     and self.cfg.in_scope(org, r["name"])]
            if isinstance(self.cfg.repositories, list):
                names = {r["name"] for r in found}
                for want in self.cfg.repositories:
                    o, _, n = want.rpartition("/")
                    if (not o or o == org) and n not in names and (
                            o or len(self.cfg.organizations) == 1):
                        ctx.ipe.error(f"repository {org}/{n} is in scope but was not found "
                                      "(or is archived)")
            for r in sorted(found, key=lambda r: r["full_name"]):
                yield org, r

    # --- org_settings --------------------------------------------------------------------------

    @snapshot(controls=["CC6.1", "CC6.2", "CC6.3"], max_age=DAY,
              permissions=["organization:members:read", "organization:administration:read"],
              assess=A.assess_org_settings, example=X.ORG_SETTINGS,
              schema=S.ORG_SETTINGS)
    def org_settings(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each organization's 2FA requirement, default repository permission, owners,
        members, outside collaborators and members without 2FA: proves who has access and
        that it needs a second factor."""
        api = self._api(ctx.ipe)
        orgs = []
        count = 0
        failures: list[ConnectorError] = []
        for org in self.cfg.organizations:
            try:
                o = api.get(f"/orgs/{_q(org)}")
                owners = sorted(m["login"] for m in api.all(f"/orgs/{_q(org)}/members",
                                                             {"role": "admin"}))
                members = sorted(m["login"] for m in api.all(f"/orgs/{_q(org)}/members",
                                                              {"role": "all"}))
                outside = sorted(m["login"] for m in api.all(
                    f"/orgs/{_q(org)}/outside_collaborators"))
                no2fa: list[str] | None
                try:
                    no2fa = sorted(m["login"] for m in api.all(
                        f"/orgs/{_q(org)}/members", {"filter": "2fa_disabled"}))
                except ConnectorError as e:
                    if isinstance(e, RateLimited):
                        raise
                    no2fa = None
                    ctx.ipe.error(f"{org}: members with 2FA disabled unreadable: {e.message}")
                ctx.ipe.api_total(f"{org}:members", len(members))
                orgs.append({
                    "login": org, "id": o.get("id"),
                    "two_factor_requirement_enabled": o.get("two_factor_requirement_enabled"),
                    "default_repository_permission": o.get("default_repository_permission"),
                    "members_can_create_repositories": o.get("members_can_create_repositories"),
                    "owners": owners, "members": members, "outside_collaborators": outside,
                    "members_2fa_disabled": no2fa})
                count += len(members) + len(outside)
            except RateLimited:
                raise
            except ConnectorError as e:
                ctx.ipe.error(f"{org}: {e}")
                orgs.append({"login": org, "error": str(e)})
                failures.append(e)
        if failures and len(failures) == len(self.cfg.organizations):
            raise failures[0]  # nothing readable: a failed record, not an empty one
        return SnapshotResult({"organizations": orgs}, count)

    # --- branch_protection ---------------------------------------------------------------------

    def _protection(self, api: Api, repo: Json, cache: dict[int, Json]) -> Json:
        """Classic protection, rules in force and rulesets of a repo's default branch."""
        full, branch = repo["full_name"], repo["default_branch"]
        base = f"/repos/{full}"
        out: Json = {"full_name": full, "branch": branch, "private": repo.get("private")}
        # A 403 here means Administration: read is missing: the snapshot fails naming it,
        # rather than judging protection without the classic half.
        classic = api.get(f"{base}/branches/{_q(branch)}/protection",
                          absent=("Branch not protected",))
        rules = api.all(f"{base}/rules/branches/{_q(branch)}")
        listed = api.all(f"{base}/rulesets", {"includes_parents": "true"})
        ids = sorted({int(r["ruleset_id"]) for r in rules if r.get("ruleset_id") is not None}
                     | {int(r["id"]) for r in listed})
        for rid in ids:
            if rid not in cache:
                cache[rid] = api.get(f"{base}/rulesets/{rid}", {"includes_parents": "true"})
        rulesets = {rid: cache[rid] for rid in ids}
        out["classic"] = classic
        out["rules"] = rules
        out["rulesets"] = [rulesets[i] for i in ids]
        out["effective"] = A.effective_protection(classic, rules, rulesets)
        return out

    @snapshot(controls=["CC8.1", "CC6.1"], max_age=DAY,
              permissions=["repository:metadata:read", "repository:administration:read",
                           "organization:administration:read"],
              assess=A.assess_branch_protection, example=X.BRANCH_PROTECTION,
              schema=S.BRANCH_PROTECTION)
    def branch_protection(self, ctx: SnapshotContext) -> SnapshotResult:
        """Each in-scope repository's default branch: classic protection and every ruleset in
        force (repository and organization, `evaluate` ones shown but not counted), folded into
        what GitHub enforces: required approvals, stale-review dismissal, code owners, status
        checks, whether admins can bypass, force pushes and deletion."""
        api = self._api(ctx.ipe)
        cache: dict[int, Json] = {}
        repos = []
        for _org, repo in self._repos(api, ctx):
            try:
                repos.append(self._protection(api, repo, cache))
            except RateLimited as e:
                ctx.ipe.cut_short(str(e))
                break
            except (AuthError, PermissionDenied):
                raise  # a missing permission is the credential's, not this repository's
            except ConnectorError as e:
                ctx.ipe.error(f"{repo['full_name']}: {e}")
                repos.append({"full_name": repo["full_name"], "branch": repo["default_branch"],
                              "error": str(e)})
        content = {"policy": self.cfg.policy.model_dump(), "repositories": repos}
        return SnapshotResult(content, len(repos))

    # --- merged_changes ------------------------------------------------------------------------

    @snapshot(controls=["CC8.1"], max_age=DAY, kind="population",
              permissions=["repository:metadata:read", "repository:pull_requests:read",
                           "repository:checks:read", "repository:commit_statuses:read",
                           "repository:administration:read"],
              assess=A.assess_merged_changes, example=X.MERGED_CHANGES,
              items=A.merged_change_items, max_window=timedelta(days=31),
              schema=S.MERGED_CHANGES)
    def merged_changes(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every pull request merged into an in-scope default branch in [period_start,
        period_end), with author, merger, reviews (reviewer, state, time, commit), required
        check results and ticket keys, plus direct pushes the activity API shows; each with
        the verdict an auditor reaches, reconciled against the count GitHub's search reports."""
        if ctx.period_start is None or ctx.period_end is None:
            raise ConfigError("merged_changes is a population: it needs period_start and "
                              "period_end")
        start = ctx.period_start.astimezone(UTC)
        end = ctx.period_end.astimezone(UTC)
        api = self._api(ctx.ipe)
        cache: dict[int, Json] = {}
        repos: list[Json] = []
        changes: list[Json] = []
        try:
            for _org, repo in self._repos(api, ctx):
                summary: Json = {"full_name": repo["full_name"], "branch": repo["default_branch"]}
                repos.append(summary)
                try:
                    self._collect_repo(api, ctx, repo, start, end, cache, summary, changes)
                except (RateLimited, AuthError, PermissionDenied):
                    raise
                except ConnectorError as e:
                    ctx.ipe.error(f"{repo['full_name']}: {e}")
                    summary["error"] = str(e)
        except RateLimited as e:
            ctx.ipe.cut_short(str(e))
        changes.sort(key=lambda c: (c["merged_at"], c["id"]))
        content = {"period_start": start.isoformat(), "period_end": end.isoformat(),
                   "repositories": repos, "changes": changes}
        return SnapshotResult(content, len(changes))

    def _collect_repo(self, api: Api, ctx: SnapshotContext, repo: Json, start: datetime,
                      end: datetime, cache: dict[int, Json], summary: Json,
                      changes: list[Json]) -> None:
        full, branch = repo["full_name"], repo["default_branch"]
        prot = self._protection(api, repo, cache)
        eff = prot["effective"]
        summary["protected"] = eff["protected"]
        summary["effective"] = eff
        if prot.get("classic_unreadable"):
            summary["classic_unreadable"] = prot["classic_unreadable"]
        # GitHub's own count: search's merged range is inclusive, to the second.
        last = end - timedelta(seconds=1)
        q = (f"is:pr is:merged repo:{full} base:{branch} "
             f"merged:{start.strftime('%Y-%m-%dT%H:%M:%SZ')}..{last.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        found = api.get("/search/issues", {"q": q, "per_page": 1})
        summary["api_total"] = int(found.get("total_count", 0))
        summary["api_total_query"] = q
        if found.get("incomplete_results"):
            ctx.ipe.error(f"{full}: search reported incomplete_results")
        ctx.ipe.api_total(f"{full}:merged_pull_requests", summary["api_total"])
        merged: list[Json] = []
        params = {"state": "closed", "base": branch, "sort": "updated", "direction": "desc"}
        # A later page failing after its retries keeps what was read (the kit cuts the
        # record short); the first raises.
        pages = api.pages(f"/repos/{full}/pulls", params)
        try:
            for page in pages:
                stop = False
                for p in page:
                    # Sorted by update time: once updated before the window, so was every
                    # later one, and a merge can't come after the last update.
                    updated = A.parse_time(p.get("updated_at"))
                    if updated is not None and updated < start:
                        stop = True
                        break
                    m = A.parse_time(p.get("merged_at"))
                    if m is not None and start <= m < end and p["base"]["ref"] == branch:
                        merged.append(p)
                if stop:
                    break
        finally:
            pages.close()
        summary["fetched"] = len(merged)
        if summary["api_total"] != len(merged):
            ctx.ipe.error(f"{full}: fetched {len(merged)} merged pull requests, search "
                          f"reports {summary['api_total']}")
        required = eff["required_status_checks"] if self.cfg.required_checks else []
        activity: list[Json] | None = None
        if self.cfg.direct_pushes or self.cfg.merged_by:
            activity = self._activity(api, ctx, full, branch, start, end)
        # The pulls list carries no merged_by: the pr_merge activity names who merged (keyed
        # by the merge commit); only changes it does not cover cost a GET /pulls/{n}.
        mergers = {a.get("after"): _user(a.get("actor")) for a in activity or []
                   if a.get("activity_type") in ("pr_merge", "merge_queue_merge")}

        def enrich(p: Json) -> Json:
            return self._change(api, full, branch, p, required, mergers)

        if self.cfg.concurrency > 1 and len(merged) > 1:
            with ThreadPoolExecutor(self.cfg.concurrency,
                                    thread_name_prefix="github-change") as pool:
                enriched = list(pool.map(enrich, merged))
        else:
            enriched = [enrich(p) for p in merged]
        for c in enriched:
            c["verdict"], c["reason"] = A.change_verdict(c, eff)
        changes.extend(enriched)
        if self.cfg.direct_pushes and activity is not None:
            pushes = self._direct_pushes(full, branch, activity, eff)
            summary["direct_pushes"] = len(pushes)
            changes.extend(pushes)

    def _change(self, api: Api, full: str, branch: str, p: Json, required: list[str],
                mergers: dict[Any, str | None]) -> Json:
        n = p["number"]
        c: Json = {"id": f"{full}#{n}", "kind": "pull_request", "repo": full, "number": n,
                   "title": p.get("title"), "author": _user(p.get("user")),
                   "merged_at": p.get("merged_at"), "base": branch,
                   "head_ref": p["head"].get("ref"), "head_sha": p["head"].get("sha"),
                   "merge_commit_sha": p.get("merge_commit_sha"), "url": p.get("html_url"),
                   "ticket_keys": A.ticket_keys(p.get("title"), p["head"].get("ref"),
                                                self.cfg.ticket_projects)}
        try:
            reviews = api.all(f"/repos/{full}/pulls/{n}/reviews")
            c["reviews"] = [{"id": r.get("id"), "reviewer": _user(r.get("user")),
                             "state": r.get("state"), "submitted_at": r.get("submitted_at"),
                             "commit_id": r.get("commit_id"),
                             "author_association": r.get("author_association"),
                             "reviewer_type": (r.get("user") or {}).get("type")}
                            for r in reviews]
        except RateLimited:
            raise
        except ConnectorError as e:
            c["reviews"] = None
            c["error"] = str(e)
        c["merged_by"] = None
        if self.cfg.merged_by:
            sha = p.get("merge_commit_sha")
            if mergers.get(sha):
                c["merged_by"], c["merged_by_source"] = mergers[sha], "activity"
            else:
                try:
                    detail = api.get(f"/repos/{full}/pulls/{n}")
                    c["merged_by"] = _user(detail.get("merged_by"))
                    c["merged_by_source"] = "pull"
                except RateLimited:
                    raise
                except ConnectorError as e:
                    c["error"] = str(e)
        if required:
            c["checks"] = self._checks(api, full, c["head_sha"], required)
        return c

    def _checks(self, api: Api, full: str, sha: str, required: list[str]) -> Json:
        """The latest result of each required context, from check runs and commit statuses."""
        results: dict[str, str | None] = {ctx: None for ctx in required}
        runs = api.all(f"/repos/{full}/commits/{sha}/check-runs", {"filter": "latest"},
                       key="check_runs")
        for run in sorted(runs, key=lambda r: int(r.get("id") or 0)):
            if run.get("name") in results:
                results[run["name"]] = (run.get("conclusion") if run.get("status") == "completed"
                                        else run.get("status"))
        missing = [k for k, v in results.items() if v is None]
        if missing:
            st = api.get(f"/repos/{full}/commits/{sha}/status", {"per_page": 100})
            for s in st.get("statuses", []):
                if s.get("context") in missing:
                    results[s["context"]] = s.get("state")
        return {"required": list(required), "results": results}

    def _activity(self, api: Api, ctx: SnapshotContext, full: str, branch: str,
                  start: datetime, end: datetime) -> list[Json]:
        """The branch's activity (pushes, force pushes, PR merges) in [start, end)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        age = now - start
        period = next((name for name, days in (("day", 1), ("week", 7), ("month", 30),
                                               ("quarter", 90), ("year", 365))
                       if age <= timedelta(days=days)), None)
        if period is None:
            ctx.ipe.error(f"{full}: the activity API reaches back one year; pushes before "
                          f"{(now - timedelta(days=365)).date()} are not visible")
            period = "year"
        params = {"ref": f"refs/heads/{branch}", "time_period": period, "direction": "desc"}
        out: list[Json] = []
        pages = api.pages(f"/repos/{full}/activity", params)
        try:
            for page in pages:
                older = False
                for a in page:
                    t = A.parse_time(a.get("timestamp"))
                    if t is None or t >= end:
                        continue
                    if t < start:
                        older = True  # newest first: the rest is older still
                        break
                    out.append(a)
                if older:
                    break
        finally:
            pages.close()
        return out

    def _direct_pushes(self, full: str, branch: str, activity: list[Json],
                       eff: Json) -> list[Json]:
        """Pushes to the branch that did not come from merging a pull request."""
        out: list[Json] = []
        for a in activity:
            kind = a.get("activity_type")
            if kind not in ("push", "force_push"):
                continue
            actor = _user(a.get("actor"))
            how = "force-pushed" if kind == "force_push" else "pushed"
            where = "protected " if eff.get("protected") else ""
            out.append({
                "id": f"{full}@{a.get('after')}", "kind": "direct_push", "repo": full,
                "number": None, "sha": a.get("after"), "before": a.get("before"),
                "title": None, "author": actor, "merged_by": actor,
                "merged_at": a.get("timestamp"), "base": branch, "head_ref": None,
                "ticket_keys": [], "verdict": "fail",
                "reason": f"{actor or 'unknown'} {how} directly to the {where}branch "
                          f"{branch}, with no pull request or review"})
        return out

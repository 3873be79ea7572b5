"""Changes across platforms: every merged GitHub change joined to its Jira ticket (CC8.1).

For each change in GitHub's `merged_changes` population over [since, until): the Jira
tickets it names (keys in its title or branch) or that link to it (a ticket's remote link to
the pull request), the first approval of each (a move into an approved status by someone
other than the assignee, from the ticket's changelog) and whether it came strictly before
the merge. A change with no ticket, or whose tickets were approved only after the merge, only
by their assignee, or never, is a failing item; a ticket whose changelog was read only in part
is inconclusive. The change's own review verdict from GitHub is kept beside it, and the
item's verdict is the worse of the two.

The joined population is a record in the ledger (connector `changes`, snapshot
`change_approvals`), with its period and, in its provenance, every input record by ID, content
SHA-256 and record hash, so `rederive()` recomputes it from the store alone and compares.
Tickets are looked up in every complete Jira `change_tickets` record collected so far (the
newest observation of a key wins): a changelog only grows, so a later observation still holds
the approval history as of the merge. For sampling, the joined series supersedes its inputs
(`freeze_population` drops them when it is present, unless a snapshot is named).
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.errors import ConfigError, ConnectorError
from connectors.base import (
    CheckResult,
    Connector,
    Finding,
    SnapshotContext,
    SnapshotResult,
    snapshot,
)
from connectors.jira.assess import approvals, parse_ts, ticket_verdict
from storage.canonical import canonical, iso, sha256_hex

CONNECTOR, INSTANCE, SNAPSHOT = "changes", "all", "change_approvals"
GITHUB = ("github", "merged_changes")
JIRA = ("jira", "change_tickets")
SUPERSEDES: dict[tuple[str, str], frozenset[tuple[str, str]]] = {
    (CONNECTOR, SNAPSHOT): frozenset({GITHUB, JIRA})}
METHOD = ("for each GitHub merged change in [since, until): the Jira tickets it names or that "
          "link to it, from the newest complete Jira change_tickets observation of each key; "
          "pass when one was moved into an approved status, by someone other than its "
          "assignee, strictly before the merge; the item's verdict is the worse of that and "
          "GitHub's review verdict")
_RANK = {"pass": 0, "inconclusive": 1, "fail": 2}
Items = Callable[[Any], list[dict[str, Any]]]


# --- the pure join -------------------------------------------------------------------------

def judge(change: Mapping[str, Any], tickets: Mapping[str, Mapping[str, Any]],
          linked: Mapping[str, list[str]]) -> dict[str, Any]:
    """One change's joined item. `tickets`: key -> {"ticket", "approved_statuses", "record"};
    `linked`: change id -> ticket keys whose remote links name it."""
    merged_at = parse_ts(str(change["time"]))
    named = [str(k).upper() for k in change.get("ticket_keys") or []]
    keys = named + [k for k in linked.get(str(change["id"]), []) if k not in named]
    out: dict[str, Any] = {
        "id": str(change["id"]), "time": change["time"], "kind": change.get("kind",
                                                                          "pull_request"),
        "repo": change.get("repo"), "number": change.get("number"),
        "author": change.get("author"), "merged_by": change.get("merged_by"),
        "ticket_keys": keys, "ticket": None, "ticket_record": None, "approved_at": None,
        "approved_by": None, "approved_before_merge": False,
        "github_verdict": change.get("verdict", "inconclusive"),
        "github_reason": change.get("reason", "")}
    tv, why = _ticket_side(keys, merged_at, tickets, out)
    out["ticket_verdict"], out["ticket_reason"] = tv, why
    gv = out["github_verdict"] if out["github_verdict"] in _RANK else "inconclusive"
    out["verdict"] = max((tv, gv), key=lambda v: _RANK[v])
    out["reason"] = f"ticket: {why}; review: {out['github_reason'] or gv}"
    return out


def _ticket_side(keys: list[str], merged_at: datetime,
                 tickets: Mapping[str, Mapping[str, Any]], out: dict[str, Any]
                 ) -> tuple[str, str]:
    if not keys:
        return "fail", "no ticket: no Jira key in the title or branch, and no ticket links it"
    found = [k for k in keys if k in tickets]
    if not found:
        return "fail", (f"no collected Jira ticket {', '.join(keys)} (not in any complete "
                        "change_tickets record)")
    notes: list[str] = []
    unsure = False
    for k in found:
        t = tickets[k]
        statuses = tuple(t["approved_statuses"])
        apps = approvals(t["ticket"], statuses)
        before = [a for a in apps if a["independent"] and parse_ts(a["at"]) < merged_at]
        if before:
            a = before[0]
            out.update(ticket=k, ticket_record=t["record"], approved_at=a["at"],
                       approved_by=a["by"], approved_before_merge=True)
            return "pass", (f"{k} approved by {a['by_name'] or a['by']} at {a['at']}, before "
                            f"the merge at {iso(merged_at)}")
        if not t["ticket"].get("changelog_complete", False):
            unsure = True
            notes.append(f"{k}: changelog read only in part")
            continue
        later = [a for a in apps if a["independent"]]
        if later:
            notes.append(f"{k} approved at {later[0]['at']}, after the merge at "
                         f"{iso(merged_at)}")
            if out["ticket"] is None:
                out.update(ticket=k, ticket_record=t["record"], approved_at=later[0]["at"],
                           approved_by=later[0]["by"])
        elif apps:
            notes.append(f"{k} approved only by its assignee")
        else:
            notes.append(f"{k} {ticket_verdict(t['ticket'], statuses)['reason']}")
    if unsure:
        return "inconclusive", "; ".join(notes)
    return "fail", "; ".join(notes)


def join(changes: Iterable[Mapping[str, Any]],
         tickets: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every change judged against the tickets, in time order."""
    linked: dict[str, list[str]] = {}
    for key in sorted(tickets):
        for c in tickets[key]["ticket"].get("linked_changes", []):
            linked.setdefault(str(c), []).append(key)
    out = [judge(c, tickets, linked) for c in changes]
    return sorted(out, key=lambda i: (str(i["time"]), i["id"]))


def change_approval_items(content: Any) -> list[dict[str, Any]]:
    """The joined population's items (time: the merge)."""
    return [dict(c) for c in content.get("changes", [])]


def assess_change_approvals(content: Any) -> list[Finding]:
    """One finding per change: a ticket approved before the merge, and a passing review."""
    return [Finding(str(c["id"]), c["verdict"], c["reason"])
            for c in content.get("changes", [])]


EXAMPLE = {
    "method": METHOD, "since": "2026-09-01T00:00:00Z", "until": "2026-09-08T00:00:00Z",
    "changes": [{
        "id": "acme/web#41", "time": "2026-09-02T10:00:00Z", "kind": "pull_request",
        "repo": "acme/web", "number": 41, "author": "dev001", "merged_by": "dev002",
        "ticket_keys": ["ACME-123"], "ticket": "ACME-123", "ticket_record": "r1",
        "approved_at": "2026-09-01T15:00:00.000Z", "approved_by": "5b10b",
        "approved_before_merge": True, "github_verdict": "pass", "github_reason": "approved",
        "ticket_verdict": "pass", "ticket_reason": "ACME-123 approved before the merge",
        "verdict": "pass", "reason": "ticket: approved before the merge; review: approved"}],
}


class ChangesConnector(Connector):
    """Changes across platforms: derived from stored GitHub and Jira evidence, never fetched."""

    name = CONNECTOR
    title = "Changes across platforms: GitHub merges joined to Jira approvals (derived)"

    def check(self) -> CheckResult:
        """Nothing to reach: the join reads the evidence store."""
        return CheckResult(True, detail="derived by `evidence changes join` from stored "
                                        "records; no credentials")

    @snapshot(controls=["CC8.1"], kind="population", max_age=timedelta(days=1),
              permissions=["none: derived from stored github merged_changes and jira "
                           "change_tickets records"],
              assess=assess_change_approvals, items=change_approval_items, example=EXAMPLE)
    def change_approvals(self, ctx: SnapshotContext) -> SnapshotResult:
        """Every merged change with its Jira ticket, the ticket's approval time and whether it
        came before the merge: the population an auditor samples for CC8.1."""
        raise ConnectorError("change_approvals is derived from the store, not collected",
                             hint="run `evidence changes join --since ... --until ...`")


# --- deriving it from the store -------------------------------------------------------------

def _items_of(connector: str, snap: str) -> Items:
    from connectors.registry import get as get_connector

    spec = get_connector(connector).snapshots().get(snap)
    if spec is None or spec.items is None:
        raise ConfigError(f"{connector}.{snap} does not declare its population items")
    return spec.items


def _input(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "series": f"{r['connector']}/{r['instance']}:{r['snapshot']}",
            "content_sha256": r["content_sha256"], "record_hash": r["record_hash"]}


def _compute(store: Any, since: datetime, until: datetime, gh_rows: list[dict[str, Any]],
             jira_rows: list[dict[str, Any]], items_of: Callable[[str, str], Items]
             ) -> dict[str, Any]:
    """The joined content from exactly these input records (ledger order)."""
    gh_items = items_of(*GITHUB)
    changes: dict[str, Mapping[str, Any]] = {}
    for r in gh_rows:
        for item in gh_items(store.blob_json(r["content_sha256"])):
            t = parse_ts(str(item["time"]))
            if since <= t < until and str(item["id"]) not in changes:
                changes[str(item["id"])] = item
    tickets: dict[str, dict[str, Any]] = {}
    for r in jira_rows:  # ledger order: a later observation of a key replaces an earlier
        c = store.blob_json(r["content_sha256"])
        statuses = list(c.get("approved_statuses", []))
        for t in c.get("tickets", []):
            tickets[str(t["key"]).upper()] = {"ticket": t, "approved_statuses": statuses,
                                              "record": r["id"]}
    joined = join(changes.values(), tickets)
    return {"method": METHOD, "since": iso(since), "until": iso(until),
            "inputs": [_input(r) for r in gh_rows + jira_rows], "changes": joined}


def _inputs(store: Any, since: datetime, until: datetime
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, str]], bool,
                       list[dict[str, Any]]]:
    """(GitHub windows, Jira windows, GitHub gaps, whether both are collected, the windows
    left out: no seal by the store's key vouches for them, so they never enter the join)."""
    from storage.queries import complete_windows, population_series
    from storage.vouched import named
    from storage.windows import ahead_windows, holes, unsealed_holes

    vouched = store.vouched()
    series = population_series(store.engine, ["CC8.1"])
    gh = [s for s in series if (s[0], s[2]) == GITHUB]
    jr = [s for s in series if (s[0], s[2]) == JIRA]
    gh_rows: list[dict[str, Any]] = []
    gaps: list[dict[str, str]] = []
    excluded: list[dict[str, Any]] = []
    for c, i, s in gh:
        rows, left = vouched.split(complete_windows(store.engine, c, i, s, since, until))
        excluded += left
        gh_rows += rows
        for a, b, why in unsealed_holes(holes((since, until), rows,
                                              ahead_windows(store, rows, store.clock())), left):
            gaps.append({"series": f"{c}/{i}:{s}", "start": iso(a) or "", "end": iso(b) or "",
                         "reason": why})
    far = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
    jira_rows: list[dict[str, Any]] = []
    for c, i, s in jr:
        rows, left = vouched.split(complete_windows(store.engine, c, i, s, *far))
        jira_rows += rows
        excluded += left
    jira_rows.sort(key=lambda r: r["seq"])
    gh_rows.sort(key=lambda r: r["seq"])
    return gh_rows, jira_rows, gaps, bool(gh) and bool(jr), named(excluded)


def derive(store: Any, since: datetime, until: datetime,
           items_of: Callable[[str, str], Items] = _items_of) -> dict[str, Any]:
    """Join the stored GitHub and Jira populations for [since, until) and ledger the result;
    returns the stored record (status partial when GitHub's windows leave gaps)."""
    from storage.store import NewRecord

    if since >= until:
        raise ConfigError(f"empty period: since {iso(since)} is not before until {iso(until)}")
    started = store.clock()
    gh_rows, jira_rows, gaps, both, excluded = _inputs(store, since, until)
    if not both:
        raise ConfigError("the join needs collected github merged_changes and jira "
                          "change_tickets records (collect them first)")
    content = _compute(store, since, until, gh_rows, jira_rows, items_of)
    complete = not gaps
    gap_lines = [f"gap in {g['series']}: {g['start']}..{g['end']}" for g in gaps]
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        who = f"unknown@{socket.gethostname()}"
    ipe = {"principal": who, "source": "evidence changes join", "api_calls": 0, "pages": 0,
           "calls": [{"operation": "join_changes", "ok": True, "pages": 0,
                      "params": {"since": iso(since), "until": iso(until)},
                      "items": len(content["changes"])}],
           "inputs": content["inputs"], "method": METHOD,
           "pagination_exhausted": complete, "errors": gap_lines,
           # input windows no seal by the store's key vouches for: named, never joined
           "excluded_unsealed": excluded}
    findings = [f.to_json() for f in assess_change_approvals(content)]
    if not complete:
        findings.append({"resource": f"{CONNECTOR}/{INSTANCE}:{SNAPSHOT}",
                         "status": "inconclusive",
                         "reason": "inputs have gaps: " + "; ".join(gap_lines)[:500]})
    run_id = store.start_run("join")
    new = NewRecord(run_id=run_id, connector=CONNECTOR, instance=INSTANCE, snapshot=SNAPSHOT,
                    kind="population", controls=("CC8.1",), max_age_seconds=86400,
                    collected_started_at=started, collected_finished_at=store.clock(),
                    status="complete" if complete else "partial", ipe=ipe, content=content,
                    has_content=True, record_count=len(content["changes"]),
                    period_start=since, period_end=until, findings=findings,
                    error=None if complete else ("; ".join(gap_lines))[:1000])
    row: dict[str, Any] = store.append([new])[0]
    try:  # sealed while the run holds its run lock: pending, never unsealed, till then
        store.seal(run_id, [int(row["seq"])])  # the run vouches for the record it wrote
    finally:
        store.finish_run(run_id, "ok" if complete else "failed-snapshots",
                         {"join_record": row["id"], "changes": len(content["changes"])})
    return row


def rederive(store: Any, record_id: str,
             items_of: Callable[[str, str], Items] = _items_of) -> tuple[list[str], list[str]]:
    """Recompute a stored join from the input records its provenance names: (problems,
    notes). Problems: an input missing or changed, or a different result. Notes: newer
    inputs that a fresh join would use."""
    r = store.record(record_id)
    if r is None or (r["connector"], r["snapshot"]) != (CONNECTOR, SNAPSHOT):
        raise ConfigError(f"no change_approvals record with ID {record_id!r}")
    ipe = store.blob_json(r["ipe_sha256"])
    stored = store.blob_json(r["content_sha256"])
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    vouched = store.vouched()
    for inp in ipe.get("inputs", []):
        got = store.record(inp["id"])
        if got is None:
            problems.append(f"input record {inp['id']} ({inp['series']}) is missing")
            continue
        state = vouched.state(got)
        if state not in ("sealed", "unchecked"):
            problems.append(f"input record {inp['id']} (#{got['seq']}, {inp['series']}) is "
                            f"{state}: no seal by the store's key vouches for it")
        for k in ("content_sha256", "record_hash"):
            if got[k] != inp[k]:
                problems.append(f"input record {inp['id']}: {k} is now {got[k]}, the join "
                                f"used {inp[k]}")
        rows.append(got)
    if problems:
        return problems, []
    gh_rows = [x for x in rows if (x["connector"], x["snapshot"]) == GITHUB]
    jira_rows = [x for x in rows if (x["connector"], x["snapshot"]) == JIRA]
    since, until = parse_ts(stored["since"]), parse_ts(stored["until"])
    again = _compute(store, since, until, gh_rows, jira_rows, items_of)
    if sha256_hex(canonical(again)) != r["content_sha256"]:
        differ = [a["id"] for a, b in zip(again["changes"], stored["changes"], strict=False)
                  if a != b]
        problems.append(f"re-deriving from the named inputs gives a different result "
                        f"({len(again['changes'])} vs {len(stored['changes'])} changes; "
                        f"first differing: {', '.join(differ[:5]) or 'count'})")
    now_gh, now_jira, _, _, _ = _inputs(store, since, until)
    used = {i["id"] for i in ipe.get("inputs", [])}
    newer = [x["id"] for x in now_gh + now_jira if x["id"] not in used]
    notes = [f"{len(newer)} input record(s) collected since would join differently: "
             + ", ".join(newer[:10])] if newer else []
    return problems, notes

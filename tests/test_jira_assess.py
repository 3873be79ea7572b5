"""Approval verdicts on change tickets, checked against an oracle written from the rule
(connectors/jira/assess.py docstring) on generated changelogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.jira.assess import (
    approvals,
    approved_before,
    change_ticket_items,
    parse_ts,
    ticket_verdict,
)

USERS = ["u1", "u2", "u3", "u4"]
STATUSES = ["To Do", "In Review", "Approved", "approved", "In Progress", "Done"]
APPROVED = ("Approved",)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@st.composite
def tickets(draw: st.DrawFn) -> dict[str, Any]:
    """A ticket with a consistent, generated history (assignee `from` = the state before)."""
    state: str | None = draw(st.sampled_from([None, *USERS]))
    entries: list[dict[str, Any]] = []
    t = T0
    # Changelog ids are ascending numbers (their digit count may grow: 99, 100); two entries
    # may share a millisecond (automation), and then the id orders them.
    base = draw(st.sampled_from([100, 7, 98, 9998]))
    for i in range(draw(st.integers(0, 8))):
        if i == 0 or draw(st.integers(0, 3)):
            t = t + timedelta(seconds=draw(st.integers(1, 5000)), milliseconds=draw(
                st.integers(0, 999)))
        items: list[dict[str, Any]] = []
        for kind in draw(st.lists(st.sampled_from(["status", "assignee", "labels"]),
                                  min_size=1, max_size=3)):
            if kind == "status":
                to = draw(st.sampled_from(STATUSES))
                items.append({"field": "status", "from": "1", "fromString": "x",
                              "to": "10002" if to.lower() == "approved" else "9",
                              "toString": to})
            elif kind == "assignee":
                to_u = draw(st.sampled_from([None, *USERS]))
                items.append({"field": "assignee", "from": state, "fromString": None,
                              "to": to_u, "toString": None})
                state = to_u
            else:
                items.append({"field": "labels", "from": None, "fromString": "",
                              "to": None, "toString": "x"})
        offset = draw(st.sampled_from(["Z", "+02:00", "-05:00"]))
        local = t.astimezone(datetime.fromisoformat(f"2026-01-01T00:00:00{offset}").tzinfo)
        entries.append({"id": str(base + i), "author": {"accountId": draw(st.sampled_from(USERS)),
                                                       "displayName": "A"},
                        "created": local.isoformat(timespec="milliseconds"), "items": items})
    done = draw(st.booleans())
    return {"key": "CHG-1", "status": "Done" if done else "In Progress",
            "status_category": "done" if done else "indeterminate",
            "resolutiondate": "2026-03-09T00:00:00.000Z" if done else None,
            "assignee": {"accountId": state} if state else None,
            "changelog_complete": True,
            "changelog_total": len(entries), "changelog_fetched": len(entries),
            "history": draw(st.permutations(entries)), "updated": "2026-03-09T00:00:00.000Z"}


def oracle(ticket: dict[str, Any]) -> list[tuple[datetime, str, bool]]:
    """Replay the history forwards from the first known assignee: (time, approver, ok).
    Jira's changelog is ordered by date, oldest first (GET /issue/{key}/changelog); entries
    of one millisecond by their ascending numeric id."""
    hist = sorted(ticket["history"], key=lambda h: (parse_ts(h["created"]), int(h["id"])))
    first = next((it for h in hist for it in h["items"] if it["field"] == "assignee"), None)
    state = first["from"] if first else (ticket["assignee"] or {}).get("accountId")
    final = (ticket["assignee"] or {}).get("accountId")
    found = []
    for h in hist:
        before = state
        for it in h["items"]:
            if it["field"] == "assignee":
                state = it["to"]
        approved = any(it["field"] == "status" and it["toString"].lower() == "approved"
                       for it in h["items"])
        if approved:
            who = h["author"]["accountId"]
            found.append((parse_ts(h["created"]), who, who not in {before, state, final}))
    return found


@settings(max_examples=200, deadline=None)
@given(tickets())
def test_approvals_and_their_independence_match_the_oracle(ticket: dict[str, Any]) -> None:
    """Each transition into Approved is found, and independent iff the approver was not the
    assignee before, after, or now."""
    got = [(parse_ts(a["at"]), a["by"], a["independent"]) for a in approvals(ticket, APPROVED)]
    assert got == oracle(ticket)


@settings(max_examples=200, deadline=None)
@given(tickets())
def test_ticket_verdict_matches_the_oracle(ticket: dict[str, Any]) -> None:
    """Pass needs an independent approval; self-approval or resolving unapproved fails."""
    want = oracle(ticket)
    v = ticket_verdict(ticket, APPROVED)
    if any(ok for _, _, ok in want):
        first = next((t, who) for t, who, ok in want if ok)
        assert v["verdict"] == "pass" and v["approved_by"] == first[1]
        assert parse_ts(v["approved_at"]) == first[0]
    elif want or ticket["status_category"] == "done":
        assert v["verdict"] == "fail" and v["approved_by"] is None
    else:
        assert v["verdict"] == "inconclusive"


@settings(max_examples=200, deadline=None)
@given(tickets(), st.integers(0, 40000))
def test_approval_before_merge_matches_the_oracle(ticket: dict[str, Any], secs: int) -> None:
    """Only independent approvals strictly before the merge count for that change."""
    merged = T0 + timedelta(seconds=secs)
    got = approved_before(ticket, APPROVED, merged)
    want = [t for t, _, ok in oracle(ticket) if ok and t < merged]
    assert (got is not None) == bool(want)
    if got is not None:
        assert parse_ts(got["at"]) == want[0]


def test_a_partly_read_changelog_is_never_a_pass() -> None:
    """A ticket whose changelog was cut short is inconclusive even with an approval."""
    t = {"key": "CHG-2", "assignee": {"accountId": "u1"}, "changelog_complete": False,
         "changelog_total": 300, "changelog_fetched": 100, "history": [
             {"id": "1", "created": "2026-03-01T10:00:00.000Z", "author": {"accountId": "u2"},
              "items": [{"field": "status", "to": "10002", "toString": "Approved"}]}]}
    assert ticket_verdict(t, APPROVED)["verdict"] == "inconclusive"


def test_status_ids_match_as_well_as_names() -> None:
    """approved_statuses may name the status id (stable across renames)."""
    t = {"key": "CHG-3", "assignee": None, "changelog_complete": True, "history": [
        {"id": "1", "created": "2026-03-01T10:00:00.000Z", "author": {"key": "JIRAUSER1"},
         "items": [{"field": "status", "to": "10002", "toString": "Freigegeben"}]}]}
    assert ticket_verdict(t, ("10002",))["verdict"] == "pass"
    assert ticket_verdict(t, ("Approved",))["verdict"] == "inconclusive"


def test_items_use_the_period_field_as_their_time() -> None:
    """A population item's time is the field the windows are cut on."""
    content = {"approved_statuses": ["Approved"], "period_field": "resolutiondate",
               "tickets": [{"key": "CHG-4", "updated": "2026-04-02T00:00:00.000Z",
                            "resolutiondate": "2026-03-02T00:00:00.000Z", "assignee": None,
                            "changelog_complete": True, "history": [],
                            "status_category": "done", "linked_changes": ["a/b#1"]}]}
    (item,) = change_ticket_items(content)
    assert item["time"] == "2026-03-02T00:00:00.000Z" and item["verdict"] == "fail"
    assert item["linked_changes"] == ["a/b#1"] and item["id"] == "CHG-4"


def test_same_millisecond_entries_follow_their_numeric_ids() -> None:
    """Entries 99 (M assigns the ticket to themselves) and 100 (M approves) share a
    millisecond, then 101 reassigns to B. Ordered by id as text, "100" sorted before "99":
    M looked like a non-assignee and the ticket passed; in id order M approved their own
    work: fail."""
    at = "2026-03-02T10:00:00.000+00:00"
    hist = [{"id": "99", "created": at, "author": {"accountId": "m"},
             "items": [{"field": "assignee", "from": "a", "to": "m"}]},
            {"id": "100", "created": at, "author": {"accountId": "m"},
             "items": [{"field": "status", "from": "1", "fromString": "In Review",
                        "to": "10002", "toString": "Approved"}]},
            {"id": "101", "created": "2026-03-02T11:00:00.000+00:00",
             "author": {"accountId": "m"},
             "items": [{"field": "assignee", "from": "m", "to": "b"}]}]
    ticket = {"key": "CHG-9", "status": "Done", "status_category": "done",
              "resolutiondate": "2026-03-03T00:00:00.000Z", "assignee": {"accountId": "b"},
              "changelog_complete": True, "changelog_total": 3, "changelog_fetched": 3,
              "history": hist}
    v = ticket_verdict(ticket, APPROVED)
    assert v["verdict"] == "fail" and "approved only by its own assignee (m)" in v["reason"]

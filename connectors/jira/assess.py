"""Pure verdicts on change tickets: who moved a ticket into an approved status, and when.

The rule (CC8.1 change approval), from the ticket's own changelog:
- an approval is a changelog entry whose `status` item moves the ticket INTO one of the
  configured approved statuses (matched by status name, case-insensitive, or by status id);
- an approval by an app account (Cloud accountType "app", e.g. Automation for Jira) is no
  person's approval: without an independent one the ticket is inconclusive;
- it is independent when its author is neither the assignee just before that entry, nor the
  assignee just after it (an approver who assigns the ticket to themselves in the same
  transition approved their own work), nor the ticket's current assignee;
- the changelog is replayed oldest first, entries of one millisecond by ascending id;
- users compare by Cloud accountId, else Server/DC user key, else name (what the changelog's
  `from` / `to` hold for the assignee field on each deployment);
- a ticket passes with at least one independent approval; fails when only its assignee
  approved it, or when it was resolved without ever entering an approved status; is
  inconclusive while still open and unapproved, or when its changelog was not read in full.
- for a change merged at M, only independent approvals strictly before M count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from connectors.base import Finding

JSON = Any


def user_id(u: JSON) -> str | None:
    """The identity a changelog uses for a user: accountId (Cloud), key, else name (DC)."""
    if not isinstance(u, dict):
        return None
    for k in ("accountId", "key", "name"):
        if u.get(k):
            return str(u[k])
    return None


def parse_ts(v: str) -> datetime:
    """An ISO 8601 timestamp with an offset (as stored); Jira's +hhmm form is accepted too."""
    s = v.strip().replace("Z", "+00:00")
    if len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit():
        s = s[:-2] + ":" + s[-2:]
    return datetime.fromisoformat(s)


def _is_approved(item: JSON, approved: Iterable[str]) -> bool:
    names = {a.strip().lower() for a in approved}
    return (str(item.get("toString") or "").strip().lower() in names
            or (item.get("to") is not None and str(item.get("to")).lower() in names))


def _id_order(v: Any) -> tuple[int, str]:
    """Changelog ids are ascending numbers: entries of one millisecond go by their value
    ("99" before "100"), not by their text."""
    s = str(v if v is not None else "")
    return (int(s), "") if s.isdigit() else (-1, s)


def approvals(ticket: JSON, approved: Iterable[str]) -> list[dict[str, Any]]:
    """Every transition into an approved status, oldest first, with its independence."""
    approved = tuple(approved)
    history = sorted(ticket.get("history", []), key=lambda h: (parse_ts(h["created"]),
                                                              _id_order(h.get("id"))))
    current = user_id(ticket.get("assignee"))
    # assignee before and after each entry, walking back from the current assignee
    after: list[str | None] = [None] * len(history)
    before: list[str | None] = [None] * len(history)
    cur = current
    for i in range(len(history) - 1, -1, -1):
        after[i] = cur
        for item in reversed(history[i].get("items", [])):
            if item.get("field") == "assignee":
                cur = item.get("from")
        before[i] = cur
    out: list[dict[str, Any]] = []
    for i, h in enumerate(history):
        if not any(it.get("field") == "status" and _is_approved(it, approved)
                   for it in h.get("items", [])):
            continue
        by = user_id(h.get("author"))
        app = (h.get("author") or {}).get("accountType") == "app"
        assignees = {before[i], after[i], current} - {None}
        out.append({"at": h["created"], "by": by,
                    "by_name": (h.get("author") or {}).get("displayName"),
                    "assignee_before": before[i], "assignee_after": after[i], "app": app,
                    "independent": by is not None and by not in assignees and not app})
    return out


def ticket_verdict(ticket: JSON, approved: Iterable[str]) -> dict[str, Any]:
    """The ticket's verdict with its first independent approval (approved_by/approved_at)."""
    approved = tuple(approved)
    out: dict[str, Any] = {"approved_by": None, "approved_at": None}
    if not ticket.get("changelog_complete", False):
        return out | {"verdict": "inconclusive", "reason":
                      f"changelog read only in part ({ticket.get('changelog_fetched')} of "
                      f"{ticket.get('changelog_total')} entries)"}
    apps = approvals(ticket, approved)
    good = [a for a in apps if a["independent"]]
    if good:
        a = good[0]
        return {"approved_by": a["by"], "approved_at": a["at"], "verdict": "pass",
                "reason": f"moved to an approved status by {a['by_name'] or a['by']} at "
                          f"{a['at']}, not the assignee"}
    bots = [a for a in apps if a["app"]]
    if bots:
        return out | {"verdict": "inconclusive", "reason": "moved to an approved status only "
                      "by an app account (" + ", ".join(sorted({str(a["by_name"] or a["by"])
                                                               for a in bots}))
                      + "), not a person: who approved does not show in the ticket"}
    if apps:
        return out | {"verdict": "fail", "reason": "approved only by its own assignee ("
                      + ", ".join(sorted({str(a['by']) for a in apps})) + ")"}
    if ticket.get("status_category") == "done" or ticket.get("resolutiondate"):
        return out | {"verdict": "fail", "reason": f"resolved ({ticket.get('status')}) "
                      "without ever entering an approved status"}
    return out | {"verdict": "inconclusive",
                  "reason": f"not approved yet (status {ticket.get('status')})"}


def approved_before(ticket: JSON, approved: Iterable[str], merged_at: datetime
                    ) -> dict[str, Any] | None:
    """The first independent approval strictly before `merged_at`, or None."""
    for a in approvals(ticket, approved):
        if a["independent"] and parse_ts(a["at"]) < merged_at:
            return a
    return None


def change_ticket_items(content: JSON) -> list[dict[str, Any]]:
    """The population items of a `change_tickets` snapshot (time: the period field)."""
    approved = tuple(content.get("approved_statuses", ()))
    field = content.get("period_field", "updated")
    out = []
    for t in content.get("tickets", []):
        v = ticket_verdict(t, approved)
        out.append({"id": t["key"], "time": t.get(field) or t.get("updated"), "key": t["key"],
                    "status": t.get("status"),
                    "assignee": user_id(t.get("assignee")),
                    "approved_by": v["approved_by"], "approved_at": v["approved_at"],
                    "linked_changes": list(t.get("linked_changes", [])),
                    "verdict": v["verdict"], "reason": v["reason"]})
    return out


def assess_change_tickets(content: JSON) -> list[Finding]:
    """One finding per ticket: approved by someone other than its assignee."""
    return [Finding(f"{content.get('site', 'jira')}/{i['key']}", i["verdict"], i["reason"])
            for i in change_ticket_items(content)]

"""The read-only permissions the `github` connector needs, as GitHub names them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Our permission ids -> (GitHub's permission name, where it is granted).
NAMES: dict[str, tuple[str, str]] = {
    "repository:metadata:read": ("Metadata", "Repository"),
    "repository:administration:read": ("Administration", "Repository"),
    "repository:pull_requests:read": ("Pull requests", "Repository"),
    "repository:checks:read": ("Checks", "Repository"),
    "repository:commit_statuses:read": ("Commit statuses", "Repository"),
    "organization:members:read": ("Members", "Organization"),
    "organization:administration:read": ("Administration", "Organization"),
}


def permission_document(by_snapshot: Mapping[str, Iterable[str]]) -> str:
    """A fine-grained token / GitHub App permission list (all read-only), with who needs what."""
    needs: dict[str, list[str]] = {}
    for snap, perms in sorted(by_snapshot.items()):
        for p in perms:
            needs.setdefault(p, []).append(snap)
    lines = ["# GitHub permissions for evidence-agent (read-only; grant nothing else).",
             "# Fine-grained personal access token: resource owner = the organization,",
             "#   repository access = the repositories in scope (or all), then:",
             "# GitHub App: the same permissions under Repository / Organization permissions,",
             "#   installed on the organization.",
             ""]
    for scope in ("Repository", "Organization"):
        lines.append(f"{scope} permissions:")
        for pid in sorted(needs, key=lambda x: NAMES.get(x, (x, ""))[0]):
            name, where = NAMES.get(pid, (pid, "?"))
            if where == scope:
                lines.append(f"  {name}: Read-only    ({', '.join(needs[pid])})")
        lines.append("")
    lines.append("Organization owner or Administration: read is needed to see the 2FA "
                 "requirement, members with 2FA disabled, and rulesets' bypass actors.")
    return "\n".join(lines)


def known(perms: Iterable[str]) -> list[str]:
    """Permission ids we cannot name (a test keeps this empty)."""
    return [p for p in perms if p not in NAMES]


def permission_for(path: str) -> str | None:
    """The permission id a GET on `path` (a REST path, templated or not) needs; None when
    any authenticated caller may make it."""
    p = path.split("?", 1)[0]
    if p.startswith("GET "):
        p = p[4:]
    if p.startswith("/api/v3/"):  # Enterprise Server's REST root
        p = p[len("/api/v3"):]
    if p in ("/user", "/rate_limit") or p.startswith("/app"):
        return None
    if p.startswith("/orgs/"):
        parts = p.strip("/").split("/")
        if len(parts) == 2 or parts[2] == "rulesets":
            return "organization:administration:read"
        if parts[2] in ("members", "outside_collaborators"):
            return "organization:members:read"
        return "repository:metadata:read"  # /orgs/{org}/repos
    if p.endswith("/protection"):
        return "repository:administration:read"
    if "/pulls" in p or p.startswith("/search/issues"):
        return "repository:pull_requests:read"
    if p.endswith("/check-runs"):
        return "repository:checks:read"
    if p.endswith("/status"):
        return "repository:commit_statuses:read"
    return "repository:metadata:read"


def hint_for(path: str) -> str:
    """The operator's one-line hint for a 403 on `path`, naming the permission to grant."""
    pid = permission_for(path)
    if pid is None:
        return "check that the credential is valid for this GitHub"
    name, where = NAMES[pid]
    extra = ""
    if pid == "organization:administration:read":
        extra = " (or an organization owner's token)"
    return f"grant {pid} ({where} permission {name}: Read-only){extra}"

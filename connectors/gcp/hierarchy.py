"""The organization, folders and projects one run covers, found through Resource Manager v3.

An organization scope is walked from the top (folders.list and projects.list under each
container), so every project arrives with its ancestry. A project-list scope gets each
project, then its ancestors one `get` at a time (cached); an ancestor that cannot be read
leaves that project's ancestry incomplete, which its verdicts must show, never hide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.cloud import resourcemanager_v3 as rm
from google.protobuf import json_format

from connectors.base import Provenance
from connectors.errors import ConnectorError
from connectors.gcp.calls import Api, CutShort

T = TypeVar("T")
R = TypeVar("R")
_STATE = {0: "STATE_UNSPECIFIED", 1: "ACTIVE", 2: "DELETE_REQUESTED"}


@dataclass
class Node:
    """An organization or folder."""

    name: str
    kind: str
    display_name: str | None
    parent: str | None
    unreadable: str | None = None


@dataclass
class Project:
    """A project in scope, with its ancestors nearest first."""

    name: str
    project_id: str
    parent: str | None
    display_name: str | None = None
    ancestors: list[str] = field(default_factory=list)
    ancestry_incomplete: bool = False

    @property
    def ref(self) -> str:
        """`projects/<project id>`: how calls about this project are named in records."""
        return f"projects/{self.project_id}"


@dataclass
class Tree:
    """What one run covers; `unreadable` lists what could not be read (recorded, not hidden)."""

    organization: Node | None
    nodes: dict[str, Node]
    projects: list[Project]
    unreadable: list[dict[str, str]]

    def known_projects(self) -> frozenset[str]:
        """Project IDs and numbers in scope (to tell our service accounts from others')."""
        return frozenset({p.project_id for p in self.projects} |
                         {p.name.split("/", 1)[1] for p in self.projects})

    def domain(self) -> str | None:
        """The organization's primary domain (its display name), when the scope is one."""
        return self.organization.display_name if self.organization else None


def _kind(name: str) -> str:
    return name.split("/", 1)[0].removesuffix("s")


def unreadable_entry(resource: str, e: ConnectorError) -> dict[str, str]:
    """How a part that could not be read is recorded in content."""
    return {"resource": resource, "error": type(e).__name__, "detail": e.message}


def fan_out(workers: int, fn: Callable[[T], R], items: list[T]) -> list[R]:
    """`fn` over `items` on at most `workers` threads, keeping order."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def discover(api: Api, ipe: Provenance) -> Tree:
    """The scope's organization, folders and projects (failures recorded in `unreadable`)."""
    cfg = api.config
    if cfg.organization:
        return _walk_organization(api, ipe, cfg.organization)
    return _resolve_projects(api, ipe, list(cfg.projects))


def _org(api: Api, ipe: Provenance, name: str) -> Node:
    c = api.gapic("cloudresourcemanager", rm.OrganizationsClient)
    o = api.call(ipe, "cloudresourcemanager", "cloudresourcemanager.organizations.get", name,
                 {"name": name}, lambda: c.get_organization(name=name, retry=None,
                                                            timeout=api.config.timeout_seconds))
    return Node(o.name, "organization", o.display_name or None, None)


def _walk_organization(api: Api, ipe: Provenance, org_name: str) -> Tree:
    org = _org(api, ipe, org_name)  # the organization itself must be readable
    nodes: dict[str, Node] = {org.name: org}
    projects: list[Project] = []
    unreadable: list[dict[str, str]] = []
    lock = threading.Lock()
    fc = rm.FoldersClient
    pc = rm.ProjectsClient
    timeout = api.config.timeout_seconds

    def listing(parent: str, operation: str, fetch: Callable[[str], tuple[list[Any], str]]
                ) -> list[Any]:
        try:
            return api.paged(ipe, "cloudresourcemanager", operation, parent,
                             {"parent": parent}, fetch)
        except ConnectorError as e:  # a cut-short list keeps what its pages returned
            ipe.error(f"{parent}: {e}")
            with lock:
                unreadable.append(unreadable_entry(parent, e))
            return e.items if isinstance(e, CutShort) else []

    def children(parent: str) -> list[str]:
        folders_c = api.gapic("cloudresourcemanager", fc)
        projects_c = api.gapic("cloudresourcemanager", pc)
        found: list[str] = []
        fs = listing(parent, "cloudresourcemanager.folders.list", lambda t: _page(
            folders_c.list_folders(request={"parent": parent, "page_token": t},
                                   retry=None, timeout=timeout), "folders"))
        ps = listing(parent, "cloudresourcemanager.projects.list", lambda t: _page(
            projects_c.list_projects(request={"parent": parent, "page_token": t},
                                     retry=None, timeout=timeout), "projects"))
        with lock:
            for f in fs:
                nodes[f.name] = Node(f.name, "folder", f.display_name or None, f.parent)
                found.append(f.name)
            for p in ps:
                if _STATE.get(int(p.state), str(p.state)) != "ACTIVE":
                    continue
                projects.append(Project(p.name, p.project_id, p.parent,
                                        p.display_name or None))
        return found

    level = [org.name]
    while level:
        level = [c for batch in fan_out(api.config.workers, children, level) for c in batch]
    for p in projects:
        p.ancestors = _chain(p.parent, nodes)
    projects.sort(key=lambda p: p.project_id)
    return Tree(org, nodes, projects, unreadable)


def _chain(parent: str | None, nodes: dict[str, Node]) -> list[str]:
    out: list[str] = []
    while parent and parent in nodes and parent not in out:
        out.append(parent)
        parent = nodes[parent].parent
    return out


def _page(pager: Any, attr: str) -> tuple[list[Any], str]:
    # A GAPIC pager delegates attributes to the page it holds: this page's items and token.
    return list(getattr(pager, attr)), str(pager.next_page_token or "")


def _resolve_projects(api: Api, ipe: Provenance, project_ids: list[str]) -> Tree:
    nodes: dict[str, Node] = {}
    unreadable: list[dict[str, str]] = []
    lock = threading.Lock()
    timeout = api.config.timeout_seconds

    def get_project(pid: str) -> Project | None:
        c = api.gapic("cloudresourcemanager", rm.ProjectsClient)
        name = f"projects/{pid}"
        try:
            p = api.call(ipe, "cloudresourcemanager", "cloudresourcemanager.projects.get",
                         name, {"name": name},
                         lambda: c.get_project(name=name, retry=None, timeout=timeout))
        except ConnectorError as e:
            ipe.error(f"{name}: {e}")
            with lock:
                unreadable.append(unreadable_entry(name, e))
            return None
        return Project(p.name, p.project_id, p.parent or None, p.display_name or None)

    projects = [p for p in fan_out(api.config.workers, get_project, project_ids) if p]
    org: Node | None = None
    for p in projects:
        parent = p.parent
        while parent:
            if parent not in nodes:
                nodes[parent] = _get_container(api, ipe, parent, unreadable)
            node = nodes[parent]
            p.ancestors.append(parent)
            if node.unreadable is not None:
                if node.kind != "organization":
                    p.ancestry_incomplete = True  # what lies above it is unknown
                break
            if node.kind == "organization":
                org = node
            parent = node.parent
    projects.sort(key=lambda p: p.project_id)
    return Tree(org, nodes, projects, unreadable)


def _get_container(api: Api, ipe: Provenance, name: str,
                   unreadable: list[dict[str, str]]) -> Node:
    kind = _kind(name)
    try:
        if kind == "organization":
            return _org(api, ipe, name)
        c = api.gapic("cloudresourcemanager", rm.FoldersClient)
        f = api.call(ipe, "cloudresourcemanager", "cloudresourcemanager.folders.get", name,
                     {"name": name}, lambda: c.get_folder(
                         name=name, retry=None, timeout=api.config.timeout_seconds))
        return Node(f.name, "folder", f.display_name or None, f.parent or None)
    except ConnectorError as e:
        ipe.error(f"{name}: {e}")
        unreadable.append(unreadable_entry(name, e))
        return Node(name, kind, None, None, unreadable=e.message)


def get_iam_policy(api: Api, ipe: Provenance, resource: str) -> dict[str, Any]:
    """The allow policy of an organization, folder or project, asking for version 3 (so that
    conditional bindings come with their conditions), as Google's JSON."""
    kind = _kind(resource)
    cls = {"organization": rm.OrganizationsClient, "folder": rm.FoldersClient,
           "project": rm.ProjectsClient}[kind]
    c: Any = api.gapic("cloudresourcemanager", cls)
    req = {"resource": resource, "options": {"requested_policy_version": 3}}
    pol = api.call(ipe, "cloudresourcemanager",
                   f"cloudresourcemanager.{kind}s.getIamPolicy", resource,
                   {"resource": resource, "options.requestedPolicyVersion": 3},
                   lambda: c.get_iam_policy(request=req, retry=None,
                                            timeout=api.config.timeout_seconds))
    out: dict[str, Any] = json_format.MessageToDict(pol)
    out.pop("etag", None)
    return out

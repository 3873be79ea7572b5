"""The GitHub simulator answers as GitHub documents, driven by the real PyGithub over sockets."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException

from simulators.github import GitHubSimulator, fnmatch_ref, ruleset_targets
from simulators.github_seed import seed_org


def client(sim: GitHubSimulator, token: str = "tok", **kw: Any) -> Github:
    return Github(base_url=sim.url, auth=Auth.Token(token), seconds_between_requests=0,
                  seconds_between_writes=0, retry=None, **kw)


@pytest.fixture(scope="module")
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(prefix="/api/v3") as s:
        s.add_token("tok", login="auditor")
        s.add_token("reader", login="reader", repo_admin_read=False, org_admin_read=False,
                    write_rulesets=False)
        seed_org(s, "acme", merged_prs=150, repos=3)
        yield s


def test_link_pagination_uses_own_host_and_reaches_every_item(sim: GitHubSimulator) -> None:
    """Paging with per_page follows rel=next links on the same host:port and prefix."""
    gh = client(sim, per_page=7)
    members = list(gh.get_organization("acme").get_members())
    assert len(members) == len(sim.orgs["acme"]["members"])
    assert len({m.login for m in members}) == len(members)
    h, _ = gh.requester.requestJsonAndCheck("GET", "/orgs/acme/members", {"per_page": 7})
    assert f'<{sim.url}/orgs/acme/members?' in h["link"] and 'rel="last"' in h["link"]


def test_total_count_reads_the_last_page(sim: GitHubSimulator) -> None:
    """PyGithub's totalCount (per_page=1, rel=last) equals the real number of pull requests."""
    gh = client(sim)
    repo = gh.get_repo("acme/service-0")
    want = sum(1 for p in sim.repos["acme/service-0"]["pulls"] if p.get("closed_at"))
    assert repo.get_pulls(state="closed").totalCount == want


def test_auth_header_forms_and_error_bodies(sim: GitHubSimulator) -> None:
    """`token X` and `Bearer X` work; a bad token is 401 with GitHub's error body."""
    base = sim.url
    for scheme in ("token", "Bearer"):
        req = urllib.request.Request(f"{base}/user", headers={"Authorization": f"{scheme} tok"})
        with urllib.request.urlopen(req) as r:
            assert json.load(r)["login"] == "auditor"
    with pytest.raises(BadCredentialsException) as e:
        client(sim, "wrong").get_user().login  # noqa: B018
    assert e.value.status == 401 and e.value.data["documentation_url"].startswith("https://")


def test_github_app_jwt_exchanged_for_installation_token(tmp_path: Any) -> None:
    """A GitHub App's RS256 JWT buys an installation token that then reads the org."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    with GitHubSimulator() as s:
        s.add_org("acme")
        s.add_app(4242, pub, installation_id=77)
        auth = Auth.AppAuth(4242, pem).get_installation_auth(77)
        gh = Github(base_url=s.url, auth=auth, seconds_between_requests=0, retry=None)
        assert gh.get_organization("acme").login == "acme"
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
        gh2 = Github(base_url=s.url, auth=Auth.AppAuth(4242, bad).get_installation_auth(77),
                     seconds_between_requests=0, retry=None)
        with pytest.raises(GithubException) as e:
            gh2.get_organization("acme")
        assert e.value.status == 401


def test_rate_limit_headers_and_primary_limit() -> None:
    """Every answer carries x-ratelimit-*; past the limit GitHub answers 403, remaining 0."""
    with GitHubSimulator(rate_limit=3) as s:
        s.add_token("tok")
        s.add_org("acme")
        gh = client(s)
        h, _ = gh.requester.requestJsonAndCheck("GET", "/orgs/acme")
        assert (h["x-ratelimit-limit"], h["x-ratelimit-remaining"], h["x-ratelimit-used"],
                h["x-ratelimit-resource"]) == ("3", "2", "1", "core")
        gh.requester.requestJsonAndCheck("GET", "/orgs/acme")
        gh.requester.requestJsonAndCheck("GET", "/orgs/acme")
        with pytest.raises(RateLimitExceededException) as e:
            gh.requester.requestJsonAndCheck("GET", "/orgs/acme")
        assert e.value.status == 403 and e.value.headers["x-ratelimit-remaining"] == "0"
        assert int(e.value.headers["x-ratelimit-reset"]) > 0


def test_branch_not_protected_is_a_plain_404(sim: GitHubSimulator) -> None:
    """An unprotected branch answers 404 "Branch not protected" (a plain GithubException)."""
    gh = client(sim)
    with pytest.raises(GithubException) as e:
        gh.get_repo("acme/sandbox-tools").get_branch("main").get_protection()
    assert e.value.status == 404 and e.value.data["message"] == "Branch not protected"
    prot = gh.get_repo("acme/service-0").get_branch("main").get_protection()
    assert prot.required_pull_request_reviews.required_approving_review_count == 1


def test_rules_in_force_skip_evaluate_and_untargeted_org_rulesets(sim: GitHubSimulator) -> None:
    """rules/branches returns active rules of every level; evaluate rulesets and org rulesets
    that exclude the repository contribute nothing."""
    gh = client(sim)
    _, rules = gh.requester.requestJsonAndCheck("GET", "/repos/acme/service-2/rules/branches/main")
    sources = {(r["ruleset_source_type"], r["type"]) for r in rules}
    assert ("Organization", "non_fast_forward") in sources
    counts = [r["parameters"]["required_approving_review_count"] for r in rules
              if r["type"] == "pull_request"]
    assert counts == [1]  # the evaluate ruleset's 2 is not in force
    _, none = gh.requester.requestJsonAndCheck("GET",
                                               "/repos/acme/sandbox-tools/rules/branches/main")
    assert none == []
    _, listed = gh.requester.requestJsonAndCheck("GET", "/repos/acme/service-2/rulesets")
    assert {r["enforcement"] for r in listed} == {"active", "evaluate"}


def test_bypass_actors_hidden_without_write_access(sim: GitHubSimulator) -> None:
    """A ruleset read without write access omits bypass_actors, as GitHub documents."""
    rid = sim.orgs["acme"]["rulesets"][0]["id"]
    _, full = client(sim).requester.requestJsonAndCheck(
        "GET", f"/repos/acme/service-0/rulesets/{rid}")
    _, hidden = client(sim, "reader").requester.requestJsonAndCheck(
        "GET", f"/repos/acme/service-0/rulesets/{rid}")
    assert full["bypass_actors"] and "bypass_actors" not in hidden


def test_two_factor_filter_and_owner_only_settings(sim: GitHubSimulator) -> None:
    """filter=2fa_disabled lists members without 2FA; non-owners see no 2FA setting."""
    gh = client(sim)
    no2fa = {m.login for m in gh.get_organization("acme").get_members(filter_="2fa_disabled")}
    assert no2fa == {u for u in sim.orgs["acme"]["members"] if not sim.users[u]["two_factor"]}
    assert no2fa
    assert client(sim, "reader").get_organization("acme").two_factor_requirement_enabled is None


def test_search_total_count_and_thousand_cap(sim: GitHubSimulator) -> None:
    """Search reports total_count for merged PRs; pages past 1,000 results are refused."""
    gh = client(sim)
    n = gh.search_issues("is:pr is:merged repo:acme/service-1 base:main").totalCount
    assert n == sum(1 for p in sim.repos["acme/service-1"]["pulls"] if p.get("merged_at"))
    with pytest.raises(GithubException) as e:
        gh.requester.requestJsonAndCheck("GET", "/search/issues",
                                         {"q": "is:pr", "per_page": 100, "page": 11})
    assert e.value.status == 422


def test_faults_injected_over_http_hit_the_named_page(sim: GitHubSimulator) -> None:
    """A fault posted to the control endpoint answers page 2 of a list with a 500 once."""
    body = json.dumps({"status": 500, "page": 2, "path_contains": "/members", "times": 1})
    req = urllib.request.Request(f"{sim.origin}/_simulator/faults", data=body.encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
    gh = client(sim)
    gh.requester.requestJsonAndCheck("GET", "/orgs/acme/members", {"per_page": 5})
    with pytest.raises(GithubException) as e:
        gh.requester.requestJsonAndCheck("GET", "/orgs/acme/members", {"per_page": 5,
                                                                       "page": 2})
    assert e.value.status == 500
    gh.requester.requestJsonAndCheck("GET", "/orgs/acme/members", {"per_page": 5, "page": 2})


def test_fnmatch_and_targeting_follow_the_documented_patterns() -> None:
    """`*` stops at `/`, `**` crosses it; include/exclude and ~DEFAULT_BRANCH select refs."""
    assert fnmatch_ref("refs/heads/release/*", "refs/heads/release/1.0")
    assert not fnmatch_ref("refs/heads/release/*", "refs/heads/release/1/hotfix")
    assert fnmatch_ref("refs/heads/releases/**/*", "refs/heads/releases/a/b")
    assert fnmatch_ref("sandbox-*", "sandbox-tools") and not fnmatch_ref("sandbox-*", "tools")
    repo = {"name": "api", "id": 1, "default_branch": "trunk"}
    rs = {"source_type": "Organization", "target": "branch",
          "conditions": {"repository_name": {"include": ["~ALL"], "exclude": ["api"]},
                         "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}}}
    assert not ruleset_targets(rs, repo, "trunk")
    rs["conditions"]["repository_name"]["exclude"] = []
    assert ruleset_targets(rs, repo, "trunk") and not ruleset_targets(rs, repo, "main")


def test_seed_is_deterministic() -> None:
    """The same seed builds the same organization, pull requests and deviations."""
    a, b = GitHubSimulator(), GitHubSimulator()
    try:
        sa, sb = seed_org(a, merged_prs=80), seed_org(b, merged_prs=80)
        assert sa.expected == sb.expected and sa.direct_pushes == sb.direct_pushes
        assert sorted(sa.expected.values()).count("ok") < 80
        pa = [(p["number"], p["head_sha"], len(p["reviews"]))
              for p in a.repos["acme/service-0"]["pulls"]]
        pb = [(p["number"], p["head_sha"], len(p["reviews"]))
              for p in b.repos["acme/service-0"]["pulls"]]
        assert pa == pb
    finally:
        a.stop()
        b.stop()

"""API operations mapped to the IAM actions that authorize them, and the policy document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Where the IAM action is not "<service>:<Operation>" (S3 names its actions differently).
_ACTION_OVERRIDES: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}

# The IAM prefix of each boto3 service name, where the two differ.
_PREFIX = {"s3control": "s3"}

# Actions that reach accounts rather than read them: the base principal assumes member roles
# and lists the organization; every principal identifies itself (STS needs no grant for it).
REACH_ACTIONS = ("organizations:ListAccounts", "sts:GetCallerIdentity")
ASSUME_ACTIONS = ("sts:AssumeRole",)


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes `operation` of boto3 service `service`."""
    return _ACTION_OVERRIDES.get((service, operation),
                                 f"{_PREFIX.get(service, service)}:{operation}")


def policy_document(actions: Iterable[str]) -> str:
    """A minimal read-only IAM policy (JSON): the snapshots' actions, reaching, assuming."""
    read = sorted(set(actions) | set(REACH_ACTIONS))
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentReadOnly", "Effect": "Allow", "Action": read,
             "Resource": "*"},
            {"Sid": "EvidenceAgentAssumeMemberRoles", "Effect": "Allow",
             "Action": list(ASSUME_ACTIONS), "Resource": "arn:aws:iam::*:role/*"},
        ],
    }
    return json.dumps(doc, indent=2)


def granted_actions(document: str) -> set[str]:
    """Every action an Allow statement of `document` grants (for checking coverage)."""
    out: set[str] = set()
    for s in json.loads(document)["Statement"]:
        if s.get("Effect") == "Allow":
            acts = s["Action"]
            out |= {acts} if isinstance(acts, str) else set(acts)
    return out


# --- the policy language: what a statement covers -------------------------------------------
# IAM matches Action with `*` / `?` wildcards, case-insensitively; Resource ARNs with the same
# wildcards, case-sensitively; condition key names case-insensitively (IAM User Guide,
# "IAM JSON policy elements": Action, Resource, Condition).


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _glob_states(pattern: str, text: str) -> set[int]:
    """Positions in `pattern` a wildcard match can be at after reading all of `text`."""

    def close(states: set[int]) -> set[int]:
        out, todo = set(states), list(states)
        while todo:
            p = todo.pop()
            if p < len(pattern) and pattern[p] == "*" and p + 1 not in out:
                out.add(p + 1)
                todo.append(p + 1)
        return out

    states = close({0})
    for ch in text:
        nxt: set[int] = set()
        for p in states:
            if p < len(pattern):
                if pattern[p] == "*":
                    nxt.add(p)
                elif pattern[p] == "?" or pattern[p] == ch:
                    nxt.add(p + 1)
        states = close(nxt)
        if not states:
            break
    return states


def glob_matches(pattern: str, text: str) -> bool:
    """Whether an IAM wildcard pattern (`*` any run, `?` one character) matches `text`."""
    return len(pattern) in _glob_states(pattern, text)


def glob_covers_prefix(pattern: str, prefix: str) -> bool:
    """Whether `pattern` matches every string that starts with `prefix`."""
    return any(all(c == "*" for c in pattern[p:]) for p in _glob_states(pattern, prefix))


def glob_meets_prefix(pattern: str, prefix: str) -> bool:
    """Whether `pattern` matches at least one string that starts with `prefix`."""
    return bool(_glob_states(pattern, prefix))


S3_ACTIONS = "s3:"

# The partition a Region belongs to, by its name's prefix (AWS General Reference, "AWS
# partitions"; botocore's endpoint data): a bucket's ARN names it (arn:aws-us-gov:s3:::NAME in
# GovCloud, arn:aws-cn:s3:::NAME in China), and a policy must name the bucket that way.
_PARTITION_PREFIXES = (("us-gov-", "aws-us-gov"), ("cn-", "aws-cn"), ("us-isob-", "aws-iso-b"),
                       ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"),
                       ("us-isof-", "aws-iso-f"))
PARTITIONS = ("aws", *(p for _, p in _PARTITION_PREFIXES))


def partition_of(region: str | None) -> str:
    """The partition of `region` ("aws" for the commercial Regions and when unknown)."""
    return next((p for pre, p in _PARTITION_PREFIXES if (region or "").startswith(pre)), "aws")


def covers_action(stmt: Mapping[str, Any], action: str) -> bool:
    """Whether a statement's Action (or NotAction) takes in `action` (IAM compares actions
    case-insensitively)."""
    action = action.lower()
    if "NotAction" in stmt:
        return not any(glob_matches(str(a).lower(), action)
                       for a in _as_list(stmt.get("NotAction")))
    return any(glob_matches(str(a).lower(), action) for a in _as_list(stmt.get("Action")))


def every_principal(stmt: Mapping[str, Any]) -> bool:
    """Whether a resource-policy statement applies to every principal ("*" or {"AWS": "*"})."""
    if "NotPrincipal" in stmt:
        return False
    p = stmt.get("Principal")
    return p == "*" or (isinstance(p, Mapping) and "*" in _as_list(p.get("AWS")))


def _secure_transport_false(cond: Any) -> tuple[bool, list[str]]:
    """Whether a Condition block holds whenever aws:SecureTransport is false and adds no other
    requirement; otherwise what it adds or lacks."""
    if not isinstance(cond, Mapping) or not cond:
        return False, ["a condition on aws:SecureTransport being false"]
    found = False
    extra: list[str] = []
    for op, block in cond.items():
        keys = block.items() if isinstance(block, Mapping) else [(str(block), None)]
        # aws:SecureTransport is single-valued: with it, ForAnyValue: and ForAllValues:
        # compare its one value, as the plain operator does (IAM User Guide, "Set operators
        # for multivalued context keys"; S3 always sets the key, so ForAllValues' "true when
        # the key is absent" never applies).
        base = str(op).removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        for key, value in keys:
            if base in ("Bool", "BoolIfExists") and \
                    str(key).lower() == "aws:securetransport" and \
                    any(str(v).lower() == "false" for v in _as_list(value)):
                found = True
                continue
            if str(key).lower() == "aws:securetransport" and base not in ("Bool",
                                                                         "BoolIfExists"):
                # a Boolean key (IAM User Guide, "AWS global condition context keys"); what a
                # string or other operator does with it is not documented: not counted
                extra.append(f"{op} {key} (not Bool, the operator documented for this "
                             "Boolean key)")
                continue
            extra.append(f"{op} {key}")
    misses = [] if found else ["a Bool condition matching aws:SecureTransport false"]
    if extra:
        misses.append("requests without TLS that fail its other condition(s): "
                      + ", ".join(sorted(extra)))
    return not misses, misses


def tls_statement_misses(stmt: Mapping[str, Any], bucket: str,
                         partition: str = "aws") -> list[str]:
    """What a statement lacks to deny every request without TLS to `bucket` and its objects
    (empty: it denies them all)."""
    misses: list[str] = []
    if stmt.get("Effect") != "Deny":
        return ["Effect Deny"]
    if not every_principal(stmt):
        misses.append("every principal (Principal \"*\" or {\"AWS\": \"*\"})")
    if "NotAction" in stmt:
        excluded = [str(a) for a in _as_list(stmt.get("NotAction"))
                    if glob_meets_prefix(str(a).lower(), S3_ACTIONS)]
        if excluded:
            misses.append("S3 actions excluded by NotAction: " + ", ".join(excluded))
    elif not any(glob_covers_prefix(str(a).lower(), S3_ACTIONS)
                 for a in _as_list(stmt.get("Action"))):
        misses.append("all S3 actions (s3:*)")
    arn = f"arn:{partition}:s3:::{bucket}"
    if "NotResource" in stmt:
        nots = [str(r) for r in _as_list(stmt.get("NotResource"))]
        if any(glob_matches(r, arn) for r in nots):
            misses.append(f"the bucket {arn} (excluded by NotResource)")
        if any(glob_meets_prefix(r, arn + "/") for r in nots):
            misses.append(f"all objects {arn}/* (some excluded by NotResource)")
    else:
        res = [str(r) for r in _as_list(stmt.get("Resource"))]
        if not any(glob_matches(r, arn) for r in res):
            misses.append(f"the bucket {arn}")
        if not any(glob_covers_prefix(r, arn + "/") for r in res):
            misses.append(f"all objects {arn}/*")
    misses.extend(_secure_transport_false(stmt.get("Condition"))[1])
    return misses


def _pattern_within(q: str, p: str) -> bool:
    """Whether action pattern `q` provably matches every action `p` matches (both lower
    case): `p` a literal action, or a literal prefix ending in one `*`. Anything else is not
    proven (False)."""
    body = p[:-1] if p.endswith("*") else p
    if _wild(body):
        return False
    return glob_covers_prefix(q, body) if p.endswith("*") else glob_matches(q, p)


def _pattern_outside(excluded: list[str], p: str) -> bool:
    """Whether no pattern of `excluded` provably matches any action `p` matches (the same
    shapes of `p` as _pattern_within)."""
    body = p[:-1] if p.endswith("*") else p
    if _wild(body):
        return False
    if p.endswith("*"):
        return not any(glob_meets_prefix(e, body) for e in excluded)
    return not any(glob_matches(e, p) for e in excluded)


def _actions_of(stmt: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(NotAction?, its S3-relevant patterns in lower case)."""
    if "NotAction" in stmt:
        return True, [str(a).lower() for a in _as_list(stmt.get("NotAction"))
                      if glob_meets_prefix(str(a).lower(), S3_ACTIONS)]
    return False, [str(a).lower() for a in _as_list(stmt.get("Action"))]


def _together_cover_s3(stmts: list[Mapping[str, Any]]) -> bool:
    """Whether statements together take in every S3 action (IAM denies a request when any
    Deny matches it). Proven only in the shapes IAM policies are written in: one statement
    covers `s3:*` (or a NotAction excludes no S3 action); or each S3 action one NotAction
    excludes (a literal action or a `prefix*`) is taken in by another statement's Action,
    or left in by another NotAction. An unproven union is not a pass."""
    forms = [_actions_of(s) for s in stmts]
    for i, (neg, pats) in enumerate(forms):
        if not neg:
            if any(glob_covers_prefix(a, S3_ACTIONS) for a in pats):
                return True
            continue
        others = [f for j, f in enumerate(forms) if j != i]
        if all(any(_pattern_outside(o, p) if o_neg else
                   any(_pattern_within(q, p) for q in o) for o_neg, o in others)
               for p in pats):
            return True
    return False


def _tls_union(stmts: list[tuple[str, Mapping[str, Any]]], bucket: str,
               partition: str) -> str | None:
    """Statements that together deny every request without TLS to `bucket` and its objects,
    each of them on its own denying every principal whenever aws:SecureTransport is false
    but covering only part (the bucket in one, the objects in another; some S3 actions in
    one, the rest in another): their description, or None when they do not add up."""
    arn = f"arn:{partition}:s3:::{bucket}"
    usable = [(n, s) for n, s in stmts if s.get("Effect") == "Deny" and every_principal(s)
              and _secure_transport_false(s.get("Condition"))[0]]

    def takes_in(s: Mapping[str, Any], objects: bool) -> bool:
        if "NotResource" in s:
            nots = [str(r) for r in _as_list(s.get("NotResource"))]
            return not any(glob_meets_prefix(r, arn + "/") if objects else glob_matches(r, arn)
                           for r in nots)
        res = [str(r) for r in _as_list(s.get("Resource"))]
        return any(glob_covers_prefix(r, arn + "/") if objects else glob_matches(r, arn)
                   for r in res)

    parts = []
    for what, objects in ((f"the bucket {arn}", False), (f"its objects {arn}/*", True)):
        group = [(n, s) for n, s in usable if takes_in(s, objects)]
        if not group or not _together_cover_s3([s for _, s in group]):
            return None
        parts.append(f"{what} by {', '.join(n for n, _ in group)}")
    return "statements together deny every request without TLS: " + "; ".join(parts)


def tls_required(policy: Any, bucket: str, partition: str = "aws") -> tuple[bool, str]:
    """Whether a bucket policy denies every principal every S3 action on the bucket and its
    objects (ARNs in the bucket's `partition`) when aws:SecureTransport is false, in one
    statement or in several that add up (IAM denies a request that any Deny statement
    matches); the reason names what the closest statement misses."""
    if not isinstance(policy, Mapping):
        return False, "no bucket policy"
    best: tuple[int, str, list[str]] | None = None
    named: list[tuple[str, Mapping[str, Any]]] = []
    for i, s in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(s, Mapping):
            continue
        named.append((str(s.get("Sid") or i), s))
        misses = tls_statement_misses(s, bucket, partition)
        if not misses:
            return True, f"statement {s.get('Sid') or i} denies every request without TLS"
        mentions_tls = "securetransport" in json.dumps(s.get("Condition", {})).lower()
        if s.get("Effect") == "Deny" and mentions_tls and (best is None
                                                           or len(misses) < best[0]):
            best = (len(misses), str(s.get("Sid") or i), misses)
    together = _tls_union(named, bucket, partition)
    if together is not None:
        return True, together
    if best is None:
        return False, "no Deny statement on aws:SecureTransport"
    return False, f"statement {best[1]} does not cover: " + "; ".join(best[2])


# --- role trust policies: who may assume ----------------------------------------------------
# A trust statement for every principal ("*", {"AWS": "*"}, or Allow with NotPrincipal) lets
# in principals of any AWS account unless a condition pins the caller's account,
# organization or identity. These global condition keys name who is asking (IAM User Guide,
# "AWS global condition context keys"); a test on any other key (MFA present, source IP,
# principal type, an external ID, which is no secret) still lets in strangers who meet it.
# Lower case: IAM compares condition key names case-insensitively.
ASSUME_ROLE_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML",
                       "sts:AssumeRoleWithWebIdentity")
_ID_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:principalorgid",
                      "aws:sourceorgid", "aws:sourceowner", "aws:userid"})
_ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
_PATH_KEYS = frozenset({"aws:principalorgpaths", "aws:sourceorgpaths"})  # multivalued
IDENTITY_KEYS = _ID_KEYS | _ARN_KEYS | _PATH_KEYS
# Which of those keys a stranger's request carries (IAM User Guide, "AWS global condition
# context keys", each key's availability): a signed AssumeRole by a principal carries the
# principal keys, the organization ones only if its account is in an organization; one by a
# service acting for a resource carries the source keys (organization and owner not always);
# AssumeRoleWithSAML and AssumeRoleWithWebIdentity are unsigned, by no AWS principal and for
# no service, and carry none. Each combination is a kind of caller judged on its own.
_PRINCIPAL_KEYS = frozenset({"aws:principalaccount", "aws:principalarn", "aws:userid"})
_SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn"})
_CALLER_KINDS: dict[str, tuple[frozenset[str], ...]] = {
    "sts:AssumeRole": (
        _PRINCIPAL_KEYS,
        _PRINCIPAL_KEYS | {"aws:principalorgid", "aws:principalorgpaths"},
        _SOURCE_KEYS,
        _SOURCE_KEYS | {"aws:sourceowner"},
        _SOURCE_KEYS | {"aws:sourceorgid", "aws:sourceorgpaths"},
        _SOURCE_KEYS | {"aws:sourceorgid", "aws:sourceorgpaths", "aws:sourceowner"}),
    "sts:AssumeRoleWithSAML": (frozenset(),),
    "sts:AssumeRoleWithWebIdentity": (frozenset(),),
}
_MATCHING = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals",
                       "arnlike"})
_NOT_MATCHING = frozenset({"stringnotequals", "stringnotequalsignorecase", "stringnotlike",
                           "arnnotequals", "arnnotlike"})


def _wild(s: str) -> bool:
    return "*" in s or "?" in s


# Policy variables (IAM User Guide, "IAM policy elements: Variables and tags"): `${key}` in a
# condition value is replaced by the request's value of `key`. The resource's own account,
# organization and paths name the trusting side, so a test against them pins the caller to
# it (stood in for by fixed values below); any other variable (`${aws:PrincipalAccount}`,
# `${aws:PrincipalOrgID}`, a tag, `${*}`) is a value the caller supplies or one that names
# nobody, so the test names no one: `aws:PrincipalOrgID` equal to `${aws:PrincipalOrgID}`
# holds for a stranger in any organization.
_RESOURCE_VARIABLES = {"aws:resourceaccount": "000000000000",
                       "aws:resourceorgid": "o-resourceorg0",
                       "aws:resourceorgpaths": "o-resourceorg0/r-root/"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def resolve_resource_variables(value: str) -> str | None:
    """`value` with the resource-side policy variables replaced by stand-ins, or None when it
    holds any other variable (its value is not a name the policy's author chose)."""
    if "${" not in value:
        return value
    out = _VARIABLE.sub(lambda m: _RESOURCE_VARIABLES.get(m.group(1).strip().lower(),
                                                          m.group(0)), value)
    return None if "${" in out else out


def names_only_some(op: str, key: str, value: Any) -> bool:
    """Whether a condition value, compared by (matching) operator `op` on identity key `key`,
    can match only named accounts or organizations. StringEquals takes `*` and `?` literally;
    StringLike, ArnLike and ArnEquals take them as wildcards, so none may stand in the
    account, organization or unique-ID part (an ARN's first five fields, an org path's
    organization, a user ID's unique ID). A policy variable other than the resource's own
    account or organization names no one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    resolved = resolve_resource_variables(str(value))
    if resolved is None:
        return False
    value = resolved
    if not (op.endswith("like") or op.startswith("arn")) or not _wild(value):
        return True
    if key in _ARN_KEYS:
        parts = value.split(":")
        return len(parts) >= 6 and bool(parts[4]) and not _wild(":".join(parts[:5]))
    if key in _PATH_KEYS:
        head, slash, _ = value.partition("/")
        return bool(slash) and bool(head) and not _wild(head)
    if key == "aws:userid":
        head, colon, _ = value.partition(":")
        return bool(colon) and bool(head) and not _wild(head)
    return False


def _split_op(op: str) -> tuple[str, str, bool]:
    """(set operator prefix, base operator, IfExists) of a condition operator, lower case."""
    low = op.lower()
    prefix = ""
    for p in ("foranyvalue:", "forallvalues:"):
        if low.startswith(p):
            prefix, low = p, low[len(p):]
    return prefix, low.removesuffix("ifexists"), low.endswith("ifexists")


def _entries(cond: Any) -> list[tuple[str, str, Any]]:
    """(operator, key lower case, values) of a Condition block; a malformed part as ''."""
    if not isinstance(cond, Mapping):
        return [("", "", None)] if cond else []
    out: list[tuple[str, str, Any]] = []
    for op, block in cond.items():
        if not isinstance(block, Mapping):
            out.append((str(op), "", None))
            continue
        out.extend((str(op), str(k).lower(), v) for k, v in block.items())
    return out


def _named_only(base: str, key: str, values: Any) -> bool:
    vals = _as_list(values)
    return bool(vals) and all(names_only_some(base, key, v) for v in vals)


# how a condition test holds for the strangers of one kind of caller
ALWAYS, NEVER, CHOSEN = "always", "never", "chosen"


def _test_for_strangers(op: str, key: str, values: Any, present: frozenset[str]) -> str:
    """Whether one condition test holds for strangers of a kind whose requests carry the keys
    `present`: for every one (ALWAYS), for none (NEVER), or as they choose (CHOSEN: their own
    MFA, tags, names, or a value a wildcard lets them have). A key a request lacks makes a
    test hold with ...IfExists, ForAllValues: or a negated operator (but for ForAnyValue:),
    and fail otherwise (IAM User Guide, "Condition operators", "Set operators for
    multivalued context keys")."""
    prefix, base, if_exists = _split_op(op)
    if key not in IDENTITY_KEYS or not base:
        return CHOSEN
    negated = base in _NOT_MATCHING
    if not negated and base not in _MATCHING:
        return CHOSEN
    if key not in present:
        holds = if_exists or prefix == "forallvalues:" or (negated and prefix != "foranyvalue:")
        return ALWAYS if holds else NEVER
    if key in _PATH_KEYS and not prefix:
        return CHOSEN  # a multivalued key without a set operator: not judged
    if not _named_only(base.replace("not", "", 1), key, values):
        return CHOSEN
    return ALWAYS if negated else NEVER


def _denies_all_but_named(stmt: Mapping[str, Any], kind: frozenset[str]) -> bool:
    """A Deny that every stranger of a kind (whose requests carry the keys `kind`) meets: for
    every principal (or all but named ones, NotPrincipal), each of its tests (there may be
    none) holding for all of them."""
    if "NotPrincipal" in stmt:
        np = stmt.get("NotPrincipal")
        named = _as_list(np.get("AWS")) if isinstance(np, Mapping) else []
        if not named or "*" in named:
            return False
    elif not every_principal(stmt):
        return False
    return all(_test_for_strangers(op, key, v, kind) == ALWAYS
               for op, key, v in _entries(stmt.get("Condition")))


# GitHub Actions' OIDC issuer is shared by every repository on github.com: a role trusting it
# lets in any workflow of any owner unless a test on the token's `sub` claim names the
# repository owner ("repo:OWNER/REPO:..."; AWS IAM User Guide, "Configuring a role for GitHub
# OIDC identity provider"; GitHub, "Example subject claims").
GITHUB_OIDC = "oidc-provider/token.actions.githubusercontent.com"
GITHUB_SUB = "token.actions.githubusercontent.com:sub"


def github_sub_names_owner(value: Any, op: str) -> bool:
    """Whether a `sub` value can match only workflows of one named repository owner: it
    starts `repo:` (a token's own repository comes first there; an owner who customises the
    claim to start otherwise can produce any other text) and, compared with StringLike,
    has no wildcard up to the `/` ending the owner."""
    if not isinstance(value, str) or not value.startswith("repo:") or "${" in value:
        return False
    if not op.endswith("like") or not _wild(value):
        return True  # exact: this owner's, or a value no token has
    owner, slash, _ = value[5:].partition("/")
    return bool(owner) and bool(slash) and not _wild(owner)


def names_one_value(value: Any, op: str) -> bool:
    """Whether a value names one identifier: text, and no wildcard where StringLike reads one."""
    return isinstance(value, str) and bool(value) and "${" not in value and \
        not (op.endswith("like") and _wild(value))


# Public identity providers whose tokens any app or identity pool can obtain (IAM User Guide,
# "Available keys for AWS web identity federation"; Amazon Cognito Developer Guide, "Role
# trust and permissions": a trust of identity pools without `cognito-identity.amazonaws.com:aud`
# lets users of unintended identity pools assume the role). A role trusting one lets in the
# users of every app unless a test names the app (audience, app ID) or the user. Each entry:
# (label, does a Federated principal name it, keys that pin it, does a value pin it).
_SHARED_ISSUERS: tuple[tuple[str, Callable[[str], bool], frozenset[str],
                             Callable[[Any, str], bool]], ...] = (
    ("GitHub Actions workflow of any repository owner",
     lambda f: f.endswith(":" + GITHUB_OIDC), frozenset({GITHUB_SUB}), github_sub_names_owner),
    ("Amazon Cognito identity of any identity pool",
     lambda f: f.lower() == "cognito-identity.amazonaws.com",
     frozenset({"cognito-identity.amazonaws.com:aud", "cognito-identity.amazonaws.com:sub"}),
     names_one_value),
    ("Google account signed in to any app",
     lambda f: f.lower() == "accounts.google.com",
     frozenset({"accounts.google.com:aud", "accounts.google.com:oaud",
                "accounts.google.com:sub"}), names_one_value),
    ("Facebook user of any app",
     lambda f: f.lower() == "graph.facebook.com",
     frozenset({"graph.facebook.com:app_id", "graph.facebook.com:id"}), names_one_value),
    ("Login with Amazon user of any app",
     lambda f: f.lower() == "www.amazon.com",
     frozenset({"www.amazon.com:app_id", "www.amazon.com:user_id"}), names_one_value),
)


def _federated(stmt: Mapping[str, Any]) -> list[str]:
    p = stmt.get("Principal")
    return [str(f) for f in _as_list(p.get("Federated"))] if isinstance(p, Mapping) else []


def _pinned(cond: Any, keys: frozenset[str], value_ok: Callable[[Any, str], bool]) -> bool:
    """Whether a Condition requires one of `keys` to match only named values. Every token of
    these issuers carries its one value of each such claim, so ...IfExists and set operators
    test it as the plain operator does."""
    for op, key, values in _entries(cond):
        _prefix, base, _if_exists = _split_op(op)
        if key not in keys or base not in ("stringequals", "stringequalsignorecase",
                                           "stringlike"):
            continue
        vals = _as_list(values)
        if vals and all(value_ok(v, base) for v in vals):
            return True
    return False


def trust_open_to_anyone(trust: Any) -> str | None:
    """Why a role trust policy lets principals of any AWS account, or the users of any app of
    a shared web-identity issuer (GitHub Actions, Cognito identity pools, Google, Facebook,
    Login with Amazon), assume the role (the statement that does, and for which action), or
    None when for each way to assume a role every Allow for every principal pins the caller
    or a Deny turns away all but named callers, and every trust of a shared issuer names the
    app, the user or (GitHub) the repository owner."""
    stmts = [s for s in _as_list(trust.get("Statement") if isinstance(trust, Mapping)
                                 else None) if isinstance(s, Mapping)]
    for action in ASSUME_ROLE_ACTIONS:
        for kind in _CALLER_KINDS[action]:
            if any(s.get("Effect") == "Deny" and covers_action(s, action)
                   and _denies_all_but_named(s, kind) for s in stmts):
                continue
            for i, s in enumerate(stmts):
                if s.get("Effect") != "Allow" or not covers_action(s, action):
                    continue
                if not (every_principal(s) or "NotPrincipal" in s):
                    continue
                if any(_test_for_strangers(op, key, v, kind) == NEVER
                       for op, key, v in _entries(s.get("Condition"))):
                    continue
                who = "every principal but those named (NotPrincipal)" if "NotPrincipal" in s \
                    else "every principal"
                how = " under conditions that do not pin the caller's account or " \
                    "organization" if s.get("Condition") else ""
                return f"statement {s.get('Sid') or i} allows {who} {action}{how}"
    for i, s in enumerate(stmts):
        if s.get("Effect") != "Allow" or \
                not covers_action(s, "sts:AssumeRoleWithWebIdentity"):
            continue
        fed = _federated(s)
        for label, names, keys, value_ok in _SHARED_ISSUERS:
            if any(names(f) for f in fed) and not _pinned(s.get("Condition"), keys, value_ok):
                return (f"statement {s.get('Sid') or i} lets any {label} assume it: no test "
                        f"naming {' or '.join(sorted(keys))}")
    return None

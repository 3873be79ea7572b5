"""Example snapshot contents (the shapes stored), used by registry tests and docs."""

from __future__ import annotations

from typing import Any

_U = "2026-11-01T10:00:00.000Z"


def _user(uid: str, login: str, status: str, factors: list[tuple[str, str, str]]
          ) -> dict[str, Any]:
    return {"id": uid, "login": login, "status": status, "created": _U, "activated": _U,
            "last_login": _U, "status_changed": _U,
            "deactivated": _U if status == "DEPROVISIONED" else None,
            "password_changed": _U, "factors_error": None,
            "factors": [{"id": f"mfa{uid[-4:]}{i}", "type": t, "provider": p, "vendor": p,
                         "status": s, "created": _U, "last_updated": _U}
                        for i, (t, p, s) in enumerate(factors)]}


USERS: dict[str, Any] = {
    "org": "https://example.okta.com",
    "users": [
        _user("00u1aaaaaaaaaaaaaaa1", "ada@example.com", "ACTIVE",
              [("webauthn", "FIDO", "ACTIVE")]),
        _user("00u1aaaaaaaaaaaaaaa2", "bo@example.com", "ACTIVE",
              [("question", "OKTA", "ACTIVE")]),
        _user("00u1aaaaaaaaaaaaaaa3", "cy@example.com", "ACTIVE",
              [("push", "OKTA", "PENDING_ACTIVATION")]),
        _user("00u1aaaaaaaaaaaaaaa4", "dee@example.com", "DEPROVISIONED", []),
    ],
}

ADMIN_ROLES: dict[str, Any] = {
    "org": "https://example.okta.com",
    "assignments": [
        {"principal_type": "GROUP", "principal_id": "00g1aaaaaaaaaaaaaaa1",
         "principal_name": "IT Admins", "role_id": "ra1aaaaaaaaaaaaaaaa2",
         "role_type": "ORG_ADMIN", "label": "Organization Administrator", "status": "ACTIVE",
         "assignment_type": "GROUP", "custom_role": None, "resource_set": None,
         "created": _U},
        {"principal_type": "USER", "principal_id": "00u1aaaaaaaaaaaaaaa1",
         "principal_name": "ada@example.com", "role_id": "ra1aaaaaaaaaaaaaaaa1",
         "role_type": "SUPER_ADMIN", "label": "Super Administrator", "status": "ACTIVE",
         "assignment_type": "USER", "custom_role": None, "resource_set": None,
         "created": _U},
    ],
    "groups": [{"id": "00g1aaaaaaaaaaaaaaa1", "name": "IT Admins",
                "members": ["00u1aaaaaaaaaaaaaaa5"], "members_complete": True, "error": None,
                "roles": ["ORG_ADMIN"]}],
    "admins": [
        {**_user("00u1aaaaaaaaaaaaaaa1", "ada@example.com", "ACTIVE",
                 [("webauthn", "FIDO", "ACTIVE")]), "roles": ["SUPER_ADMIN (direct)"]},
        {**_user("00u1aaaaaaaaaaaaaaa5", "sam@example.com", "ACTIVE",
                 [("push", "OKTA", "ACTIVE")]), "roles": ["ORG_ADMIN (group IT Admins)"]},
    ],
    "unreadable": [],
}

POLICIES: dict[str, Any] = {
    "org": "https://example.okta.com",
    "policies": [{"id": "00p1aaaaaaaaaaaaaaa1", "type": "PASSWORD", "name": "Default Policy",
                  "status": "ACTIVE", "priority": 1, "system": True,
                  "settings": {"password": {"complexity": {"minLength": 14}}},
                  "rules": [{"id": "0pr1aaaaaaaaaaaaaaa1", "name": "Default Rule",
                             "priority": 1, "status": "ACTIVE"}]}],
    "unavailable_types": {},
}

LIFECYCLE: dict[str, Any] = {
    "org": "https://example.okta.com",
    "window": {"since": "2026-11-01T00:00:00.000Z", "until": "2026-11-08T00:00:00.000Z"},
    "filter": 'eventType eq "user.lifecycle.create"',
    "events": [{"uuid": "5f0f6c2e-0d7b-4a57-9b1e-6c8c8a1f0a01",
                "published": "2026-11-02T09:30:00.000Z",
                "eventType": "user.lifecycle.create",
                "actor": {"id": "00u1aaaaaaaaaaaaaaa1", "type": "User",
                          "alternateId": "ada@example.com"},
                "target": [{"id": "00u1aaaaaaaaaaaaaaa6", "type": "User",
                            "alternateId": "eve@example.com"}],
                "outcome": {"result": "SUCCESS"}}],
}


def _open_objects(required: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "object", "required": required}}


# Policies and System Log events are stored as Okta returns them; their fields vary by
# policy type and event type, so only what the evidence relies on is required.
POLICIES_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["org", "policies", "unavailable_types"],
    "additionalProperties": False,
    "properties": {"org": {"type": "string"}, "unavailable_types": {"type": "object"},
                   "policies": _open_objects(["id", "type", "name", "status", "rules"])}}
LIFECYCLE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["org", "window", "filter", "events"],
    "additionalProperties": False,
    "properties": {"org": {"type": "string"}, "filter": {"type": "string"},
                   "window": {"type": "object", "required": ["since", "until"]},
                   "events": _open_objects(["uuid", "published", "eventType", "actor",
                                            "target"])}}

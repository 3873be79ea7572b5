"""Redaction: no token, key, password or signature reaches provenance, a log line or an error.

Three entry points, one rule set: `redact_params` (a call's parameters, by key name and by
value shape), `redact_url` (credentials in the netloc and secret query parameters) and
`redact_text` (free text such as a log line). `guard_loggers` makes every log record pass
through `RedactingFilter`, so even the SDKs' own debug lines (`-vv`) are redacted.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

REDACTED = "<redacted>"

# Key names whose values are secrets (matched case-insensitively against the whole name).
_SECRET_KEY = re.compile(
    r"(?i)^(.*(authori[sz]ation|token|secret|passw(or)?d|api[-_]?key|apikey|access[-_]?key|"
    r"private[-_]?key|client[-_]?assertion|credential|signature|cookie|session[-_]?key|"
    r"external[-_]?id|serial[-_]?number)s?.*|sig|code|key|x-amz-security-token)$")
# Values that are credentials whatever their key is called.
_SECRET_VALUE = re.compile(
    r"(?i)^\s*(bearer|ssws|token|basic|digest|aws4-hmac-sha256)\s+\S+|"
    r"^eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*$|^(gh[pousr]_|github_pat_)\w{16,}|"
    r"^-----BEGIN [A-Z ]*PRIVATE KEY-----")
_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|ssws|token|basic)(\s+|(?<=ssws))(?!<redacted>)"
                r"[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)(['\"]?(?:authorization|x-api-key|api[-_]?key|apikey|access[-_]?token|"
                r"refresh[-_]?token|id[-_]?token|token|client[-_]?secret|secret|password|"
                r"passwd|x-amz-security-token|signature|sig|code|private[-_]?key)['\"]?"
                r"\s*[:=]\s*['\"]?)(?!<redacted>)([^'\"&\s,;}]+)"), rf"\1{REDACTED}"),
    (re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"), REDACTED),
    (re.compile(r"\b(gh[pousr]_|github_pat_)\w{16,}"), REDACTED),
    (re.compile(r"(?i)(Signature=|Credential=)[^,\s'\"]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+@"), f"{REDACTED}@"),
)


def is_secret_key(name: str) -> bool:
    """Whether a parameter or header called `name` holds a secret."""
    return bool(_SECRET_KEY.match(name))


def is_secret_value(value: str) -> bool:
    """Whether `value` has the shape of a credential (a bearer token, a JWT, a PAT...)."""
    return bool(_SECRET_VALUE.match(value))


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with secret values replaced, recursively; safe to store as provenance."""
    return {k: REDACTED if is_secret_key(str(k)) else _value(v) for k, v in params.items()}


def _value(v: Any) -> Any:
    if isinstance(v, Mapping):
        return redact_params(v)
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    if isinstance(v, str) and is_secret_value(v):
        return REDACTED
    return v


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials replaced (Authorization, cookies, API keys, tokens)."""
    return {k: REDACTED if is_secret_key(k) or is_secret_value(v) else v
            for k, v in headers.items()}


def redact_url(url: str) -> str:
    """`url` without credentials in its netloc and with secret query values replaced."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    safe = [(k, REDACTED if is_secret_key(k) or is_secret_value(v) else v) for k, v in query]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc,
                                                  query=urllib.parse.urlencode(safe)))


def redact_text(text: str) -> str:
    """Free text (a log line, an error message) with anything credential-shaped replaced."""
    for pattern, repl in _TEXT_RULES:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message through `redact_text` (args folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        clean = redact_text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


_installed = threading.Lock()
_state = {"on": False}


def guard_loggers() -> None:
    """Redact every log record from now on, whichever logger made it (SDK debug lines at
    `-vv` included): wraps the record factory once; idempotent. Called by each transport."""
    with _installed:
        if _state["on"]:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _state["on"] = True


_FILTER = RedactingFilter()

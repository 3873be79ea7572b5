"""Secrets named by indirection, never written in the config: `{ env = "NAME" }` or
`{ file = "/run/secrets/name" }`, read by `resolve_secret` only when they are used.

A secret field is typed `SecretRef` (not `str | SecretRef`): a literal string is refused
when the config is read, so a token pasted into the file never gets further than there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from connectors.errors import ConfigError


class SecretRef(BaseModel):
    """A secret named by indirection: an environment variable or a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, data: Any) -> Any:
        if not isinstance(data, dict | SecretRef):
            raise ValueError('a secret is never written in the config: give { env = "NAME" } '
                             'or { file = "PATH" }')
        return data

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError('a secret takes exactly one of { env = "NAME" } or '
                             '{ file = "PATH" }')
        return self

    def describe(self) -> str:
        """Where the secret is read from (never its value)."""
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"


def resolve_secret(ref: SecretRef) -> str:
    """Read the secret `ref` names; ConfigError (without the value) when it is missing."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None or value == "":
            raise ConfigError(f"secret environment variable {ref.env} is not set")
        return value
    assert ref.file is not None
    try:
        value = Path(ref.file).read_text("utf-8").strip()
    except OSError as e:
        raise ConfigError(f"secret file {ref.file} cannot be read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"secret file {ref.file} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"secret file {ref.file} is empty")
    return value

"""The portal fuzzed from its own OpenAPI document (schemathesis), over a real socket:
no 5xx, and every response matches the status codes and schemas the document declares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldwork.portal import create_app
from storage import access
from tests.conftest import write_config
from tests.portal_server import serving
from tests.test_portal import _seed

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def portal_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d: Path = tmp_path_factory.mktemp("fuzz")
    cfg, st, clock = _seed(lambda **kw: write_config(d, **kw), d)
    TOKEN["auditor"] = access.create_token(st.engine, "Fuzzer", "auditor",
                                           clock.t - timedelta(seconds=1))[0]
    with serving(create_app(cfg, st)) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_portal_never_errors_and_answers_as_documented(portal_schema: Any) -> None:
    """Generated requests (valid and not) to every operation never get a 5xx, and each
    answer matches the OpenAPI document: declared status code, content type and schema."""
    from hypothesis import given
    from schemathesis.checks import not_a_server_error

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    ops = [r.ok() for r in portal_schema.get_all_operations()]
    assert len(ops) >= 12
    for op in ops:
        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN['auditor']}"},
                                   checks=checks)

        fuzz()

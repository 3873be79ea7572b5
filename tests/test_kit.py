"""The connector kit: recording, paging, retries, redaction and fan-out, over real sockets."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from azure.core import PipelineClient
from azure.core.pipeline.policies import RetryPolicy as AzureRetryPolicy
from azure.core.rest import HttpRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Connector, ConnectorConfig, Provenance
from connectors.errors import ConfigError, PermissionDenied, TransientError
from connectors.kit import (
    CallRecorder,
    FanOut,
    RetryPolicy,
    cursor_pages,
    link_pages,
    next_link_pages,
    offset_pages,
    redact_params,
    redact_text,
    redact_url,
    retry_after,
)
from connectors.kit.aio import new_retrier as aio_retrier
from connectors.kit.aio import session as aio_session
from connectors.kit.aio import trace_config
from connectors.kit.azure import RecordingPolicy
from connectors.kit.http import http_error, new_retrier, record_session
from simulators.faults import Fault, Faults, Served
from tests.listapi import ListApi

TOKEN = "ghp_SuperSecretTokenValue0123456789"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Served, Faults]]:
    faults = Faults(ListApi(items=25, token=TOKEN))
    with Served(faults) as srv:
        yield srv, faults


@pytest.fixture(autouse=True)
def _clear(api: tuple[Served, Faults]) -> Iterator[None]:
    yield
    api[1].clear()


def session(ipe: Provenance, waits: list[float] | None = None,
            **policy: Any) -> requests.Session:
    policy.setdefault("max_attempts", 3)
    retrier = new_retrier(RetryPolicy(**policy),
                          sleep=(waits.append if waits is not None else lambda s: None))
    s = record_session(requests.Session(), CallRecorder(ipe), retrier, target="test")
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    return s


def test_link_pages_fold_into_one_call_with_items_and_status(
        api: tuple[Served, Faults]) -> None:
    """Three Link-header pages are one provenance call: 3 pages, 25 items, status 200."""
    ipe = Provenance()
    pages = list(link_pages(session(ipe), f"{api[0].url}/link", {"per_page": 10}, ipe=ipe))
    assert sum(len(p.json()) for p in pages) == 25
    (call,) = ipe.calls
    assert (call.operation, call.pages, call.items, call.status) == ("GET /link", 3, 25, 200)
    assert call.params == {"per_page": "10"} and ipe.pagination_exhausted


@pytest.mark.parametrize("scheme", ["cursor", "offset", "nextlink"])
def test_every_paging_scheme_reads_the_whole_list(api: tuple[Served, Faults],
                                                  scheme: str) -> None:
    """Cursor, offset and nextLink paging each read all 25 items as one 3-page call."""
    ipe = Provenance()
    s = session(ipe)
    url = f"{api[0].url}/{scheme}"
    if scheme == "cursor":
        got = [i for p in cursor_pages(s, url, ipe=ipe) for i in p.json()["items"]]
    elif scheme == "offset":
        got = [i for p in offset_pages(s, url, {"maxResults": 10}, ipe=ipe,
                                       items_field="issues") for i in p.json()["issues"]]
        assert ipe.api_totals == {url: 25}
    else:
        got = [i for p in next_link_pages(s, url, {"api-version": "2022-12-01"}, ipe=ipe)
               for i in p.json()["value"]]
    assert [i["id"] for i in got] == list(range(25))
    (call,) = ipe.calls
    assert call.pages == 3 and call.items == 25 and ipe.pagination_exhausted


def test_a_repeated_cursor_stops_and_marks_the_record_cut_short(
        api: tuple[Served, Faults]) -> None:
    """A server that keeps answering the same next link is stopped, never looped forever."""
    ipe = Provenance()
    pages = list(link_pages(session(ipe), f"{api[0].url}/loop", ipe=ipe))
    assert len(pages) == 2
    assert not ipe.pagination_exhausted and "twice" in ipe.errors[0]


def test_a_429_with_retry_after_is_waited_out_and_recorded(api: tuple[Served, Faults]) -> None:
    """A 429 asking for 2 s is retried after exactly 2 s; the call records one retry."""
    api[1].inject(Fault(429, headers={"Retry-After": "2"}, query_contains="page=2"))
    ipe, waits = Provenance(), list[float]()
    pages = list(link_pages(session(ipe, waits), f"{api[0].url}/link", ipe=ipe))
    assert len(pages) == 3 and waits == [2.0]
    (call,) = ipe.calls
    assert call.retries == 1 and call.ok and ipe.retries == 1 and ipe.pagination_exhausted


def test_x_ratelimit_reset_is_honoured_when_the_limit_is_spent() -> None:
    """GitHub's 403 with remaining 0 waits until x-ratelimit-reset; Okta's header too."""
    assert retry_after({"x-ratelimit-reset": "1010"}, now=1000.0) == 10.0
    assert retry_after({"X-Rate-Limit-Reset": "1003"}, now=1000.0) == 3.0
    assert retry_after({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, now=1000.0) == 10.0


def test_a_500_on_a_middle_page_cuts_the_record_short(api: tuple[Served, Faults]) -> None:
    """Page 2 failing through every retry stops paging, keeps page 1, marks it partial."""
    api[1].inject(Fault(500, query_contains="page=2", times=None))
    ipe = Provenance()
    pages = list(link_pages(session(ipe), f"{api[0].url}/link", ipe=ipe))
    assert len(pages) == 1 and not ipe.pagination_exhausted
    assert "stopped after 1 page(s)" in ipe.errors[0] and "500" in ipe.errors[0]
    (call,) = ipe.calls
    assert call.retries == 2 and not call.ok and call.status == 500


def test_the_retry_budget_bounds_the_waiting(api: tuple[Served, Faults]) -> None:
    """A Retry-After longer than the run's budget is not waited: the call fails at once."""
    api[1].inject(Fault(429, headers={"Retry-After": "30"}, times=None))
    ipe, waits = Provenance(), list[float]()
    with pytest.raises(requests.HTTPError):
        list(link_pages(session(ipe, waits, budget_seconds=5), f"{api[0].url}/link", ipe=ipe))
    assert waits == [] and ipe.calls[0].status == 429


def test_a_failing_first_page_raises(api: tuple[Served, Faults]) -> None:
    """Nothing read at all is an error for the caller, not an empty population."""
    api[1].inject(Fault(403, path_contains="/link"))
    ipe = Provenance()
    with pytest.raises(requests.HTTPError):
        list(link_pages(session(ipe), f"{api[0].url}/link", ipe=ipe))
    assert ipe.calls[0].status == 403 and ipe.pagination_exhausted


def test_the_last_retried_answer_keeps_the_vendors_error_redacted_and_bounded(
        api: tuple[Served, Faults]) -> None:
    """A 503 on every attempt: each retried answer's body is read before the next attempt, so
    the last one still holds the vendor's message; it reaches the call's error and
    `http_error`, with the token in it redacted and the length bounded."""
    said = f"backend down, token={TOKEN} " + "x" * 5000
    api[1].inject(Fault(503, message=said, path_contains="/link", times=None))
    ipe = Provenance()
    with pytest.raises(requests.HTTPError) as e:
        list(link_pages(session(ipe), f"{api[0].url}/link", ipe=ipe))
    assert e.value.response is not None and TOKEN in e.value.response.text  # the SDK's copy
    (call,) = ipe.calls
    assert call.retries == 2 and call.status == 503 and call.error is not None
    assert call.error.startswith("HTTP 503: backend down, token=<redacted> xxx")
    assert TOKEN not in call.error and len(call.error) <= len("HTTP 503: ") + 300
    err = http_error(e.value, operation="GET /link", permission=None)
    assert isinstance(err, TransientError) and "backend down, token=<redacted>" in str(err)
    assert TOKEN not in str(err) and TOKEN not in json.dumps(ipe.to_json())


def test_a_json_page_is_parsed_once_and_never_shared(api: tuple[Served, Faults]) -> None:
    """The parse that counts a page's items is handed to the page's first `json()`; a later
    call parses afresh, so two readers never share (and mutate) one object."""
    ipe = Provenance()
    r = session(ipe).get(f"{api[0].url}/link", params={"per_page": 10})
    first = r.json()
    assert [i["id"] for i in first] == list(range(10)) and ipe.calls[0].items == 10
    first.clear()
    assert [i["id"] for i in r.json()] == list(range(10))


def test_no_secret_reaches_provenance_or_a_debug_log(
        api: tuple[Served, Faults], caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG (-vv), the token in the header and in the query string
    appears neither in the stored provenance nor in any log line."""
    caplog.set_level(logging.DEBUG)
    ipe = Provenance()
    s = session(ipe)
    r = s.get(f"{api[0].url}/link", params={"access_token": TOKEN, "client_secret": "hunter2x"})
    assert r.status_code == 200
    logging.getLogger("evidence.test").info("sent %s", r.request.headers)
    logging.getLogger("evidence.test").debug("url %s", r.request.url)
    stored = json.dumps(ipe.to_json())
    assert TOKEN not in stored and "hunter2x" not in stored
    assert caplog.records and TOKEN not in caplog.text and "hunter2x" not in caplog.text
    assert ipe.calls[0].params["access_token"] == "<redacted>"


def test_redaction_rules() -> None:
    """Keys, credential-shaped values, URLs and free text are each redacted."""
    assert redact_params({"ExternalId": "x", "KeyId": "k", "nested": {"password": "p"},
                          "h": "Bearer abcdefgh"}) == {
        "ExternalId": "<redacted>", "KeyId": "k", "nested": {"password": "<redacted>"},
        "h": "<redacted>"}
    assert redact_url("https://u:pw@h/x?sig=abc&q=1") == "https://h/x?sig=%3Credacted%3E&q=1"
    line = "Authorization: SSWS 00abcdefghijk token=zzzzzz99 eyJhbGciOiJI.eyJzdWIiOiIx.sig"
    out = redact_text(line)
    assert "00abcdefghijk" not in out and "zzzzzz99" not in out and "eyJzdWIiOiIx" not in out


def test_azure_core_retries_are_observed_by_the_recording_policy(
        api: tuple[Served, Faults]) -> None:
    """azure-core's own retry of a 503 shows as one call with one retry, status 200."""
    api[1].inject(Fault(503, headers={"Retry-After": "0"}, path_contains="/nextlink"))
    ipe = Provenance()
    client: PipelineClient[HttpRequest, Any] = PipelineClient(api[0].url, policies=[
        AzureRetryPolicy(retry_backoff_factor=0),
        RecordingPolicy(CallRecorder(ipe), target="sub")])
    req = HttpRequest("GET", f"{api[0].url}/nextlink",
                      headers={"Authorization": f"Bearer {TOKEN}"})
    resp = client.send_request(req)
    assert resp.status_code == 200
    (call,) = ipe.calls
    assert (call.retries, call.status, call.items, call.target) == (1, 200, 10, "sub")


def test_aiohttp_trace_records_each_request_and_retries(api: tuple[Served, Faults]) -> None:
    """A request repeated after a 429 (as the okta SDK does) is one call with one retry."""
    api[1].inject(Fault(429, path_contains="/cursor"))
    ipe = Provenance()

    async def go() -> list[int]:
        tc = trace_config(CallRecorder(ipe), target="org")
        async with aiohttp.ClientSession(trace_configs=[tc]) as s:
            out = []
            for _ in range(2):
                async with s.get(f"{api[0].url}/cursor",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    out.append(r.status)
            return out

    assert asyncio.run(go()) == [429, 200]
    (call,) = ipe.calls
    assert (call.operation, call.retries, call.ok, call.status) == ("GET /cursor", 1, True, 200)


def test_aiohttp_session_retries_per_call_and_records_each_retry(
        api: tuple[Served, Faults]) -> None:
    """The kit's aiohttp session waits out a 429's Retry-After (then an Okta-style
    x-rate-limit-reset) on the page that failed, counts both retries on that call, folds the
    pages, and gives up within the budget with the server's last answer."""
    import time as _time

    api[1].inject(Fault(429, headers={"Retry-After": "2"}, path_contains="/link",
                        query_contains="page=2"))
    api[1].inject(Fault(429, headers={"x-rate-limit-reset": str(int(_time.time()) + 3)},
                        path_contains="/link", query_contains="page=2"))
    ipe = Provenance()
    waits: list[float] = []

    async def nap(s: float) -> None:
        waits.append(s)

    async def go(budget: float) -> list[int]:
        retrier = aio_retrier(RetryPolicy(max_attempts=4, budget_seconds=budget))
        out = []
        async with aio_session(CallRecorder(ipe), retrier, target="org", sleep=nap) as s:
            url: str | None = f"{api[0].url}/link?per_page=10"
            while url:
                async with s.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    out.append(r.status)
                    nxt = r.links.get("next")
                    url = str(nxt["url"]) if nxt and r.status == 200 else None
        return out

    assert asyncio.run(go(60)) == [200, 200, 200]
    (call,) = ipe.calls
    assert (call.operation, call.pages, call.items, call.retries, call.status, call.target) == \
        ("GET /link", 3, 25, 2, 200, "org")
    assert waits[0] == 2 and 0 < waits[1] <= 3 and ipe.retries == 2
    api[1].inject(Fault(429, headers={"Retry-After": "30"}, path_contains="/link", times=None))
    spent = Provenance()
    ipe = spent
    assert asyncio.run(go(10)) == [429]  # 30 s is past the 10 s budget: no wait at all
    (call,) = spent.calls
    assert (call.ok, call.status, call.retries) == (False, 429, 0)
    assert call.error == "HTTP 429: injected by the simulator"  # the body's own message


def test_fan_out_records_an_unreadable_scope_and_goes_on() -> None:
    """One scope raising is named in `unreadable` and on the provenance; others are read."""
    ipe = Provenance()
    fan = FanOut(ipe, logging.getLogger("evidence.test"), workers=4, what="test")

    def read(scope: str) -> int:
        if scope == "b":
            raise PermissionDenied("b denied", hint="grant read")
        return len(scope)

    got = fan.each(read, ["a", "b", "ccc"], lambda s: {"project": s})
    assert got == [("a", 1), ("ccc", 3)]
    assert fan.unreadable() == [{"project": "b", "error": "PermissionDenied",
                                 "detail": "b denied"}]
    assert ipe.errors == ["b: b denied (hint: grant read)"]
    with pytest.raises(TransientError):
        FanOut(Provenance(), logging.getLogger("t"), workers=2).each(
            lambda s: (_ for _ in ()).throw(TransientError("slow")), ["x"],
            lambda s: {"project": s})


class _Cfg(ConnectorConfig):
    url: str = "x"


class _Typed(Connector[_Cfg]):
    name = "typed"

    def check(self) -> Any:
        return self.config.url  # typed: no cast needed


def test_a_connector_is_typed_by_its_config_model() -> None:
    """The generic argument sets config_model, and a wrong config is refused at once."""
    assert _Typed.config_model is _Cfg
    assert _Typed("i", _Cfg()).check() == "x"
    with pytest.raises(ConfigError, match="expected a _Cfg"):
        _Typed("i", ConnectorConfig())  # type: ignore[arg-type]


def test_connectors_and_storage_import_nothing_from_collector() -> None:
    """The bottom layer stays below collector/: no import of it from connectors/ or storage/."""
    bad = []
    for pkg in ("connectors", "storage"):
        for f in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text("utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                bad += [f"{f}: {n}" for n in names if n.split(".")[0] == "collector"]
    assert bad == []



def test_inferred_schemas_hold_our_keys_and_leave_vendor_documents_free() -> None:
    """Our objects keep exactly their keys; a key named as a vendor document accepts any
    object (or null, or a list of them) but still not another kind."""
    import jsonschema

    from connectors.kit.shape import infer_schema

    example = {"users": [{"name": "a", "mfa": True, "policy": {"Statement": []},
                          "tags": [{"Key": "k", "Value": "v"}]}]}
    schema = infer_schema(example, vendor=("policy", "tags"))
    for ok in ({"users": [{"name": "b", "mfa": None, "policy": {"Version": "2012-10-17"},
                           "tags": [{"Key": "k"}, {"anything": 1}]}]},
               {"users": [{"name": "b", "mfa": False, "policy": None, "tags": None}]}):
        jsonschema.validate(ok, schema)
    for bad in ({"users": [{"name": "b", "mfa": True, "tags": []}]},
                {"users": [{"name": "b", "mfa": True, "policy": None, "tags": [], "x": 1}]},
                {"users": [{"name": 3, "mfa": True, "policy": None, "tags": []}]},
                {"users": [{"name": "b", "mfa": True, "policy": "{}", "tags": []}]},
                {"users": [{"name": "b", "mfa": True, "policy": {}, "tags": ["k"]}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    strict = infer_schema(example)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"users": [{"name": "b", "mfa": True, "policy": {"Version": "1"},
                                        "tags": []}]}, strict)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "policy", "Tags"]), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(example=_json, vendor=st.sets(st.sampled_from(["a", "policy", "Tags"])))
def test_every_example_satisfies_the_schema_inferred_from_it(example: Any,
                                                             vendor: set[str]) -> None:
    """Whatever the example and whichever keys are vendor documents, the example fits."""
    import jsonschema

    from connectors.kit.shape import infer_schema

    jsonschema.validate(example, infer_schema(example, vendor))


def test_a_snapshot_declares_vendor_documents_or_a_schema_not_both() -> None:
    """`vendor` shapes inference; given with an explicit schema it is refused at once."""
    from datetime import timedelta

    from connectors.base import snapshot

    with pytest.raises(TypeError, match="vendor"):
        snapshot(controls=["CC6.1"], max_age=timedelta(days=1), permissions=[],
                 schema={"type": "object"}, vendor=["policy"])

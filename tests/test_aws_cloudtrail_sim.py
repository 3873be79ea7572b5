"""The CloudTrail LookupEvents simulator follows AWS's documented JSON 1.1 protocol."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulators.cloudtrail import TARGET_PREFIX, CloudTrailSimulator, iam_event

T0 = datetime(2026, 6, 1, tzinfo=UTC)
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIATESTTESTTEST0000/20260601/us-east-1/cloudtrail/"
        "aws4_request, SignedHeaders=host, Signature=0")


@pytest.fixture
def sim() -> Iterator[CloudTrailSimulator]:
    # the simulator's clock a day after the events: LookupEvents lists the past 90 days
    with CloudTrailSimulator(access_keys={"AKIATESTTESTTEST0000"},
                             clock=lambda: T0 + timedelta(days=1)) as s:
        s.add_events([iam_event("CreateUser", T0 + timedelta(minutes=i), user=f"u{i}")
                      for i in range(7)])
        s.add_events([iam_event("GetUser", T0 + timedelta(minutes=3, seconds=5))])
        yield s


def client(sim: CloudTrailSimulator, key: str = "AKIATESTTESTTEST0000") -> Any:
    return boto3.client("cloudtrail", endpoint_url=sim.url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key="not-a-secret",
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def raw(sim: CloudTrailSimulator, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(sim.url + "/", data=json.dumps(body).encode(), method="POST",
                                 headers={"X-Amz-Target": TARGET_PREFIX + "LookupEvents",
                                          "Content-Type": "application/x-amz-json-1.1",
                                          "Authorization": AUTH})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_pages_newest_first_with_next_token(sim: CloudTrailSimulator) -> None:
    """boto3's paginator walks every page, newest event first, and the pages end."""
    pages = list(client(sim).get_paginator("lookup_events").paginate(
        PaginationConfig={"PageSize": 3}))
    names = [e["EventName"] for p in pages for e in p["Events"]]
    times = [e["EventTime"] for p in pages for e in p["Events"]]
    assert len(pages) == 3 and len(names) == 8 and times == sorted(times, reverse=True)
    assert "NextToken" not in pages[-1]


def test_time_range_and_attribute_filter(sim: CloudTrailSimulator) -> None:
    """StartTime and EndTime are inclusive; a lookup attribute filters by its key."""
    out = client(sim).lookup_events(StartTime=T0 + timedelta(minutes=2),
                                    EndTime=T0 + timedelta(minutes=4),
                                    LookupAttributes=[{"AttributeKey": "EventName",
                                                       "AttributeValue": "CreateUser"}])
    assert sorted(e["Username"] for e in out["Events"]) == ["u2", "u3", "u4"]
    assert json.loads(out["Events"][0]["CloudTrailEvent"])["eventSource"] == "iam.amazonaws.com"


def test_documented_validation_errors(sim: CloudTrailSimulator) -> None:
    """Two attributes, MaxResults over 50 and a reversed range get the documented errors."""
    two = [{"AttributeKey": "EventName", "AttributeValue": "a"},
           {"AttributeKey": "Username", "AttributeValue": "b"}]
    assert raw(sim, {"LookupAttributes": two}) == (
        400, {"__type": "InvalidLookupAttributesException",
              "message": "You can only specify one lookup attribute."})
    assert raw(sim, {"MaxResults": 51})[1]["__type"] == "InvalidMaxResultsException"
    assert raw(sim, {"StartTime": 200, "EndTime": 100})[1]["__type"] == \
        "InvalidTimeRangeException"


def test_next_token_is_bound_to_its_query(sim: CloudTrailSimulator) -> None:
    """A NextToken reused with different parameters is an InvalidNextTokenException."""
    status, first = raw(sim, {"MaxResults": 2})
    assert status == 200 and first["NextToken"]
    status, err = raw(sim, {"MaxResults": 2, "NextToken": first["NextToken"],
                            "LookupAttributes": [{"AttributeKey": "Username",
                                                  "AttributeValue": "u1"}]})
    assert (status, err["__type"]) == (400, "InvalidNextTokenException")


def test_throttling_and_unknown_keys_are_client_errors(sim: CloudTrailSimulator) -> None:
    """ThrottlingException and UnrecognizedClientException arrive as boto3 ClientErrors."""
    sim.throttle_next(1)
    with pytest.raises(ClientError) as e:
        client(sim).lookup_events()
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert client(sim).lookup_events()["Events"]
    with pytest.raises(ClientError) as e:
        client(sim, key="AKIAUNKNOWNUNKNOWN00").lookup_events()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_unsigned_requests_are_refused(sim: CloudTrailSimulator) -> None:
    """A request without SigV4 authorization is refused."""
    req = urllib.request.Request(sim.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": TARGET_PREFIX + "LookupEvents",
        "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert json.loads(e.value.read())["__type"] == "MissingAuthenticationTokenException"

"""The `aws` connector passes the conformance suite: boto3 against moto's server behind the
AWS simulator (simulators/aws_front.py), every fault injected there, over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from collector.conformance import Conformance, FaultKind, Target
from connectors.aws.policy import iam_action
from simulators.cloudtrail import Fault
from tests.test_aws_connector import Aws, _events, base_session

# the collector's clock: this hour, a month after the events (PERIOD_END), so that its first
# window (89 days back) is inside CloudTrail's 90-day event history
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

# REST-protocol operations carry no operation name on the wire: match them by path.
_PATHS = {"s3.GetBucketEncryption": "?encryption", "s3.GetBucketPolicy": "?policy",
          "s3.GetBucketVersioning": "?versioning", "s3.GetBucketLogging": "?logging",
          "s3.GetObjectLockConfiguration": "?object-lock", "s3.GetBucketLocation": "?location",
          "s3.GetPublicAccessBlock": "?publicAccessBlock",
          "s3control.GetPublicAccessBlock": "/configuration/publicAccessBlock",
          "guardduty.ListDetectors": "/detector", "guardduty.GetDetector": "/detector/"}
# The call whose denial must fail each snapshot; the others are recorded per resource
# (a key, a trail, a bucket) and leave the rest of the snapshot standing.
_PRIMARY = {"kms_key_rotation": "kms.ListAliases", "cloudtrail": "cloudtrail.DescribeTrails",
            "s3_buckets": "s3.ListBuckets"}


def permission(operation: str) -> str | None:
    """The IAM action an AWS call needs (STS identity calls need none)."""
    service, op = operation.split(".", 1)
    return None if service == "sts" else iam_action(service, op)


def _match(operation: str) -> dict[str, Any]:
    service, op = operation.split(".", 1)
    if operation == "s3.ListBuckets":
        return {"service": service, "path_is": "/?max-buckets=10000"}
    if operation in _PATHS:
        return {"service": service, "path_contains": _PATHS[operation]}
    return {"service": service, "operation": op}


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    a = Aws()
    _events(a.sim)
    yield a
    a.stop()


class TestAwsConformance(Conformance):
    """Every conformance check on every aws snapshot."""

    @pytest.fixture
    def target(self, aws: Aws) -> Target:
        def inject(kind: FaultKind, snapshot: str, operation: str) -> None:
            match = _match(operation)
            if kind == "denied":
                aws.sim.inject(Fault(code="AccessDenied", status=403, **match))
            elif kind == "throttled":
                aws.sim.inject(Fault(code="ThrottlingException", status=429, times=1,
                                     headers={"Retry-After": "1"}, **match))
            else:  # the second page: its request carries the first page's NextToken
                aws.sim.inject(Fault(code="InternalFailure", status=500,
                                     body_contains="NextToken", **match))

        return Target(
            type="aws", factory=base_session, now=NOW,
            config={"endpoint_url": aws.url, "regions": ["us-east-1"], "max_attempts": 3,
                    "retry_budget_seconds": 30},
            inject=inject, clear=aws.sim.clear_faults, permission=permission,
            primary=_PRIMARY, paged=["iam_change_events"])

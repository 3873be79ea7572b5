"""AWS in front of moto: what moto lacks or answers unlike AWS, answered as AWS documents it.

`AwsFront` is the CloudTrail simulator (LookupEvents, fault injection, forwarding to moto)
plus stand-ins:

- IAM credential reports (GenerateCredentialReport / GetCredentialReport). moto stamps every
  report with a fixed 2015 GeneratedTime and builds it anew on each read. AWS generates a
  report when none exists or the last one is over 4 hours old (answering `STARTED`, then
  `COMPLETE`), keeps its content as of that moment, and expires it after 4 hours
  (`ReportExpired`). Console sign-ins and key use that moto cannot produce (time passing) can
  be set per user with `set_report_fields`.
- AWS Config `DescribeDeliveryChannelStatus` (moto: not implemented): the channels moto
  holds, each delivering successfully unless `set_delivery_failure` says otherwise.
- LookupEvents scoped to the caller's account (each account has its own event history).
- IAM GetAccountAuthorizationDetails in pages (`MaxItems`, default 100, and `Marker`, with
  `IsTruncated`), as IAM pages it: moto answers every entity at once.
- S3 ListBuckets with pagination parameters (`max-buckets`, `continuation-token`, `prefix`,
  `bucket-region`): AWS answers those in pages with each bucket's `BucketRegion`; moto cuts
  the list at `max-buckets` with no token and no region (simulators/s3_listing.py).

    with AwsFront(upstream=moto_url) as front:
        front.set_report_fields("arn:aws:iam::123456789012:user/bob",
                                password_last_used="2026-01-02T03:04:05+00:00")
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from simulators import s3_listing
from simulators.aws_seed import Seeded
from simulators.cloudtrail import (
    JSON_11,
    CloudTrailSimulator,
    Event,
    _error_response,
    _Request,
)

REPORT_LIFETIME = timedelta(hours=4)
_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
CONFIG_TARGET = "StarlingDoveService."


class AwsFront(CloudTrailSimulator):
    """The CloudTrail simulator plus credential reports and Config delivery status."""

    def __init__(self, upstream: str | None = None, *,
                 clock: Callable[[], datetime] | None = None, **kw: Any) -> None:
        super().__init__(upstream, clock=clock, **kw)
        self._front_lock = threading.Lock()
        self._reports: dict[str, tuple[datetime, str]] = {}
        self._report_fields: dict[str, dict[str, str]] = {}
        self._delivery_failures: dict[tuple[str, str], str] = {}
        self._accounts: dict[str, str | None] = {}

    def set_report_fields(self, user_arn: str, **fields: str) -> None:
        """Report these credential-report columns for `user_arn` in reports generated from now."""
        with self._front_lock:
            self._report_fields.setdefault(user_arn, {}).update(fields)

    def set_delivery_failure(self, region: str, channel: str, error_code: str) -> None:
        """Make `channel` in `region` report failed deliveries with `error_code`."""
        with self._front_lock:
            self._delivery_failures[(region, channel)] = error_code

    def apply(self, seeded: Seeded) -> None:
        """Take on what a seed asked for beyond moto: report columns, delivery failures."""
        for arn, fields in seeded.report_fields.items():
            self.set_report_fields(arn, **fields)
        for region, channel, code in seeded.delivery_failures:
            self.set_delivery_failure(region, channel, code)

    def expire_reports(self) -> None:
        """Forget every generated credential report (as if 4 hours had passed)."""
        with self._front_lock:
            self._reports.clear()

    def _visible(self, req: _Request, event: Event) -> bool:
        """LookupEvents answers from the caller's own account's event history."""
        owner = event.record.get("recipientAccountId")
        return owner is None or self.upstream is None or owner == self._account_of(req)

    def _account_of(self, req: _Request) -> str | None:
        key = req.access_key or ""
        with self._front_lock:
            if key in self._accounts:
                return self._accounts[key]
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        headers = {k: v for k, v in req.headers.items()
                   if k.lower() in ("authorization", "x-amz-security-token", "x-amz-date")}
        # moto picks the service from the credential scope: sign the question as STS
        for k, v in list(headers.items()):
            if k.lower() == "authorization":
                headers[k] = re.sub(r"/[^/]+/aws4_request", "/sts/aws4_request", v, count=1)
        headers.update({"Content-Type": "application/x-www-form-urlencoded",
                        "Content-Length": str(len(body))})
        status, _h, data = self._forward("POST", "/", headers, body)
        m = re.search(rb"<Account>(\d+)</Account>", data) if status < 300 else None
        account = m.group(1).decode() if m else None
        with self._front_lock:
            self._accounts[key] = account
        return account

    def _answer(self, req: _Request) -> tuple[int, dict[str, str], bytes] | None:
        if req.service == "iam" and req.operation == "GenerateCredentialReport":
            return self._generate(req)
        if req.service == "iam" and req.operation == "GetCredentialReport":
            return self._get_report(req)
        if req.service == "iam" and req.operation == "GetAccountAuthorizationDetails":
            return self._authorization_details(req)
        if req.service == "s3" and req.method == "GET" and req.path.startswith("/?"):
            query = {k: v[0] for k, v in urllib.parse.parse_qs(
                req.path[2:], keep_blank_values=True).items()}
            if s3_listing.paginated(query):
                return self._list_buckets(req, query)
        target = next((v for k, v in req.headers.items() if k.lower() == "x-amz-target"), "")
        if target == CONFIG_TARGET + "DescribeDeliveryChannelStatus":
            return self._delivery_status(req)
        return None

    # --- IAM credential report ---------------------------------------------------------------

    def _generate(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        key = req.access_key or ""
        now = self.clock()
        with self._front_lock:
            current = self._reports.get(key)
        if current is not None and now - current[0] < REPORT_LIFETIME:
            return _iam_ok("GenerateCredentialReport", "<State>COMPLETE</State>")
        status, _h, _b = self._forward(req.method, req.path, req.headers, req.body)
        if status >= 300:
            return status, _h, _b
        body = b"Action=GetCredentialReport&Version=2010-05-08"
        headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(len(body))
        status, h, data = self._forward("POST", req.path, headers, body)
        if status >= 300:
            return status, h, data
        m = re.search(rb"<Content>([^<]*)</Content>", data)
        text = base64.b64decode(m.group(1)).decode() if m else ""
        with self._front_lock:
            self._reports[key] = (now, self._override(text))
        return _iam_ok("GenerateCredentialReport",
                       "<State>STARTED</State><Description>No report exists. Starting a new "
                       "report generation task</Description>")

    def _override(self, text: str) -> str:
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            return text
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            r.update({k: v for k, v in self._report_fields.get(r.get("arn", ""), {}).items()
                      if k in r})
            w.writerow(r)
        return out.getvalue()

    def _get_report(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        with self._front_lock:
            current = self._reports.get(req.access_key or "")
        if current is None:
            return _error_response(req, 410, "ReportNotPresent",
                                   "Credential report not present. Use GenerateCredentialReport.")
        generated, text = current
        if self.clock() - generated >= REPORT_LIFETIME:
            return _error_response(req, 410, "ReportExpired",
                                   "The credential report has expired. Use "
                                   "GenerateCredentialReport to generate a new one.")
        content = base64.b64encode(text.encode()).decode()
        when = generated.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _iam_ok("GetCredentialReport", f"<Content>{content}</Content><ReportFormat>"
                       f"text/csv</ReportFormat><GeneratedTime>{when}</GeneratedTime>")

    # --- IAM GetAccountAuthorizationDetails, paged ---------------------------------------------

    def _authorization_details(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        """moto's whole answer cut into pages of MaxItems entities (users, then groups, roles
        and policies), with IsTruncated and a Marker while more remain (IAM API Reference,
        GetAccountAuthorizationDetails: MaxItems 1-1000, default 100)."""
        form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
        try:
            size = int(form.get("MaxItems", ["100"])[0])
            start = int(base64.b64decode(form["Marker"][0]).decode().removeprefix("at:")) \
                if "Marker" in form else 0
        except (ValueError, UnicodeDecodeError):
            return _error_response(req, 400, "ValidationError", "Invalid MaxItems or Marker")
        if not 1 <= size <= 1000:
            return _error_response(req, 400, "ValidationError",
                                   "MaxItems must be between 1 and 1000")
        status, h, data = self._forward(req.method, req.path, req.headers, req.body)
        if status >= 300:
            return status, h, data
        ElementTree.register_namespace("", _IAM_NS)
        root = ElementTree.fromstring(data)
        result = root.find(f"{{{_IAM_NS}}}GetAccountAuthorizationDetailsResult")
        if result is None:
            return status, h, data
        lists = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
        entities = []
        for name in lists:
            holder = result.find(f"{{{_IAM_NS}}}{name}")
            if holder is not None:
                entities += [(name, m) for m in list(holder)]
                holder.clear()
        page = entities[start:start + size]
        for name, member in page:
            holder = result.find(f"{{{_IAM_NS}}}{name}")
            assert holder is not None
            holder.append(member)
        more = start + size < len(entities)
        for tag in ("IsTruncated", "Marker"):
            for old in result.findall(f"{{{_IAM_NS}}}{tag}"):
                result.remove(old)
        ElementTree.SubElement(result, f"{{{_IAM_NS}}}IsTruncated").text = \
            "true" if more else "false"
        if more:
            ElementTree.SubElement(result, f"{{{_IAM_NS}}}Marker").text = \
                base64.b64encode(f"at:{start + size}".encode()).decode()
        return 200, {"Content-Type": "text/xml", "x-amzn-RequestId": str(uuid.uuid4())}, \
            ElementTree.tostring(root)

    # --- S3 ListBuckets, paginated --------------------------------------------------------------

    def _list_buckets(self, req: _Request,
                      query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """moto's whole list, each bucket's region from moto's GetBucketLocation, paged as
        AWS pages a ListBuckets request that carries pagination parameters."""
        status, h, data = self._forward("GET", "/", req.headers, b"")
        if status >= 300:
            return status, h, data
        root = ElementTree.fromstring(data)
        listed = []
        for b in root.iter():
            if b.tag.rsplit("}", 1)[-1] != "Bucket":
                continue
            fields = {c.tag.rsplit("}", 1)[-1]: c.text or "" for c in b}
            name = fields["Name"]
            st, _h, loc = self._forward("GET", f"/{urllib.parse.quote(name)}?location",
                                        req.headers, b"")
            if st >= 300:
                continue  # deleted since moto listed it
            m = re.search(rb"<LocationConstraint[^>]*>([^<]*)<", loc)
            region = m.group(1).decode() if m else ""
            listed.append(s3_listing.Listed(name, fields.get("CreationDate", ""),
                                            {"": "us-east-1", "EU": "eu-west-1"}.get(region,
                                                                                    region)))
        return s3_listing.page(listed, query)

    # --- AWS Config delivery channel status -----------------------------------------------

    def _delivery_status(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        try:
            q = json.loads(req.body or b"{}")
        except ValueError:
            return _error_response(req, 400, "SerializationException", "Malformed JSON body")
        body = json.dumps({"DeliveryChannelNames": q["DeliveryChannelNames"]}
                          if q.get("DeliveryChannelNames") else {}).encode()
        headers = {k: v for k, v in req.headers.items()
                   if k.lower() not in ("content-length", "x-amz-target")}
        headers["X-Amz-Target"] = CONFIG_TARGET + "DescribeDeliveryChannels"
        headers["Content-Length"] = str(len(body))
        status, h, data = self._forward("POST", req.path, headers, body)
        if status >= 300:
            return status, h, data
        now = self.clock().timestamp()
        out = []
        for ch in json.loads(data).get("DeliveryChannels", []):
            with self._front_lock:
                err = self._delivery_failures.get((req.region or "", ch["name"]))
            info: dict[str, Any] = {"lastStatus": "Success", "lastAttemptTime": now,
                                    "lastSuccessfulTime": now}
            if err is not None:
                info = {"lastStatus": "Failure", "lastErrorCode": err,
                        "lastErrorMessage": f"delivery failed: {err}", "lastAttemptTime": now}
            out.append({"name": ch["name"], "configSnapshotDeliveryInfo": dict(info),
                        "configHistoryDeliveryInfo": dict(info),
                        "configStreamDeliveryInfo": {"lastStatus": "NOT_APPLICABLE",
                                                     "lastStatusChangeTime": now}})
        return 200, {"Content-Type": JSON_11, "x-amzn-RequestId": str(uuid.uuid4())}, \
            json.dumps({"DeliveryChannelsStatus": out}).encode()


def _iam_ok(operation: str, result: str) -> tuple[int, dict[str, str], bytes]:
    rid = str(uuid.uuid4())
    xml = (f'<{operation}Response xmlns="{_IAM_NS}"><{operation}Result>{result}'
           f"</{operation}Result><ResponseMetadata><RequestId>{rid}</RequestId>"
           f"</ResponseMetadata></{operation}Response>")
    return 200, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, xml.encode()

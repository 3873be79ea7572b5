"""A local CloudTrail `LookupEvents` endpoint (AWS JSON 1.1 protocol) in front of moto.

moto does not implement LookupEvents, so this server answers it itself, following AWS's
documentation: `POST /` with `X-Amz-Target:
com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`, a SigV4 `Authorization`
header, StartTime/EndTime (inclusive), at most one LookupAttribute, MaxResults 1-50,
newest events first, an opaque NextToken bound to the query, and the documented error bodies
(`{"__type": ..., "message": ...}`) including ThrottlingException. Every other request is
forwarded unchanged to `upstream` (a moto server), so one endpoint serves a whole account.

For tests it can also inject faults into any request (AccessDenied in one region, throttling,
5xx), answering in the wire format of the service that was called. It keeps its own `clock`
(default: this machine's): every answer, forwarded ones included, carries that time in its
`Date` header, and LookupEvents lists no event later than it, as AWS can list only what has
happened, nor any older than 90 days (CloudTrail User Guide, "Working with CloudTrail event
history": event history covers the past 90 days).

    with CloudTrailSimulator(upstream=moto_url) as sim:
        sim.add_events([iam_event("CreateUser", when, user="alice")])
        AwsConfig(endpoint_url=sim.url, ...)
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from simulators.serving import QuietHandler, ServedSimulator, http_server

EVENT_HISTORY = timedelta(days=90)  # what LookupEvents can still list
TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
JSON_11 = "application/x-amz-json-1.1"
ATTRIBUTE_KEYS = {"EventId": "EventId", "EventName": "EventName", "ReadOnly": "ReadOnly",
                  "Username": "Username", "EventSource": "EventSource",
                  "AccessKeyId": "AccessKeyId"}
_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Event:
    """One CloudTrail management event as LookupEvents returns it."""

    event_id: str
    event_name: str
    event_time: datetime
    event_source: str = "iam.amazonaws.com"
    username: str | None = None
    region: str = "us-east-1"
    read_only: bool = False
    access_key_id: str | None = None
    resources: tuple[tuple[str, str], ...] = ()
    record: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EventId": self.event_id, "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "EventTime": self.event_time.timestamp(), "EventSource": self.event_source,
            "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in self.resources],
            "CloudTrailEvent": json.dumps(self.record, separators=(",", ":")),
        }
        if self.username is not None:
            out["Username"] = self.username
        if self.access_key_id is not None:
            out["AccessKeyId"] = self.access_key_id
        return out

    def attribute(self, key: str) -> str | None:
        return {"EventId": self.event_id, "EventName": self.event_name,
                "ReadOnly": "true" if self.read_only else "false", "Username": self.username,
                "EventSource": self.event_source, "AccessKeyId": self.access_key_id}.get(key)


def iam_event(name: str, when: datetime, *, user: str = "alice",
              account: str = "123456789012", root: bool = False,
              request_parameters: dict[str, Any] | None = None,
              resources: Iterable[tuple[str, str]] = (), error_code: str | None = None,
              event_id: str | None = None) -> Event:
    """A realistic IAM management event (as CloudTrail records it in us-east-1)."""
    eid = event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{when.isoformat()}/{user}"))
    ident: dict[str, Any] = (
        {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
         "accountId": account}
        if root else
        {"type": "IAMUser", "principalId": "AIDA" + hashlib.sha1(user.encode()).hexdigest()[:17]
         .upper(), "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
         "userName": user})
    record: dict[str, Any] = {
        "eventVersion": "1.09", "userIdentity": ident,
        "eventTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.0",
        "requestParameters": request_parameters, "responseElements": None,
        "requestID": str(uuid.uuid5(uuid.NAMESPACE_OID, eid)), "eventID": eid,
        "readOnly": name.startswith(("Get", "List")), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": account,
        "eventCategory": "Management"}
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = f"{error_code} for {name}"
    return Event(eid, name, when.astimezone(UTC), username="root" if root else user,
                 read_only=bool(record["readOnly"]), resources=tuple(resources), record=record)


@dataclass
class Fault:
    """Answer matching requests with an error instead of forwarding them."""

    code: str = "AccessDenied"
    status: int = 403
    service: str | None = None
    region: str | None = None
    operation: str | None = None
    path_contains: str | None = None
    path_is: str | None = None  # the whole path and query ("/" is S3's ListBuckets)
    body_contains: str | None = None
    times: int | None = None
    message: str = "injected by the simulator"
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, req: _Request) -> bool:
        return ((self.service is None or self.service == req.service)
                and (self.region is None or self.region == req.region)
                and (self.operation is None or self.operation == req.operation)
                and (self.path_contains is None or self.path_contains in req.path)
                and (self.path_is is None or self.path_is == req.path)
                and (self.body_contains is None
                     or self.body_contains.encode() in req.body))


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    access_key: str | None
    region: str | None
    service: str | None
    operation: str | None


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CloudTrailSimulator(ServedSimulator):
    """LookupEvents over HTTP on 127.0.0.1, everything else forwarded to `upstream`."""

    thread_name = "cloudtrail-simulator"

    def __init__(self, upstream: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 access_keys: Iterable[str] | None = None,
                 rate_limit_per_second: float | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.upstream = upstream.rstrip("/") if upstream else None
        self.access_keys = set(access_keys) if access_keys is not None else None
        self.rate_limit = rate_limit_per_second
        self._events: list[Event] = []
        self._faults: list[Fault] = []
        self._throttle_next = 0
        self._lock = threading.Lock()
        self._last_call = 0.0
        self.log: list[tuple[str | None, str | None, str | None, int]] = []
        self._bind(http_server(host, port, self._handler()))

    def add_events(self, events: Iterable[Event]) -> None:
        """Make `events` visible to LookupEvents."""
        with self._lock:
            self._events.extend(events)

    def clear(self) -> None:
        """Forget events, faults, throttling and the request log."""
        with self._lock:
            self._events.clear()
            self._faults.clear()
            self._throttle_next = 0
            self.log.clear()

    def clear_faults(self) -> None:
        """Remove injected faults and throttling; events stay."""
        with self._lock:
            self._faults.clear()
            self._throttle_next = 0

    def throttle_next(self, n: int) -> None:
        """Answer the next `n` LookupEvents requests with ThrottlingException."""
        with self._lock:
            self._throttle_next += n

    def inject(self, fault: Fault) -> Fault:
        """Answer requests matching `fault` with its error (until `times` runs out)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    # --- HTTP ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(QuietHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                return format_datetime(sim.clock().astimezone(UTC), usegmt=True)

            def _serve(self) -> None:
                body = self.read_body()
                status, headers, out = sim._dispatch(self.command, self.path,
                                                     dict(self.headers.items()), body)
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() != "date":  # one clock: the simulator's (send_response's)
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler

    def _parse(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Request:
        h = {k.lower(): v for k, v in headers.items()}
        m = _SCOPE.search(h.get("authorization", ""))
        target = h.get("x-amz-target")
        op: str | None = target.rsplit(".", 1)[-1] if target else None
        if op is None and "x-www-form-urlencoded" in h.get("content-type", ""):
            op = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
        return _Request(method, path, headers, body, m.group(1) if m else None,
                        m.group(2) if m else None, m.group(3) if m else None, op)

    def _dispatch(self, method: str, path: str, headers: dict[str, str],
                  body: bytes) -> tuple[int, dict[str, str], bytes]:
        req = self._parse(method, path, headers, body)
        fault = self._fault_for(req)
        if fault is not None:
            status, hdrs, body = _error_response(req, fault.status, fault.code, fault.message)
            out = status, {**hdrs, **fault.headers}, body
        elif _target(headers) == TARGET_PREFIX + "LookupEvents":
            out = self._lookup(req)
        elif (own := self._answer(req)) is not None:
            out = own
        elif self.upstream is not None:
            out = self._forward(method, path, headers, body)
        else:
            out = _error_response(req, 400, "UnknownOperationException",
                                  f"{req.operation} is not supported by this simulator")
        with self._lock:
            self.log.append((req.service, req.region, req.operation, out[0]))
        return out

    def _visible(self, req: _Request, event: Event) -> bool:
        """Whether the caller may see `event` (a subclass may scope events to its account)."""
        return True

    def _answer(self, req: _Request) -> tuple[int, dict[str, str], bytes] | None:
        """A subclass's own answer to a request it stands in for (None: forward it)."""
        return None

    def _fault_for(self, req: _Request) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(req) and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _forward(self, method: str, path: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.upstream is not None
        u = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=60)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection",)}
            conn.request(method, path, body=body or None, headers=fwd)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders()
                   if k.lower() not in ("content-length", "connection", "transfer-encoding")}
            return resp.status, out, data
        finally:
            conn.close()

    # --- LookupEvents ----------------------------------------------------------------------

    def _lookup(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        try:
            self._authenticate(req)
            self._admit()
            result = self._lookup_events(req)
        except _ApiError as e:
            return _error_response(req, e.status, e.code, e.message)
        return 200, _json_headers(), json.dumps(result).encode()

    def _authenticate(self, req: _Request) -> None:
        if req.access_key is None:
            raise _ApiError(400, "MissingAuthenticationTokenException",
                            "Missing Authentication Token")
        if self.access_keys is not None and req.access_key not in self.access_keys:
            raise _ApiError(400, "UnrecognizedClientException",
                            "The security token included in the request is invalid.")

    def _admit(self) -> None:
        with self._lock:
            if self._throttle_next > 0:
                self._throttle_next -= 1
                raise _ApiError(400, "ThrottlingException", "Rate exceeded")
            if self.rate_limit:
                now = time.monotonic()
                if now - self._last_call < 1.0 / self.rate_limit:
                    raise _ApiError(400, "ThrottlingException", "Rate exceeded")
                self._last_call = now

    def _lookup_events(self, req: _Request) -> dict[str, Any]:
        try:
            q = json.loads(req.body or b"{}")
        except ValueError:
            raise _ApiError(400, "SerializationException", "Malformed JSON body") from None
        if not isinstance(q, dict):
            raise _ApiError(400, "SerializationException", "Expected a JSON object")
        attrs = q.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise _ApiError(400, "InvalidLookupAttributesException",
                            "You can only specify one lookup attribute.")
        for a in attrs:
            if a.get("AttributeKey") not in (*ATTRIBUTE_KEYS, "ResourceType", "ResourceName"):
                raise _ApiError(400, "InvalidLookupAttributesException",
                                f"Invalid attribute key: {a.get('AttributeKey')}")
            if not a.get("AttributeValue"):
                raise _ApiError(400, "InvalidLookupAttributesException",
                                "AttributeValue must not be empty.")
        if q.get("EventCategory") not in (None, "insight"):
            raise _ApiError(400, "InvalidEventCategoryException", "Invalid EventCategory.")
        limit = q.get("MaxResults", 50)
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise _ApiError(400, "InvalidMaxResultsException",
                            "MaxResults must be between 1 and 50.")
        start = _time(q.get("StartTime"))
        end = _time(q.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise _ApiError(400, "InvalidTimeRangeException",
                            "Start time must be before end time.")
        query_hash = hashlib.sha256(json.dumps(
            {k: q.get(k) for k in ("LookupAttributes", "StartTime", "EndTime", "EventCategory")},
            sort_keys=True, default=str).encode()).hexdigest()[:16]
        after: tuple[float, str] | None = None
        if q.get("NextToken"):
            after = _read_token(str(q["NextToken"]), query_hash)
        now = self.clock()
        with self._lock:
            events = [e for e in self._events if e.region == (req.region or "us-east-1")
                      and now - EVENT_HISTORY <= e.event_time <= now]
        events = [e for e in events if self._visible(req, e)]
        matched = []
        for e in events:
            t = e.event_time.timestamp()
            if (start is not None and t < start) or (end is not None and t > end):
                continue
            if any(_attr_match(e, a) for a in attrs) or not attrs:
                matched.append(e)
        # Newest first; (time, id) order makes the cursor stable while new events arrive.
        matched.sort(key=lambda e: (-e.event_time.timestamp(), e.event_id))
        if after is not None:
            matched = [e for e in matched
                       if (-e.event_time.timestamp(), e.event_id) > (-after[0], after[1])]
        page = matched[:limit]
        out: dict[str, Any] = {"Events": [e.to_wire() for e in page]}
        if len(matched) > limit:
            last = page[-1]
            out["NextToken"] = _make_token(last.event_time.timestamp(), last.event_id,
                                           query_hash)
        return out


def _target(headers: dict[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")


def _attr_match(e: Event, a: dict[str, Any]) -> bool:
    key, value = a.get("AttributeKey"), a.get("AttributeValue")
    if key == "ResourceType":
        return any(t == value for t, _ in e.resources)
    if key == "ResourceName":
        return any(n == value for _, n in e.resources)
    return e.attribute(str(key)) == value


def _time(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        raise _ApiError(400, "SerializationException", f"Invalid timestamp: {v}") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def _make_token(t: float, eid: str, query_hash: str) -> str:
    raw = json.dumps({"t": t, "id": eid, "q": query_hash}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str, query_hash: str) -> tuple[float, str]:
    try:
        d = json.loads(base64.urlsafe_b64decode(token.encode()))
        if d["q"] != query_hash:
            raise ValueError("query changed")
        return float(d["t"]), str(d["id"])
    except (ValueError, KeyError, TypeError):
        raise _ApiError(400, "InvalidNextTokenException",
                        "A token that is not valid, or a token that was previously used in a "
                        "request with different parameters.") from None


def _json_headers() -> dict[str, str]:
    return {"Content-Type": JSON_11, "x-amzn-RequestId": str(uuid.uuid4())}


def _error_response(req: _Request, status: int, code: str,
                    message: str) -> tuple[int, dict[str, str], bytes]:
    """An error in the wire format of the service that was called."""
    rid = str(uuid.uuid4())
    if any(k.lower() == "x-amz-target" for k in req.headers):
        return status, _json_headers(), json.dumps({"__type": code, "message": message}).encode()
    if req.service in ("guardduty",):
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code,
                        "x-amzn-RequestId": rid}, json.dumps({"message": message}).encode()
    xml = {"Content-Type": "text/xml", "x-amzn-RequestId": rid}
    if req.service == "ec2":
        return status, xml, (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}"
                             f"</Message></Error></Errors><RequestID>{rid}</RequestID>"
                             "</Response>").encode()
    if req.service == "s3":
        return status, xml, (f"<Error><Code>{code}</Code><Message>{message}</Message>"
                             f"<RequestId>{rid}</RequestId></Error>").encode()
    kind = "Receiver" if status >= 500 else "Sender"
    return status, xml, (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
                         f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId>"
                         "</ErrorResponse>").encode()

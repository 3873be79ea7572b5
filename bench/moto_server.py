"""moto's server for benchmarks: optional latency per request, and a true report time.

    python bench/moto_server.py --port 5000 [--latency-ms 30] [--plain-dispatch]
    GET /_bench/?latency_ms=30       set the latency; answers the request counts so far
    GET /_bench/?reset               answer the counts and start counting again
Each answer gives the requests by service and operation (`requests`) and the CPU time the
server's handling threads spent on them (`cpu_ms`, per operation).

Both tools under test talk to this process directly (no proxy in the timed path). What
differs from `python -m moto.server`, all documented in bench/README.md:
- `--latency-ms N` (or `/_bench/?latency_ms=N`) sleeps N ms before answering each request,
  inside the server, standing in for the network distance to real AWS (never 0 ms away);
- it counts requests by service and operation itself (no counting proxy in the timed path);
- the IAM credential report's GeneratedTime is the moment the report was first generated in
  this process, not moto's fixed 2015 time (our collector rightly refuses to judge ages from
  a report older than IAM's 4-hour regeneration window; the tests and the demo get a true
  report from simulators/aws_front.py, which would be a proxy here);
- S3 ListBuckets with any of `max-buckets`, `continuation-token`, `prefix`, `bucket-region`
  is answered as AWS documents a paginated request (simulators/s3_listing.py): pages of at
  most `max-buckets` (1-10,000) with a `ContinuationToken` while more remain, and each
  bucket's `BucketRegion`. moto 5.2.5 cuts the list at `max-buckets` with no token and gives
  no region. A request without those parameters (Prowler's) is moto's own answer, unchanged.
  The patch is in the server, so it applies to every client of it alike;
- unless `--plain-dispatch`, moto's dispatcher finds the backend for a host once, not on
  every request by listing its own package folder, and werkzeug logs no line per request:
  per-request costs of moto's server that real AWS does not have, paid alike by both tools.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def _true_report_time() -> None:
    from moto.iam import responses

    generated: dict[str, str] = {}
    gen = responses.IamResponse.generate_credential_report
    get = responses.IamResponse.get_credential_report

    def generate(self: Any) -> Any:
        generated.setdefault(self.current_account,
                             datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return gen(self)

    def read(self: Any) -> Any:
        out = get(self)
        when = generated.get(self.current_account)
        if when is not None:
            out.result["GeneratedTime"] = when  # type: ignore[attr-defined]
        return out

    responses.IamResponse.generate_credential_report = generate  # type: ignore[method-assign]
    responses.IamResponse.get_credential_report = read  # type: ignore[method-assign]


def _paginated_list_buckets() -> None:
    from moto.s3 import responses

    from simulators import s3_listing

    plain = responses.S3Response.all_buckets

    def all_buckets(self: Any) -> Any:
        query = {k: v[0] for k, v in self.querystring.items() if v}
        if not s3_listing.paginated(query):
            return plain(self)
        self.data["Action"] = "ListAllMyBuckets"
        self._authenticate_and_authorize_s3_action()
        self.data["Action"] = "ListBuckets"
        listed = [s3_listing.Listed(b.name, b.creation_date_ISO8601, b.region_name)
                  for b in self.backend.list_buckets(prefix=None, bucket_region=None,
                                                     max_buckets=None)]
        return s3_listing.page(listed, query)

    responses.S3Response.all_buckets = all_buckets  # type: ignore[method-assign]


class Bench:
    """WSGI middleware: a settable latency, and a count of requests by service and operation
    (kept inside the server, so no proxy sits in the timed path)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.latency = 0.0
        self.counts: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_bench/"):
            return self._control(environ, start_response)
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            key = _operation(environ)
            self.counts[key] = self.counts.get(key, 0) + 1
        t0 = time.thread_time()
        body = list(self.app(environ, start_response))
        spent = time.thread_time() - t0
        with self.lock:
            self.cpu[key] = self.cpu.get(key, 0.0) + spent
        return body

    def _control(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        q = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        with self.lock:
            if "latency_ms" in q:
                self.latency = float(q["latency_ms"][0]) / 1000
            body = json.dumps({"latency_ms": self.latency * 1000,
                               "requests": dict(self.counts),
                               "cpu_ms": {k: round(v * 1000) for k, v in self.cpu.items()}
                               }).encode()
            if "reset" in q:
                self.counts.clear()
                self.cpu.clear()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


def _operation(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/", auth)
    service = m.group(1) if m else "?"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}.{target.rsplit('.', 1)[-1]}"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n) if n else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}.{action}"
    query = environ.get("QUERY_STRING", "").split("&")[0].split("=")[0]
    path = environ.get("PATH_INFO", "")
    if not query and path.startswith("/v20180820/"):  # S3 Control (signed as "s3")
        query = "s3control " + path.removeprefix("/v20180820/")
    return f"{service}.{environ.get('REQUEST_METHOD')} {query or '/'}"


def _lean_dispatch() -> None:
    """Take two costs off every request that are moto's server's, not AWS's, and that both
    tools paid alike: moto's dispatcher looked up the backend for each request's host by
    listing its own package folder (a `listdir` and an `isdir` per entry, ~250 system calls)
    and then matching the host against every backend's URL patterns, all under one lock;
    and werkzeug formatted a log line per request (to a discarded stderr here). The backend
    for a host never changes in a running server, so it is looked up once per host."""
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lookup = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in found:
            found[host] = lookup(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--plain-dispatch", action="store_true",
                    help="keep moto's per-request backend lookup and request log")
    args = ap.parse_args()
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    _true_report_time()
    _paginated_list_buckets()
    if not args.plain_dispatch:
        _lean_dispatch()
    app = Bench(DomainDispatcherApplication(create_backend_app))
    app.latency = args.latency_ms / 1000
    run_simple("127.0.0.1", args.port, app, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fault injection for every simulator: a WSGI middleware that answers chosen requests with
an error (401/403, 429 with Retry-After, 5xx) before the simulator sees them, plus a small
threaded HTTP server to run any WSGI simulator on 127.0.0.1.

Faults are set from the test in-process (`faults.inject(Fault(...))`) or over HTTP, so a
simulator in another process can be driven too:

    POST   /_faults   {"status": 429, "headers": {"Retry-After": "1"}, "path_contains": "/users"}
    DELETE /_faults   clears every fault

`skip` lets the first matching requests through, so "a 500 on the second page" is
`Fault(status=500, query_contains="page=2")` or `Fault(status=500, skip=1, times=None)`.
The error body is the platform's own, from the `error_body` the simulator passes in.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from simulators.serving import ServedSimulator

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
ErrorBody = Callable[[int, str], tuple[str, bytes]]

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def json_error(status: int, message: str) -> tuple[str, bytes]:
    """A generic JSON error body: {"message": ...}."""
    return "application/json", json.dumps({"message": message}).encode()


@dataclass
class Fault:
    """Answer matching requests with `status` (and `headers`) instead of serving them."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected by the simulator"
    method: str | None = None
    path_contains: str | None = None
    query_contains: str | None = None
    times: int | None = 1
    skip: int = 0

    def matches(self, method: str, path: str, query: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in path)
                and (self.query_contains is None or self.query_contains in query))


class Faults:
    """WSGI middleware in front of a simulator: injected faults first, then the app."""

    def __init__(self, app: WsgiApp, *, error_body: ErrorBody = json_error) -> None:
        self.app = app
        self.error_body = error_body
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.served: list[tuple[str, str, int]] = []

    def inject(self, fault: Fault) -> Fault:
        """Add `fault` (it applies until its `times` run out)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault and forget the request log."""
        with self._lock:
            self._faults.clear()
            self.served.clear()

    def _take(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if not f.matches(method, path, query) or f.times == 0:
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.times is not None:
                    f.times -= 1
                return f
        return None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if path == "/_faults":
            return self._control(method, environ, start_response)
        fault = self._take(method, path, query)
        if fault is None:
            status_seen: list[int] = []

            def spy(status: str, headers: list[tuple[str, str]], *a: Any) -> Any:
                status_seen.append(int(status.split()[0]))
                return start_response(status, headers, *a)
            out = self.app(environ, spy)
            with self._lock:
                self.served.append((method, path, status_seen[0] if status_seen else 0))
            return out
        ctype, body = self.error_body(fault.status, fault.message)
        start_response(f"{fault.status} {_REASONS.get(fault.status, 'Error')}",
                       [("Content-Type", ctype), ("Content-Length", str(len(body))),
                        *fault.headers.items()])
        with self._lock:
            self.served.append((method, path, fault.status))
        return [body]

    def _control(self, method: str, environ: Environ,
                 start_response: StartResponse) -> Iterable[bytes]:
        if method == "DELETE":
            self.clear()
        elif method == "POST":
            n = int(environ.get("CONTENT_LENGTH") or 0)
            raw = json.loads(environ["wsgi.input"].read(n) or b"{}")
            self.inject(Fault(**raw))
        else:
            start_response("405 Method Not Allowed", [("Content-Length", "0")])
            return [b""]
        body = json.dumps([asdict(f) for f in self._faults]).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class Served(ServedSimulator):
    """A WSGI app served on 127.0.0.1 on its own thread (a context manager)."""

    def __init__(self, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._bind(make_server(host, port, app, server_class=_ThreadingServer,
                               handler_class=_QuietHandler))


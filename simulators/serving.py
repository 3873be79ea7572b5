"""What every simulator shares: a server on its own daemon thread, its URL, start and stop,
and use as a context manager. A simulator binds its server in `__init__` (or in `start`, as
the TLS one does) with `_bind`, and inherits the rest."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


def http_server(host: str, port: int, handler: type[BaseHTTPRequestHandler]
                ) -> ThreadingHTTPServer:
    """A threading HTTP server whose request threads never keep the process alive."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


class ServedSimulator:
    """A server (anything with `server_address`, `serve_forever`, `shutdown` and
    `server_close`) served on a daemon thread named `thread_name`."""

    thread_name: ClassVar[str] = "simulator"
    _server: Any = None
    _thread: threading.Thread | None = None

    def _bind(self, server: Any) -> None:
        self._server = server
        self._thread = None

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.origin

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=self.thread_name)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:  # shutdown() waits for a loop that never started
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """The request handler every simulator starts from: HTTP/1.1 keep-alive, no delayed-ACK
    stalls (TCP_NODELAY), no access lines on stderr, and the request body read whole."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

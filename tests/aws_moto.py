"""moto's server for the AWS tests: started on a free port, from an empty state."""

from __future__ import annotations

import urllib.request
from typing import Any


def fresh_moto() -> tuple[Any, str]:
    """A started ThreadedMotoServer and its URL. moto's state is per process, not per server,
    so it is reset: each test module starts from an empty account."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"),
                           timeout=10).close()
    return server, url

"""Loaded by Prowler's Python (PYTHONPATH) in bench/aws_vs_prowler.py: name resolution only.

botocore sends S3 Control requests to `<ACCOUNT_ID>.<endpoint host>`; with the endpoint at
127.0.0.1 that name does not resolve, and Prowler spent ~10 s a run retrying it. Our
collector strips the prefix with a botocore hook; this gives Prowler the same reach by
resolving `*.127.0.0.1` to 127.0.0.1 (as a wildcard DNS entry would). Nothing else changes.
"""

import socket

_getaddrinfo = socket.getaddrinfo


def _resolve(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if isinstance(host, str) and host.endswith(".127.0.0.1"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _resolve

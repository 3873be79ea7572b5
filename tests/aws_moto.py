"""moto's server for the AWS tests: started on a free port, from an empty state; and a
session in an account of a test's own."""

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


def account_session(moto_url: str, account: str) -> Any:
    """A boto3 session inside `account` (a role assumed there through moto's STS): each test
    module seeding its own account leaves the others' seeds untouched."""
    import boto3

    base = boto3.Session(aws_access_key_id="AKIATESTTESTTEST0000",
                         aws_secret_access_key="test-secret-not-real", region_name="us-east-1")
    cr = base.client("sts", endpoint_url=moto_url).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=cr["AccessKeyId"],
                         aws_secret_access_key=cr["SecretAccessKey"],
                         aws_session_token=cr["SessionToken"], region_name="us-east-1")

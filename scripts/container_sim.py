"""Helpers that scripts/container-test runs inside the demo image (host network).

    python container_sim.py serve BUCKET      start the AWS simulators (moto + CloudTrail),
                                              make BUCKET with Object Lock, print the URLs
                                              as one JSON line, run until SIGTERM
    python container_sim.py db create|drop ADMIN_URL NAME
                                              create or drop a throwaway PostgreSQL database
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import ExitStack


def serve(bucket: str) -> int:
    import boto3

    from collector.demo import start_simulators

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ExitStack() as stack:
        urls = start_simulators(stack)
        boto3.client("s3", endpoint_url=urls["moto"], region_name="us-east-1").create_bucket(
            Bucket=bucket, ObjectLockEnabledForBucket=True)
        print(json.dumps(urls), flush=True)
        stop.wait()
    return 0


def db(action: str, admin_url: str, name: str) -> int:
    import sqlalchemy as sa

    if not name.isidentifier():
        raise SystemExit(f"bad database name {name!r}")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        if action == "create":
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        else:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "serve":
        return serve(argv[1])
    if len(argv) == 4 and argv[0] == "db" and argv[1] in ("create", "drop"):
        return db(argv[1], argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

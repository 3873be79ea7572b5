"""S3 ListBuckets as AWS documents it for paginated requests, for stand-ins of moto.

AWS (S3 API Reference, ListBuckets): a request carrying any of `max-buckets`,
`continuation-token`, `prefix` or `bucket-region` is a paginated request. Its answer lists
the buckets in pages of `max-buckets` (1 to 10,000; 10,000 when not given), gives each bucket
its `BucketRegion` (the Region code, `us-east-1` included: not GetBucketLocation's null), and
carries a `ContinuationToken` while more buckets remain; `Prefix` is echoed when sent. A
request without any of them is answered as before, with no region and no token.

moto 5.2.5 accepts `max-buckets` but cuts the list there without a continuation token (the
buckets past it are silently lost) and gives no `BucketRegion`. `bench/moto_server.py` (in
process, for both tools under benchmark alike) and `simulators/aws_front.py` (tests, demo)
answer paginated ListBuckets through `page` below instead.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

PAGINATION_PARAMS = ("max-buckets", "continuation-token", "prefix", "bucket-region")
MAX_BUCKETS = 10_000
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass(frozen=True)
class Listed:
    """One bucket as the listing knows it."""

    name: str
    created: str  # ISO 8601, as S3 writes CreationDate
    region: str


def paginated(query: Mapping[str, str]) -> bool:
    """Whether a ListBuckets request (its query, first values) asks for a paginated answer."""
    return any(k in query for k in PAGINATION_PARAMS)


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(f"after:{name}".encode()).decode()


def _after(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return raw[len("after:"):] if raw.startswith("after:") else None


def error(code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An S3 error answer."""
    rid = str(uuid.uuid4())
    return 400, {"Content-Type": "application/xml", "x-amz-request-id": rid}, (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>"
        f"{escape(message)}</Message><RequestId>{rid}</RequestId></Error>").encode()


def page(buckets: Iterable[Listed], query: Mapping[str, str], *,
         owner_id: str = "bcaf1ffd86f41161ca5fb16fd081034f",
         owner_name: str = "webfile") -> tuple[int, dict[str, str], bytes]:
    """The answer (status, headers, XML body) to a paginated ListBuckets over `buckets`."""
    raw_max = query.get("max-buckets")
    limit = MAX_BUCKETS
    if raw_max is not None:
        try:
            limit = int(raw_max)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_BUCKETS:
            return error("InvalidArgument", "max-buckets must be between 1 and 10000")
    prefix = query.get("prefix") or ""
    region = query.get("bucket-region") or ""
    chosen = sorted((b for b in buckets if b.name.startswith(prefix)
                     and (not region or b.region == region)), key=lambda b: b.name)
    token = query.get("continuation-token")
    if token:
        after = _after(token)
        if after is None:
            return error("InvalidArgument", "The continuation token provided is incorrect")
        chosen = [b for b in chosen if b.name > after]
    shown, more = chosen[:limit], len(chosen) > limit
    items = "".join(
        f"<Bucket><Name>{escape(b.name)}</Name><CreationDate>{escape(b.created)}</CreationDate>"
        f"<BucketRegion>{escape(b.region)}</BucketRegion></Bucket>" for b in shown)
    tail = f"<ContinuationToken>{_token(shown[-1].name)}</ContinuationToken>" if more else ""
    if "prefix" in query:
        tail += f"<Prefix>{escape(prefix)}</Prefix>"
    body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"{_NS}\">"
            f"<Owner><ID>{owner_id}</ID><DisplayName>{owner_name}</DisplayName></Owner>"
            f"<Buckets>{items}</Buckets>{tail}</ListAllMyBucketsResult>")
    return 200, {"Content-Type": "application/xml",
                 "x-amz-request-id": str(uuid.uuid4())}, body.encode()

"""The shape of a snapshot's content as a JSON Schema: declared on the snapshot, or inferred
from its example. The conformance suite checks both the example and real content against it,
so an example cannot drift from what the connector really stores.

Our own objects are strict (exactly their keys). A platform's own documents are not ours to
fix (an IAM policy, a tag map, S3's versioning answer, an ARM `properties` bag: keys come and
go with the platform and the resource), so a connector names the keys that hold them
(`@snapshot(vendor=("policy", ...))`): there the schema keeps only the kind, an object (or a
list of objects), possibly null, whose inner keys are free."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"),
                                        (str, "string"))


def infer_schema(example: Any, vendor: Collection[str] = ()) -> dict[str, Any]:
    """A JSON Schema every value shaped like `example` satisfies: objects keep their keys
    (all required, no others), arrays their item shape; a scalar may also be null, and a
    null or empty example says nothing about what it holds. A key named in `vendor`, at any
    depth, holds the platform's own document: any object or null (a list: of such)."""
    if example is None:
        return {}
    if isinstance(example, dict):
        return {"type": "object", "required": sorted(example),
                "properties": {k: (_document(v) if k in vendor else infer_schema(v, vendor))
                               for k, v in example.items()},
                "additionalProperties": False}
    if isinstance(example, list):
        shapes = [infer_schema(x, vendor) for x in example if x is not None]
        items = _merge(shapes) if shapes else {}
        return {"type": "array", "items": _nullable(items) if None in example else items}
    for py, name in _TYPES:
        if isinstance(example, py):
            return {"type": [name, "null"]}
    return {}


def _document(example: Any) -> dict[str, Any]:
    """The loose shape of a platform document: its kind only, and null allowed."""
    if isinstance(example, dict):
        return {"type": ["object", "null"]}
    if isinstance(example, list):
        kinds = [_document(x) for x in example if x is not None]
        items = _merge(kinds) if kinds else {}
        return {"type": ["array", "null"],
                "items": _nullable(items) if None in example else items}
    return infer_schema(example)


def _nullable(shape: dict[str, Any]) -> dict[str, Any]:
    """`shape`, or null (a list's items where the example held a null among them)."""
    if not shape:
        return shape
    kinds = shape.get("type")
    if isinstance(kinds, str):
        return {**shape, "type": [kinds, "null"]}
    if isinstance(kinds, list):
        return shape if "null" in kinds else {**shape, "type": [*kinds, "null"]}
    return {"anyOf": [shape, {"type": "null"}]}


def _merge(shapes: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema for array items: objects merge their keys (required only where all have
    them); differing kinds accept any of them."""
    if all(s.get("type") == "object" for s in shapes):
        props: dict[str, list[dict[str, Any]]] = {}
        for s in shapes:
            for k, v in s["properties"].items():
                props.setdefault(k, []).append(v)
        required = sorted(set.intersection(*(set(s["required"]) for s in shapes)))
        return {"type": "object", "required": required,
                "properties": {k: _merge(v) if len(v) > 1 else v[0] for k, v in props.items()},
                "additionalProperties": False}
    if all(s == shapes[0] for s in shapes):
        return shapes[0]
    if any(not s for s in shapes):
        return {}
    return {"anyOf": [s for i, s in enumerate(shapes) if s not in shapes[:i]]}

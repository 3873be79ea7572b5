"""The shape of a snapshot's content as a JSON Schema: declared on the snapshot, or inferred
from its example. The conformance suite checks both the example and real content against it,
so an example cannot drift from what the connector really stores."""

from __future__ import annotations

from typing import Any

_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"),
                                        (str, "string"))


def infer_schema(example: Any) -> dict[str, Any]:
    """A JSON Schema every value shaped like `example` satisfies: objects keep their keys
    (all required, no others), arrays their item shape; a scalar may also be null, and a
    null or empty example says nothing about what it holds."""
    if example is None:
        return {}
    if isinstance(example, dict):
        return {"type": "object", "required": sorted(example),
                "properties": {k: infer_schema(v) for k, v in example.items()},
                "additionalProperties": False}
    if isinstance(example, list):
        shapes = [infer_schema(x) for x in example if x is not None]
        return {"type": "array", "items": _merge(shapes) if shapes else {}}
    for py, name in _TYPES:
        if isinstance(example, py):
            if name == "integer":
                return {"type": ["integer", "null"]}
            if name == "number":
                return {"type": ["number", "null"]}
            return {"type": [name, "null"]}
    return {}


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

"""The shape of a snapshot's content as a JSON Schema: declared on the snapshot, or inferred
from its example. The conformance suite checks both the example and real content against it,
so an example cannot drift from what the connector really stores."""

from __future__ import annotations

import re
from typing import Any

_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"),
                                        (str, "string"))


_OURS = re.compile(r"^[a-z][a-z0-9_]*$")


def infer_schema(example: Any) -> dict[str, Any]:
    """A JSON Schema every value shaped like `example` satisfies. Objects whose keys are all
    snake_case are ours: they keep exactly their keys (all required, no others). Objects with
    other keys (`Statement`, `policyArn`) are the platform's own documents, passed through:
    any object. Every value may also be null, and a null or empty example says nothing."""
    if example is None:
        return {}
    if isinstance(example, dict):
        if not all(_OURS.match(str(k)) for k in example):
            return {"type": ["object", "null"]}
        return {"type": ["object", "null"], "required": sorted(example),
                "properties": {k: infer_schema(v) for k, v in example.items()},
                "additionalProperties": False}
    if isinstance(example, list):
        shapes = [infer_schema(x) for x in example if x is not None]
        return {"type": ["array", "null"], "items": _merge(shapes) if shapes else {}}
    for py, name in _TYPES:
        if isinstance(example, py):
            return {"type": [name, "null"]}
    return {}


def _merge(shapes: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema for array items: objects merge their keys (required only where all have
    them); differing kinds accept any of them."""
    if all("properties" in s for s in shapes):
        props: dict[str, list[dict[str, Any]]] = {}
        for s in shapes:
            for k, v in s["properties"].items():
                props.setdefault(k, []).append(v)
        required = sorted(set.intersection(*(set(s["required"]) for s in shapes)))
        return {"type": ["object", "null"], "required": required,
                "properties": {k: _merge(v) if len(v) > 1 else v[0] for k, v in props.items()},
                "additionalProperties": False}
    if all(s == shapes[0] for s in shapes):
        return shapes[0]
    if any(not s for s in shapes):
        return {}
    return {"anyOf": [s for i, s in enumerate(shapes) if s not in shapes[:i]]}

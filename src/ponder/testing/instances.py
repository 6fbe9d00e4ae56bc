"""A small JSON value that matches a JSON schema, for a scripted model asked for structured output.

``example_of(schema)`` builds the plainest value a schema allows: every property of an object (required or
not), the fewest items an array may have, the first of an ``enum``, ``anyOf`` or ``oneOf``, the lowest
number allowed, a string of the shortest length allowed. It follows local ``$ref``s. It does not solve
``pattern``s or ``format``s (a schema with one may get a value it rejects): it is a test double, not a
generator of valid instances for every schema.
"""

from __future__ import annotations

import math
from typing import Any

from ponder.models.structured import resolve_ref

__all__ = ["example_of"]


def example_of(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """The plainest value ``schema`` allows (see the module's notes)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 20:
        return None
    if "$ref" in schema and isinstance(schema["$ref"], str) and schema["$ref"].startswith("#"):
        return example_of(resolve_ref(root, schema["$ref"]), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example_of(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_of(part, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {name: example_of(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        return [example_of(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        length = schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0
        return "a" * length
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low if isinstance(low, int | float) else 0
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            value += 1
        return math.ceil(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}

"""Structured output: a reply that is one JSON value matching a JSON schema.

A request asks for it with OpenAI's ``response_format`` (``json_object``, or ``json_schema`` with a schema),
or the Responses API's ``text.format``. ``OutputSchema`` holds what was asked; the model layer generates
under it (``ModelSettings.json_schema``: a grammar on the embedded engine, ``response_format`` on an
OpenAI-compatible server) and the turn checks the reply with ``check`` before it is returned.

The embedded engine's grammar (llama.cpp's converter) enforces a schema's shape: types, properties and
which are required, ``additionalProperties``, arrays and their lengths, strings and their lengths and
patterns, ``enum``/``const``, ``anyOf``/``oneOf``/``allOf`` and local ``$ref``s. ``unsupported`` names the
constructs it would silently ignore (``not``, ``if``/``then``/``else``, ``patternProperties``, dependent
schemas, remote references, ...): such a schema is refused (a UserError: a 400), never answered with
output that only looks valid. Bounds on values (``minimum``, ``maximum``, ``multipleOf``, ``uniqueItems``,
``format``) are not in the grammar either; they are checked after generation (``check``), and the turn
generates once more when a reply breaks one.

It does not generate anything: models/ and modes/ do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from ponder.errors import UserError

__all__ = ["ANY_OBJECT", "OutputSchema", "canonical", "check", "parsed", "resolve_ref", "unsupported"]

ANY_OBJECT: dict[str, Any] = {"type": "object"}  # json_object: any JSON object
MAX_SCHEMA_BYTES = 64 * 1024

# Keywords the grammar would ignore while the output still had to obey them: refused.
_SHAPE_KEYWORDS = (
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "minProperties",
    "maxProperties",
    "$dynamicRef",
)


@dataclass(frozen=True)
class OutputSchema:
    """What a request asked the reply to be: ``schema`` (``ANY_OBJECT`` for ``json_object``), the name the
    client gave it, and whether the client asked for strict adherence (always enforced here)."""

    schema: dict[str, Any]
    name: str = "reply"
    strict: bool = True

    @classmethod
    def of(
        cls, schema: dict[str, Any] | None, name: str = "reply", strict: bool | None = None
    ) -> OutputSchema:
        """The checked schema; a UserError naming what the grammar cannot express, or what is not a
        schema at all."""
        schema = ANY_OBJECT if schema is None else schema
        if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
            raise UserError(f"The JSON schema is over {MAX_SCHEMA_BYTES // 1024} KiB.")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except SchemaError as error:
            raise UserError(f"Not a valid JSON schema: {error.message}") from None
        problem = unsupported(schema)
        if problem is not None:
            raise UserError(f"Structured output cannot enforce this schema: {problem}.")
        return cls(schema, name or "reply", strict is not False)

    def instruction(self) -> str:
        """What the model is told, so that the values mean what the schema's names and descriptions say."""
        if self.schema is ANY_OBJECT or self.schema == ANY_OBJECT:
            return "Reply with one JSON object and nothing else."
        return "Reply with one JSON value and nothing else, matching this JSON schema:\n" + json.dumps(
            self.schema, ensure_ascii=False, separators=(",", ":")
        )


def unsupported(schema: Any, path: str = "#") -> str | None:
    """The first construct of ``schema`` the grammar cannot enforce, with where it is; None if none."""
    for where, node in _nodes(schema, path):
        for keyword in _SHAPE_KEYWORDS:
            if keyword in node:
                return f"'{keyword}' at {where}"
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return f"the remote reference '{ref}' at {where} (only references inside the schema, '#/...')"
        if isinstance(ref, str) and _recursive(schema, ref, set()):
            return f"the recursive reference '{ref}' at {where}"
    return None


def check(text: str, schema: dict[str, Any]) -> str | None:
    """What is wrong with ``text`` as a reply under ``schema``; None when it parses and validates."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"the reply is not JSON ({error.msg} at character {error.pos})"
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(value), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "the top level"
        return f"the reply breaks the schema at {where}: {errors[0].message}"
    return None


def parsed(text: str, schema: dict[str, Any]) -> Any | None:
    """The JSON value in ``text`` (the whole text, or its last JSON object) when it validates; else None."""
    for candidate in (text.strip(), _last_object(text)):
        if candidate and check(candidate, schema) is None:
            return json.loads(candidate)
    return None


def canonical(value: Any) -> str:
    """One spelling per value, to compare and vote on: keys sorted, no spaces, 72.0 written 72."""
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _nodes(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema (a dict) of ``schema`` with its JSON-pointer-like path."""
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in ("enum", "const", "default", "examples", "description", "title"):
                continue  # values, not schemas
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _nodes(value, f"{path}/{i}")


def resolve_ref(schema: Any, ref: str) -> Any:
    """What a local reference (``#/$defs/item``) points at in ``schema``; None where nothing is."""
    node: Any = schema
    for part in ref.lstrip("#").strip("/").split("/") if ref not in ("#", "#/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _recursive(schema: dict[str, Any], ref: str, seen: set[str]) -> bool:
    """Whether following ``ref`` leads back to it (a tree of unbounded depth: the grammar converter
    cannot build it)."""
    if ref in seen:
        return True
    target = resolve_ref(schema, ref)
    if target is None:
        return False
    inner = {n.get("$ref") for _, n in _nodes(target, ref) if isinstance(n.get("$ref"), str)}
    return any(_recursive(schema, r, seen | {ref}) for r in inner if isinstance(r, str) and r.startswith("#"))


def _last_object(text: str) -> str:
    """The last balanced ``{...}`` of ``text`` (an answer after reasoning), or ""."""
    end = text.rfind("}")
    while end != -1:
        depth = 0
        for start in range(end, -1, -1):
            depth += {"}": 1, "{": -1}.get(text[start], 0)
            if depth == 0:
                try:
                    json.loads(text[start : end + 1])
                except json.JSONDecodeError:
                    break
                return text[start : end + 1]
        end = text.rfind("}", 0, end)
    return ""

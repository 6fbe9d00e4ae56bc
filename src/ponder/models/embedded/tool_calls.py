"""Tool calls on the embedded engine: free text until the model opens a call, then a grammar.

The chat templates of the embedded models (Qwen2.5, and others in the Hermes style) teach the model to call
a tool by writing ``<tool_call>`` followed by a JSON object ``{"name": ..., "arguments": {...}}`` and
``</tool_call>``. Small models often write the JSON bare, or in a json code fence, instead. Generation runs
free with the TRIGGERS as stop sequences; when the model reaches one (for a code fence: when the first
tokens inside it open a ``{"name": ...`` object), the call is generated again, after ``<tool_call>``, under a
GBNF grammar built from the tools' JSON schemas (llama.cpp's JSON-schema converter): the name is one of the
tools, the arguments match that tool's schema, and further calls may follow (parallel calls). So a small
model's call always parses and always matches the schema. This is the "lazy grammar" that llama.cpp's own
server applies, done at Ponder's level.

This module builds the grammar and parses what it produced; the backend runs the two generations.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from ponder.errors import BackendError
from ponder.messages import ToolCallPart

__all__ = [
    "CALL_OPEN",
    "FENCE",
    "TRIGGERS",
    "call_grammar_text",
    "looks_like_call",
    "new_call_id",
    "parse_calls",
]

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
FENCE = "```json"  # may open a call, or just some JSON: the next tokens decide (looks_like_call)
TRIGGERS = (CALL_OPEN, FENCE, '{"name"', '{ "name"', '{\n"name"', '{\n  "name"', '{\n    "name"')
MAX_PARALLEL_CALLS = 4  # calls in one model turn: small models otherwise repeat a call until max_tokens
PEEK_TOKENS = 8  # tokens read after a code fence to see whether it opens a call
_CALL_START = re.compile(r'^\s*\{\s*"name"\s*:')


def looks_like_call(after_fence: str) -> bool:
    """Whether the text after a json code fence starts a tool call object."""
    return bool(_CALL_START.match(after_fence))


_CALL_BODY = re.compile(r"(\{.*?\})\s*" + re.escape(CALL_CLOSE), re.DOTALL)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def call_grammar_text(tools: Sequence[dict[str, Any]]) -> str:
    """GBNF for what follows ``<tool_call>\\n``: one call or more, each closed, nothing else."""
    return _grammar(json.dumps(list(tools), sort_keys=True))


@functools.lru_cache(maxsize=32)
def _grammar(tools_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    alternatives = []
    definitions: dict[str, Any] = {}  # every tool's $defs, under names prefixed with the tool's position
    for index, entry in enumerate(json.loads(tools_json)):
        function = entry["function"]
        arguments, defs = _hoist_definitions(function.get("parameters") or {"type": "object"}, f"t{index}_")
        definitions.update(defs)
        alternatives.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}
    if definitions:
        schema = {**schema, "$defs": definitions}
    rules = json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"])
    rules = re.sub(r"^root ::=", "call ::=", rules, flags=re.MULTILINE)
    close = json.dumps("\n" + CALL_CLOSE)
    again = json.dumps("\n" + CALL_OPEN + "\n")
    more = ""
    for _ in range(MAX_PARALLEL_CALLS - 1):  # nested optionals: at most MAX_PARALLEL_CALLS calls
        more = f"( {again} call {close} {more})?"
    return f"root ::= call {close} {more}\n{rules}"


def _hoist_definitions(schema: dict[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``schema`` without its local definitions, which come back renamed, with every $ref rewritten.

    The grammar converter resolves ``#/$defs/...`` against the root of the whole (combined) schema, so each
    tool's definitions must live there, under names that cannot clash with another tool's.
    """
    defs = {**schema.get("$defs", {}), **schema.get("definitions", {})}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k not in ("$defs", "definitions")}
            ref = node.get("$ref")
            if isinstance(ref, str):
                for local in ("#/$defs/", "#/definitions/"):
                    if ref.startswith(local):
                        out["$ref"] = f"#/$defs/{prefix}{ref[len(local) :]}"
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    return rewrite(schema), {f"{prefix}{name}": rewrite(value) for name, value in defs.items()}


def parse_calls(text: str) -> list[ToolCallPart]:
    """The calls in grammar-constrained output (what followed ``<tool_call>\\n``)."""
    calls: list[ToolCallPart] = []
    seen: set[str] = set()
    for body in _CALL_BODY.findall(text):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as err:
            raise BackendError(f"The model's tool call is not valid JSON ({err}): {body[:200]}") from None
        key = json.dumps(data, sort_keys=True)
        if key in seen:  # the same call again: a repetition, not a second request
            continue
        seen.add(key)
        calls.append(ToolCallPart(new_call_id(), str(data["name"]), dict(data.get("arguments") or {})))
    if not calls:
        raise BackendError(f"The model opened a tool call but did not finish it: {text[:200]!r}")
    return calls

"""Structured output's schemas: what the grammar can enforce, what is refused and why, and the checks."""

from __future__ import annotations

import pytest

from ponder.errors import UserError
from ponder.models.structured import ANY_OBJECT, OutputSchema, canonical, check, parsed, unsupported

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "'not' at #/properties/a"),
        ({"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}}, "'if' at #"),
        ({"type": "object", "patternProperties": {"^x": {"type": "string"}}}, "'patternProperties'"),
        ({"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}, "remote reference"),
        (
            {
                "$defs": {"node": {"properties": {"kids": {"items": {"$ref": "#/$defs/node"}}}}},
                "$ref": "#/$defs/node",
            },
            "recursive reference",
        ),
    ],
)
def test_a_construct_the_grammar_cannot_enforce_is_refused_by_name(schema: dict, named: str) -> None:
    problem = unsupported(schema)
    assert problem is not None and named in problem
    with pytest.raises(UserError, match="cannot enforce"):
        OutputSchema.of(schema)


def test_what_the_grammar_enforces_is_accepted() -> None:
    nested = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 1},
            "kind": {"enum": ["a", "b"]},
            "note": {"type": ["string", "null"]},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["items"],
        "$defs": {"item": {"properties": {"sku": {"type": "string", "pattern": "^[A-Z]+$"}}}},
    }
    for schema in (PERSON, nested, ANY_OBJECT, {"enum": ["x"], "description": "not: a keyword here"}):
        assert OutputSchema.of(schema).schema == schema


def test_what_is_not_a_schema_says_so() -> None:
    with pytest.raises(UserError, match="Not a valid JSON schema"):
        OutputSchema.of({"type": "objekt"})


def test_a_reply_is_checked_against_its_schema() -> None:
    assert check('{"name": "Ann", "age": 3}', PERSON) is None
    assert "not JSON" in (check('{"name": "Ann", ', PERSON) or "")
    assert "at age" in (check('{"name": "Ann", "age": -1}', PERSON) or "")  # a bound the grammar leaves
    assert "required" in (check('{"name": "Ann"}', PERSON) or "")


def test_the_json_of_an_answer_after_reasoning_is_found_and_spelled_one_way() -> None:
    value = parsed('Let me think. {"x": 1} is wrong; so: {"age": 4, "name": "Bo"}', PERSON)
    assert value == {"name": "Bo", "age": 4}
    assert canonical(value) == canonical({"age": 4, "name": "Bo"}) == '{"age":4,"name":"Bo"}'
    assert parsed("no JSON at all", PERSON) is None

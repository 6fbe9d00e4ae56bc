"""The plainest value of a schema validates against it, for the schemas structured output takes."""

import jsonschema
import pytest

from ponder.testing import example_of


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"enum": ["x", "y"]}}},
        {"type": "array", "items": {"type": "string", "minLength": 2}, "minItems": 2},
        {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
        {"type": ["string", "null"], "minLength": 1},
        {
            "$defs": {"p": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}},
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/p"}},
            "required": ["p"],
        },
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"const": 1}}},
                {"properties": {"b": {"type": "boolean"}}},
            ]
        },
    ],
)
def test_the_plainest_value_validates(schema: dict) -> None:
    jsonschema.validate(example_of(schema), schema)

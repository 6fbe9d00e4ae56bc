"""A function's JSON schema, from its type hints (pydantic) and its docstring (docstring-parser).

The schema is what the model sees and what its arguments are validated against; ``bind`` turns validated
JSON arguments back into Python values (a ``date`` string into a ``date``, a dict into a pydantic model).
Parameters without a type hint are refused: a schema that says "anything" is one a small model cannot fill.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

import docstring_parser
import pydantic

__all__ = ["FunctionSchema", "function_schema"]


@dataclass(frozen=True)
class FunctionSchema:
    description: str
    parameters: dict[str, Any]  # JSON schema, an object
    model: type[pydantic.BaseModel]  # validates arguments and converts them
    context_parameter: str | None  # the parameter that receives the ToolContext, if any

    def bind(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the function; raises pydantic.ValidationError on a mismatch."""
        validated = self.model.model_validate(arguments)
        return {name: getattr(validated, name) for name in type(validated).model_fields}


def function_schema(fn: Callable[..., Any], *, context_type: type) -> FunctionSchema:
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    param_docs = {p.arg_name: p.description for p in doc.params if p.description}
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    context_parameter = None
    for name, parameter in inspect.signature(fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args and **kwargs cannot be described to a model")
        if name not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter '{name}' needs a type hint")
        if hints[name] is context_type:
            context_parameter = name
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints[name], pydantic.Field(default, description=param_docs.get(name)))
    model = pydantic.create_model(f"{fn.__name__}_arguments", **fields)
    description = "\n\n".join(part for part in (doc.short_description, doc.long_description) if part)
    parameters = _clean(model.model_json_schema())
    parameters.setdefault("properties", {})
    parameters["additionalProperties"] = False  # a made-up argument is an error, not something to ignore
    return FunctionSchema(description or fn.__name__, parameters, model, context_parameter)


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles: noise in a prompt, and no part of the contract."""
    cleaned = {k: v for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {k: _clean(v) for k, v in cleaned["properties"].items()}
    if isinstance(cleaned.get("$defs"), dict):
        cleaned["$defs"] = {k: _clean(v) for k, v in cleaned["$defs"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(cleaned.get(key), dict):
            cleaned[key] = _clean(cleaned[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(cleaned.get(key), list):
            cleaned[key] = [_clean(v) for v in cleaned[key]]
    return cleaned

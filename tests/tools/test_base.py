import datetime

import pydantic
import pytest

from ponder.tools import FunctionToolset, Tool, ToolContext, tool, tool_of


@tool
def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Point(pydantic.BaseModel):
    x: float
    y: float


async def test_the_decorator_returns_the_function_unchanged_and_attaches_a_schema() -> None:
    assert add(1, 2) == 3  # still the plain function
    made = tool_of(add)
    assert made.name == "add" and made.description == "Add two numbers."
    assert made.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "the first number"},
            "b": {"type": "integer", "default": 2, "description": "the second number"},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert made.definition()["function"]["name"] == "add"
    assert made.invoke is not None
    assert await made.invoke(ToolContext(), {"a": 40}) == 42


async def test_arguments_are_converted_and_the_context_is_found_by_type() -> None:
    seen: list[ToolContext] = []

    @tool(name="shift")
    async def move(point: Point, day: datetime.date, ctx: ToolContext) -> str:
        """Move a point."""
        seen.append(ctx)
        return f"{point.x + 1},{day.year}"

    made = tool_of(move)
    assert "ctx" not in made.parameters["properties"]
    assert made.name == "shift"
    assert made.invoke is not None
    out = await made.invoke(ToolContext(call_id="c1"), {"point": {"x": 1, "y": 2}, "day": "2026-11-21"})
    assert out == "2.0,2026" and seen[0].call_id == "c1"


def test_a_parameter_without_a_type_hint_is_refused() -> None:
    def loose(a) -> None:  # type: ignore[no-untyped-def]
        """No hint."""

    with pytest.raises(TypeError, match="needs a type hint"):
        tool(loose)


def test_tool_of_an_undecorated_function_says_how_to_fix_it() -> None:
    with pytest.raises(TypeError, match="decorate it with @tool"):
        tool_of(print)


async def test_a_toolset_registers_with_its_decorator() -> None:
    toolset = FunctionToolset("math", [add])

    @toolset.tool
    def double(x: int) -> int:
        """Twice x."""
        return 2 * x

    assert double(3) == 6
    names = [t.name for t in await toolset.list_tools()]
    assert names == ["add", "double"]
    with pytest.raises(ValueError, match="already has"):
        toolset.add(Tool("add", "again", {"type": "object"}))

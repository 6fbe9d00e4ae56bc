"""Ponder tools for the ``ponder mcp serve`` tests (loaded with ``--tools ponder_tools:toolset``)."""

from __future__ import annotations

from ponder.tools import FunctionToolset, ToolError, tool

toolset = FunctionToolset("fixture")


@toolset.tool
def shout(text: str) -> str:
    """Repeat the text in capitals.

    Args:
        text: What to repeat.
    """
    return text.upper()


@toolset.tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@tool
def lonely() -> str:
    """A tool on its own."""
    return "alone"

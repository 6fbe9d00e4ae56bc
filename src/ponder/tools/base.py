"""What a tool is: a name, a description, a JSON schema for its arguments, and something that runs it.

``@tool`` turns a typed, documented function into a ``Tool`` (schema from the type hints, descriptions from
the docstring; see schema.py) and returns the function unchanged, with the ``Tool`` attached; ``tool_of``
finds it again. A parameter typed ``ToolContext`` is not part of the schema: the runner passes the context
of the call (who is asking, which call this is) in its place.

A tool's output is data for the model, never instructions; a tool that fails raises ``ToolError`` (or any
exception) and the model gets an error result, not a crash. This module does not run tools: the runner does.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, overload

from ponder.tools.schema import FunctionSchema, function_schema

__all__ = ["Tool", "ToolContext", "ToolError", "tool", "tool_of"]

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__ponder_tool__"


class ToolError(Exception):
    """A tool could not do what was asked; its message goes back to the model as an error result."""


@dataclass(frozen=True)
class ToolContext:
    """What a running tool may know about its call."""

    call_id: str = ""
    user: str | None = None  # the end user the turn is for (the OpenAI ``user`` field), when known
    # tool name -> calls run so far in this turn; one dict per turn, shared by the contexts of its calls
    turn_calls: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


# (context, arguments) -> the tool's output; the runner turns the output into text
Invoke = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    invoke: Invoke | None = field(default=None, repr=False)  # None: the API client runs it, not Ponder
    concurrent: bool = True  # may run at the same time as other calls of the same model turn
    max_calls_per_turn: int | None = None  # calls past this in one turn get an error result, not a run

    def definition(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry, also what chat templates render."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def renamed(self, name: str) -> Tool:
        return replace(self, name=name)


@overload
def tool(function: F, /) -> F: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, concurrent: bool = True
) -> Callable[[F], F]: ...
def tool(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    concurrent: bool = True,
) -> F | Callable[[F], F]:
    """Make ``function`` a tool; it is returned unchanged (``tool_of(function)`` gives the ``Tool``)."""

    def register(fn: F) -> F:
        setattr(fn, _ATTRIBUTE, from_function(fn, name=name, description=description, concurrent=concurrent))
        return fn

    return register(function) if function is not None else register


def tool_of(function: Callable[..., Any]) -> Tool:
    """The ``Tool`` that ``@tool`` attached to ``function``."""
    found = getattr(function, _ATTRIBUTE, None)
    if not isinstance(found, Tool):
        raise TypeError(
            f"{getattr(function, '__qualname__', function)!r} is not a tool: decorate it with @tool"
        )
    return found


def from_function(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    concurrent: bool = True,
) -> Tool:
    schema = function_schema(fn, context_type=ToolContext)
    return Tool(
        name=name or fn.__name__,
        description=description or schema.description,
        parameters=schema.parameters,
        invoke=_invoker(fn, schema),
        concurrent=concurrent,
    )


def _invoker(fn: Callable[..., Any], schema: FunctionSchema) -> Invoke:
    """Call ``fn`` with validated arguments; a sync function runs in a worker thread."""

    async def invoke(context: ToolContext, arguments: dict[str, Any]) -> Any:
        kwargs = schema.bind(arguments)
        if schema.context_parameter:
            kwargs[schema.context_parameter] = context
        if inspect.iscoroutinefunction(fn):
            return await fn(**kwargs)
        return await asyncio.to_thread(functools.partial(fn, **kwargs))

    return invoke

"""Toolsets: groups of tools behind one interface, whatever runs them (local functions, MCP servers, the
sandbox).

A toolset lists its tools and releases what it holds when closed. Tools carry their own ``invoke``, so the
runner never needs to know where a tool lives. ``FunctionToolset`` groups decorated Python functions; its
``tool`` method is the decorator, registering the function and returning it unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from ponder.tools import base
from ponder.tools.base import Tool, tool_of

__all__ = ["FunctionToolset", "Toolset"]

F = TypeVar("F", bound=Callable[..., Any])


class Toolset(ABC):
    """A named group of tools. ``name`` is what users pick it by (``--tools NAME``)."""

    name: str

    @abstractmethod
    async def list_tools(self) -> list[Tool]:
        """The tools available now (an MCP server may change them between calls)."""

    async def aclose(self) -> None:  # noqa: B027 - most toolsets hold nothing
        """Release connections and processes; the default holds none."""


class FunctionToolset(Toolset):
    """Local Python functions as tools."""

    def __init__(self, name: str, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self.name = name
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item if isinstance(item, Tool) else tool_of(item))

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"toolset '{self.name}' already has a tool named '{tool.name}'")
        self._tools[tool.name] = tool

    @overload
    def tool(self, function: F, /) -> F: ...
    @overload
    def tool(self, /, *, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...
    def tool(
        self, function: F | None = None, /, *, name: str | None = None, description: str | None = None
    ) -> F | Callable[[F], F]:
        """Decorator: register ``function`` in this toolset and return it unchanged."""

        def register(fn: F) -> F:
            base.tool(name=name, description=description)(fn)
            self.add(tool_of(fn))
            return fn

        return register(function) if function is not None else register

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    async def list_tools(self) -> list[Tool]:
        return self.tools

"""Tools a model can call inside a turn: local functions, the sandboxed ``python`` tool, MCP servers."""

from ponder.tools.base import Tool, ToolContext, ToolError, tool, tool_of
from ponder.tools.runner import ToolRunner
from ponder.tools.toolset import FunctionToolset, Toolset

__all__ = ["FunctionToolset", "Tool", "ToolContext", "ToolError", "ToolRunner", "Toolset", "tool", "tool_of"]

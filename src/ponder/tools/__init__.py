"""Tools a model can call inside a turn: local functions, the sandboxed ``python`` tool, MCP servers.

    base.py      Tool (name, description, JSON schema, invoke), ``@tool``, ``tool_of``, ToolContext, ToolError
    schema.py    a function's JSON schema from its type hints and docstring; arguments bound back to values
    toolset.py   Toolset (tools behind one interface, released when closed), FunctionToolset
    runner.py    ToolRunner: the tool calls of one model turn, concurrent where allowed, results in call order
    loading.py   finding toolsets by name (``--tools``, the ``tools`` setting): python, MCP servers, modules
    python.py    the built-in ``python`` tool: the model's program run in ponder.sandbox
    mcp/         MCP both ways: servers' tools as Ponder tools (approved by definition hash), and Ponder's
                 tools served over MCP

The tool loop that calls them is the modes' (modes/acting.py).
"""

from ponder.tools.base import Tool, ToolContext, ToolError, tool, tool_of
from ponder.tools.runner import ToolRunner
from ponder.tools.toolset import FunctionToolset, Toolset

__all__ = ["FunctionToolset", "Tool", "ToolContext", "ToolError", "ToolRunner", "Toolset", "tool", "tool_of"]

"""A toolset whose tool changes behind its MCP clients' backs, for the tests of a server that lists its
MCP servers' tools again (served by ``ponder mcp serve --tools changing_tools:toolset``).

Its one tool, ``add``, is described by the text of the file that CHANGING_TOOLS_FILE names, read at every
listing: writing another text there is an MCP server whose tool definition changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ponder.tools import Tool, ToolContext, Toolset

PARAMETERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


async def _add(_context: ToolContext, arguments: dict[str, Any]) -> int:
    return int(arguments["a"]) + int(arguments["b"])


class ChangingToolset(Toolset):
    name = "changing"

    async def list_tools(self) -> list[Tool]:
        description = Path(os.environ["CHANGING_TOOLS_FILE"]).read_text(encoding="utf-8")
        return [Tool("add", description, PARAMETERS, invoke=_add)]


toolset = ChangingToolset()

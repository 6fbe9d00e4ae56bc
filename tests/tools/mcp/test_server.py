"""``ponder mcp serve``: Ponder tools over MCP, driven by the official SDK's client and by Ponder's own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from ponder.config import McpServerConfig
from ponder.store import open_database
from ponder.tools.mcp import ApprovalStore, McpToolset

HERE = Path(__file__).parent
SERVE = [sys.executable, "-m", "ponder", "mcp", "serve", "--tools", "ponder_tools:toolset"]


async def test_serve_over_stdio_lists_and_calls_ponder_tools() -> None:
    params = StdioServerParameters(
        command=SERVE[0], args=[*SERVE[1:], "--tools", "ponder_tools:lonely"], cwd=HERE
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert listed.keys() == {"shout", "divide", "lonely"}
        shout = listed["shout"]
        assert shout.description == "Repeat the text in capitals."
        assert shout.input_schema["properties"]["text"]["description"] == "What to repeat."

        result = await session.call_tool("shout", {"text": "hello"})
        assert not result.is_error and result.content[0].text == "HELLO"  # type: ignore[union-attr]

        failed = await session.call_tool("divide", {"a": 1, "b": 0})
        assert failed.is_error and "cannot divide by zero" in failed.content[0].text  # type: ignore[union-attr]

        off_schema = await session.call_tool("divide", {"a": "one"})
        assert off_schema.is_error and "do not match its schema" in off_schema.content[0].text  # type: ignore[union-attr]

        with pytest.raises(MCPError, match="Unknown tool: nope"):
            await session.call_tool("nope", {})


async def test_serve_over_http_round_trips_with_ponders_own_client(
    tmp_path: Path, http_server: Any, call: Any
) -> None:
    url = http_server([*SERVE, "--http"], cwd=HERE)
    config = McpServerConfig(url=url, timeout_s=10)
    toolset = McpToolset("ponder", config, ApprovalStore(open_database(tmp_path / "ponder.db")))
    try:
        tools = await toolset.list_tools()
        assert [t.name for t in tools] == ["ponder.shout", "ponder.divide"]
        assert (await call(tools, "ponder.shout", {"text": "over http"})).content == "OVER HTTP"
    finally:
        await toolset.aclose()

"""Ponder's own tools served over MCP (``ponder mcp serve``), with the SDK's low-level ``Server``.

The low-level server takes the tool list and the tool calls as two handlers, so each Ponder ``Tool`` is
offered with its own name, description and JSON schema, unchanged, and a call runs through ``ToolRunner``
as a model's call would: arguments checked against the schema, a time limit, output cut to size, and any
failure returned as a result flagged ``isError`` (a call to a tool that does not exist is a protocol
error, as the spec asks). Tools that only an API client can run (no ``invoke``) are not offered.

The toolsets are listed again at every request, since a toolset may change; they are not closed here:
whoever made them does. Serving is over stdio (the default) or streamable HTTP on a local port. This module
does not pick the toolsets (the CLI does) and adds no authentication: bind HTTP to localhost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import uvicorn
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from ponder import __version__
from ponder.messages import ToolCallPart
from ponder.tools.runner import DEFAULT_TIMEOUT_S, ToolRunner
from ponder.tools.toolset import Toolset

__all__ = ["build_server", "serve_http", "serve_stdio"]

MCP_PATH = "/mcp"


def build_server(toolsets: Sequence[Toolset], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Server[Any]:
    """An MCP server offering the tools of ``toolsets`` (each call limited to ``timeout_s``)."""

    async def runner() -> ToolRunner:
        tools = [tool for toolset in toolsets for tool in await toolset.list_tools() if tool.invoke]
        return ToolRunner(tools, timeout_s=timeout_s)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = (await runner()).tools.values()
        return types.ListToolsResult(
            tools=[
                types.Tool(name=tool.name, description=tool.description, input_schema=tool.parameters)
                for tool in tools
            ]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        current = await runner()
        if params.name not in current.tools:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        call = ToolCallPart(str(ctx.request_id or ""), params.name, dict(params.arguments or {}))
        [result] = await current.run([call])
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.content)], is_error=result.is_error
        )

    return Server(
        "ponder",
        version=__version__,
        instructions="Tools served by Ponder.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(toolsets: Sequence[Toolset], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Serve until the client closes stdin."""
    server = build_server(toolsets, timeout_s=timeout_s)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(
    toolsets: Sequence[Toolset], *, port: int, host: str = "127.0.0.1", timeout_s: float = DEFAULT_TIMEOUT_S
) -> None:
    """Serve streamable HTTP at ``http://HOST:PORT/mcp`` until interrupted."""
    app = build_server(toolsets, timeout_s=timeout_s).streamable_http_app(
        streamable_http_path=MCP_PATH, host=host
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()

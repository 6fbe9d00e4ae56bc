"""MCP (Model Context Protocol) with the official SDK, both ways.

As a client: ``McpToolset`` offers the tools of an MCP server configured under ``[mcp_servers.NAME]``
(stdio or streamable HTTP) as Ponder tools named ``NAME.tool``, gated by approval of each tool's
definition hash (approvals.py). As a server: ``build_server`` and ``serve_stdio``/``serve_http`` offer
Ponder toolsets to MCP clients (``ponder mcp serve``).

    toolset.py     McpToolset: one configured server's tools as ``NAME.tool``; configured_toolsets
    connection.py  McpConnection: one live session with a server, over stdio or streamable HTTP
    approvals.py   ApprovalStore: tool definitions approved by hash, so a server cannot change them unseen
    content.py     a tool result as the text a model reads
    server.py      Ponder's toolsets served over MCP (``ponder mcp serve``)

Importing this package imports the MCP SDK (about a second): import it where MCP is used, not at startup.
"""

from ponder.tools.mcp.approvals import APPROVALS_FILE, ApprovalStore, Review, ToolDefinition, open_approvals
from ponder.tools.mcp.connection import McpConnection, McpServerError
from ponder.tools.mcp.content import result_text
from ponder.tools.mcp.server import build_server, serve_http, serve_stdio
from ponder.tools.mcp.toolset import McpToolset, configured_toolsets

__all__ = [
    "APPROVALS_FILE",
    "ApprovalStore",
    "McpConnection",
    "McpServerError",
    "McpToolset",
    "Review",
    "ToolDefinition",
    "build_server",
    "configured_toolsets",
    "open_approvals",
    "result_text",
    "serve_http",
    "serve_stdio",
]

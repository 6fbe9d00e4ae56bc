"""McpToolset against a real MCP server built with the SDK: over stdio and over streamable HTTP."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from ponder.config import McpServerConfig
from ponder.errors import ConfigError
from ponder.tools.mcp import ApprovalStore, McpServerError, McpToolset

FIXTURE_TOOLS = ["fx.add", "fx.fail", "fx.hang", "fx.die", "fx.pid"]


async def test_stdio_round_trip_errors_timeouts_and_a_server_dying_mid_call(
    approvals: ApprovalStore, stdio_config: Any, call: Any
) -> None:
    toolset = McpToolset("fx", stdio_config(timeout_s=1.5), approvals)
    try:
        tools = await toolset.list_tools()
        assert [t.name for t in tools] == FIXTURE_TOOLS
        add = tools[0]
        assert add.parameters["properties"].keys() == {"a", "b"}
        assert add.parameters["required"] == ["a", "b"]
        assert add.description == "Add two integers."

        result = await call(tools, "fx.add", {"a": 2, "b": 40})
        assert not result.is_error and result.content.startswith("42")

        refused = await call(tools, "fx.fail", {"reason": "no way"})
        assert refused.is_error and "refused: no way" in refused.content

        started = time.monotonic()
        hung = await call(tools, "fx.hang", {})
        assert hung.is_error and "did not answer the call to 'hang' within 1.5 s" in hung.content
        assert time.monotonic() - started < 10
        assert not (await call(tools, "fx.add", {"a": 1, "b": 1})).is_error  # the session survives

        first_pid = (await call(tools, "fx.pid", {})).content
        died = await call(tools, "fx.die", {})
        assert died.is_error and "closed the connection during the call to 'die'" in died.content
        assert "fixture: exiting in the middle of a call" in died.content  # its stderr, quoted

        again = await call(tools, "fx.pid", {})  # the next call starts the server again
        assert not again.is_error and again.content != first_pid
    finally:
        await toolset.aclose()


async def test_http_round_trip_error_and_timeout(
    http_server_url: str, approvals: ApprovalStore, call: Any
) -> None:
    toolset = McpToolset("fx", McpServerConfig(url=http_server_url, timeout_s=1.5), approvals)
    try:
        tools = await toolset.list_tools()
        assert [t.name for t in tools] == FIXTURE_TOOLS
        assert (await call(tools, "fx.add", {"a": 2, "b": 3})).content.startswith("5")
        refused = await call(tools, "fx.fail", {"reason": "over http"})
        assert refused.is_error and "refused: over http" in refused.content
        hung = await call(tools, "fx.hang", {})
        assert hung.is_error and "within 1.5 s" in hung.content and http_server_url in hung.content
    finally:
        await toolset.aclose()


async def test_http_server_that_dies_mid_call_gives_an_error_result(
    http_server_url: str, approvals: ApprovalStore, call: Any
) -> None:
    toolset = McpToolset("fx", McpServerConfig(url=http_server_url, timeout_s=5), approvals)
    try:
        tools = await toolset.list_tools()
        died = await call(tools, "fx.die", {})
        assert died.is_error and "'fx.die' failed: MCP server 'fx'" in died.content
        gone = await call(tools, "fx.pid", {})  # nothing listens any more: a clear error, not a hang
        assert gone.is_error and "could not be reached" in gone.content
    finally:
        await toolset.aclose()


async def test_a_server_that_cannot_start_names_itself_and_its_command(approvals: ApprovalStore) -> None:
    missing = McpServerConfig(command="/nonexistent/ponder-test-server", args=["--flag"])
    with pytest.raises(McpServerError) as caught:
        await McpToolset("ghost", missing, approvals).list_tools()
    message = str(caught.value)
    assert "MCP server 'ghost'" in message and "/nonexistent/ponder-test-server --flag" in message
    assert "was not found" in message and "[mcp_servers.ghost]" in message

    crashing = McpServerConfig(
        command=sys.executable, args=["-c", "import sys; sys.exit('no API key for the crasher')"]
    )
    with pytest.raises(McpServerError, match="closed the connection before the MCP handshake") as caught:
        await McpToolset("crasher", crashing, approvals).list_tools()
    assert "no API key for the crasher" in str(caught.value)  # its stderr, quoted


async def test_a_server_that_never_answers_the_handshake_times_out(approvals: ApprovalStore) -> None:
    silent = McpServerConfig(
        command=sys.executable, args=["-c", "import sys; sys.stdin.read()"], start_timeout_s=0.5
    )
    toolset = McpToolset("mute", silent, approvals)
    with pytest.raises(McpServerError, match="did not finish the MCP handshake within 0.5 s"):
        await toolset.list_tools()
    await toolset.aclose()


def test_server_names_with_a_dot_are_refused(approvals: ApprovalStore, stdio_config: Any) -> None:
    with pytest.raises(ConfigError, match="no dot"):
        McpToolset("a.b", stdio_config(), approvals)

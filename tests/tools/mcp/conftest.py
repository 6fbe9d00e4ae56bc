"""MCP test servers: the SDK-built fixture server over stdio or streamable HTTP (started by the
``http_server`` fixture of tests/conftest.py), and helpers to call tools.

Each server is a real subprocess; the tests keep their number small, as each start costs about a second.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.config import McpServerConfig
from ponder.messages import ToolCallPart, ToolResultPart
from ponder.store import open_database
from ponder.tools import Tool, ToolRunner
from ponder.tools.mcp import ApprovalStore

HERE = Path(__file__).parent
FIXTURE_SERVER = HERE / "fixture_server.py"


StdioConfig = Callable[..., McpServerConfig]
Call = Callable[[list[Tool], str, dict[str, Any]], Awaitable[ToolResultPart]]


def _stdio_config(variant: str = "", timeout_s: float = 5.0) -> McpServerConfig:
    env = {"FIXTURE_VARIANT": variant} if variant else {}
    return McpServerConfig(
        command=sys.executable, args=[str(FIXTURE_SERVER), "stdio"], env=env, timeout_s=timeout_s
    )


async def _call(tools: list[Tool], name: str, arguments: dict[str, Any]) -> ToolResultPart:
    [result] = await ToolRunner(tools, timeout_s=30).run([ToolCallPart("call-1", name, arguments)])
    return result


@pytest.fixture
def stdio_config() -> StdioConfig:
    """``stdio_config(variant="", timeout_s=5.0)``: the fixture server over stdio, as configured."""
    return _stdio_config


@pytest.fixture
def call() -> Call:
    """``await call(tools, name, arguments)``: one call run the way a model turn does, by the ToolRunner."""
    return _call


@pytest.fixture
def approvals(tmp_path: Path) -> ApprovalStore:
    return ApprovalStore(open_database(tmp_path / "ponder.db"))


@pytest.fixture
def http_server_url(http_server: Callable[..., str]) -> str:
    """The fixture server over streamable HTTP on a free local port."""
    return http_server([sys.executable, str(FIXTURE_SERVER), "http"])

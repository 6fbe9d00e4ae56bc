"""MCP test servers: the SDK-built fixture server over stdio or streamable HTTP, and helpers to call tools.

Each server is a real subprocess; the tests keep their number small, as each start costs about a second.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
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


HttpServer = Callable[[list[str]], str]


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """``http_server(argv)``: start ``argv + [PORT]`` on a free local port, wait until it accepts
    connections, and return its MCP URL; every server started is killed after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        process = subprocess.Popen([*argv, str(port)], cwd=HERE, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}/mcp"
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    _, err = process.communicate(timeout=5)
                    pytest.fail(f"{argv} did not start listening: {err.decode(errors='replace')}")
                time.sleep(0.05)

    yield start
    for process in processes:
        process.kill()
        process.communicate(timeout=10)


@pytest.fixture
def http_server_url(http_server: HttpServer) -> str:
    """The fixture server over streamable HTTP on a free local port."""
    return http_server([sys.executable, str(FIXTURE_SERVER), "http"])

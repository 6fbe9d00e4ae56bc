"""McpToolset against the reference server from the npm registry, @modelcontextprotocol/server-everything.

The test installs the pinned package into .cache/npm (ignored by git) the first time, from the npm registry,
so the README's one test command is all a fresh machine needs; it fails, saying why, when node or npm is
missing or the install fails, rather than skipping without a word.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ponder.config import McpServerConfig
from ponder.tools import ToolContext, ToolError
from ponder.tools.mcp import ApprovalStore, McpToolset

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / ".cache" / "npm" / "node_modules" / "@modelcontextprotocol" / "server-everything"
INSTALL = [
    "npm",
    "install",
    "--no-audit",
    "--no-fund",
    "--prefix",
    ".cache/npm",
    "@modelcontextprotocol/server-everything@2026.8.31",
]


def everything_config() -> McpServerConfig:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the npm MCP server test: install Node.js 18 or newer.")
    entry = PACKAGE / "dist" / "index.js"
    if not entry.is_file():
        done = subprocess.run(INSTALL, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not entry.is_file():
            pytest.fail(f"`{' '.join(INSTALL)}` failed in {ROOT}:\n{done.stderr[-2000:]}")
    return McpServerConfig(command=node, args=[str(entry), "stdio"], timeout_s=20)


async def test_the_npm_reference_server(approvals: ApprovalStore, call: Any) -> None:
    toolset = McpToolset("everything", everything_config(), approvals)
    try:
        tools = {t.name: t for t in await toolset.list_tools()}
        assert {"everything.echo", "everything.get-sum", "everything.get-tiny-image"} <= tools.keys()
        assert tools["everything.echo"].parameters["properties"]["message"]["type"] == "string"
        listed = list(tools.values())

        echo = await call(listed, "everything.echo", {"message": "hello from ponder"})
        assert not echo.is_error and echo.content == "Echo: hello from ponder"
        summed = await call(listed, "everything.get-sum", {"a": 2, "b": 40})
        assert "42" in summed.content

        image = await call(listed, "everything.get-tiny-image", {})
        assert "[image content: image/png," in image.content and "not shown]" in image.content

        weather = await call(listed, "everything.get-structured-content", {"location": "New York"})
        assert '"temperature"' in weather.content

        invoke = tools["everything.echo"].invoke  # past the runner's own schema check, to the server's
        assert invoke is not None
        with pytest.raises(ToolError, match="Input validation error"):  # its isError result
            await invoke(ToolContext(), {})
    finally:
        await toolset.aclose()

"""``ponder mcp tools`` and ``ponder mcp approve`` against the SDK-built fixture server, and the config."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import McpServerConfig, load_settings
from ponder.errors import ConfigError
from ponder.store import open_database
from ponder.store.database import sql
from ponder.tools.mcp import ApprovalStore, ToolDefinition

FIXTURE_SERVER = Path(__file__).parents[1] / "tools" / "mcp" / "fixture_server.py"


def _context(variant: str = "", **more_servers: dict[str, Any]) -> CliContext:
    fx = {
        "command": sys.executable,
        "args": [str(FIXTURE_SERVER), "stdio"],
        "env": {"FIXTURE_VARIANT": variant},
    }
    return CliContext(overrides={"mcp_servers": {"fx": fx, **more_servers}})


def _approvals() -> dict[str, Any]:
    """What the database holds: {"servers": {server: {tool: {"description", ...}}}} ({} for nothing)."""
    db = open_database(load_settings().database)
    with db.reading() as conn:
        rows = conn.execute(sql("SELECT server, tool, description FROM mcp_approvals WHERE tool <> ''")).all()
    servers: dict[str, dict[str, Any]] = {}
    for server, tool, description in rows:
        servers.setdefault(server, {})[tool] = {"description": description}
    return {"servers": servers} if servers else {}


def test_tools_lists_first_sight_without_recording_and_approve_records_all() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["mcp", "tools"], obj=_context())
    assert listed.exit_code == 0, listed.output
    assert "fx.add" in listed.stdout and "first sight" in listed.stdout
    assert _approvals() == {}  # looking records nothing

    approved = runner.invoke(cli, ["mcp", "approve", "fx"], obj=_context())
    assert approved.exit_code == 0, approved.output
    assert "approved fx.add (was unseen)" in approved.stdout
    assert set(_approvals()["servers"]["fx"]) == {"add", "fail", "hang", "die", "pid"}


def test_a_changed_tool_is_shown_with_the_command_that_approves_it() -> None:
    stale = ToolDefinition("add", "Add two numbers, the old way.", {"type": "object"})
    store = ApprovalStore(open_database(load_settings().database))
    store.approve("fx", [stale])

    runner = CliRunner()
    changed = runner.invoke(cli, ["mcp", "tools", "fx"], obj=_context())
    assert changed.exit_code == 0, changed.output
    assert "changed (description, input" in changed.stdout and "new, not approved" in changed.stdout
    assert "ponder mcp approve fx add" in changed.stderr and "ponder mcp approve fx pid" in changed.stderr

    again = runner.invoke(cli, ["mcp", "approve", "fx", "add"], obj=_context())
    assert again.exit_code == 0, again.output
    assert "approved fx.add (was changed: description, input schema)" in again.stdout
    assert _approvals()["servers"]["fx"]["add"]["description"] == "Add two integers."
    assert set(_approvals()["servers"]["fx"]) == {"add"}  # the others stay new until approved


def test_unknown_and_unreachable_servers_are_clear_errors() -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["mcp", "approve", "nope"], obj=_context())
    assert unknown.exit_code == 2 and "No MCP server named 'nope' is configured" in unknown.stderr

    ghost = {"command": "/nonexistent/mcp-ghost"}
    failed = runner.invoke(cli, ["mcp", "tools", "ghost"], obj=_context(ghost=ghost))
    assert failed.exit_code == 3
    assert "MCP server 'ghost' (command `/nonexistent/mcp-ghost`) could not start" in failed.stderr

    missing_tool = runner.invoke(cli, ["mcp", "approve", "fx", "nope"], obj=_context())
    assert missing_tool.exit_code == 2 and "offers no tool named 'nope'" in missing_tool.stderr


def test_mcp_servers_come_from_the_config_file(isolated_dirs: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "ponder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        """
[mcp_servers.files]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/srv"]
env = { LOG_LEVEL = "warn" }
timeout_s = 10

[mcp_servers.search]
url = "http://127.0.0.1:8000/mcp"
headers = { "X-Team" = "ponder" }
"""
    )
    servers = load_settings().mcp_servers
    assert servers["files"] == McpServerConfig(
        command="npx",
        args=["-y", "@modelcontextprotocol/server-filesystem", "/srv"],
        env={"LOG_LEVEL": "warn"},
        timeout_s=10,
    )
    assert servers["search"].url == "http://127.0.0.1:8000/mcp" and servers["search"].headers == {
        "X-Team": "ponder"
    }

    config.write_text('[mcp_servers.both]\ncommand = "x"\nurl = "http://127.0.0.1:1/mcp"\n')
    with pytest.raises(ConfigError, match="either command"):
        load_settings()


def test_serve_refuses_tools_it_cannot_import() -> None:
    result = CliRunner().invoke(cli, ["mcp", "serve", "--tools", "no_such_module_here:tools"])
    assert result.exit_code == 2 and "no_such_module_here" in result.stderr
    assert CliRunner().invoke(cli, ["mcp", "serve"]).exit_code == 2  # --tools is required

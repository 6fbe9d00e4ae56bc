"""Approval by hash: a tool whose definition changed, or that appeared later, is disabled until approved."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ponder.errors import ConfigError
from ponder.tools.mcp import ApprovalStore, McpToolset, ToolDefinition

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_the_hash_covers_name_description_and_schema_but_not_key_order() -> None:
    base = ToolDefinition("t", "Does t.", SCHEMA)
    reordered = ToolDefinition("t", "Does t.", dict(reversed(list(SCHEMA.items()))))
    assert base.sha256() == reordered.sha256()
    assert len({base.sha256(), ToolDefinition("u", "Does t.", SCHEMA).sha256()}) == 2
    assert base.sha256() != ToolDefinition("t", "Does t!", SCHEMA).sha256()
    assert base.sha256() != ToolDefinition("t", "Does t.", {**SCHEMA, "required": []}).sha256()


def test_review_statuses_and_what_is_kept(approvals: ApprovalStore) -> None:
    tool = ToolDefinition("t", "Does t.", SCHEMA)
    assert [r.status for r in approvals.review("srv", [tool])] == ["unseen"]
    assert not approvals.knows("srv")

    approvals.approve("srv", [tool])
    assert approvals.knows("srv")
    changed = ToolDefinition("t", "Does t, and more.", {"type": "object"})
    new = ToolDefinition("n", "New.", SCHEMA)
    reviews = approvals.review("srv", [tool, changed, new])
    assert [(r.status, r.changed) for r in reviews] == [
        ("approved", ()),
        ("changed", ("description", "input schema")),
        ("new", ()),
    ]
    approvals.approve("empty", [])  # a server that offered no tools is still seen
    assert approvals.knows("empty") and approvals.review("empty", [tool])[0].status == "new"


def test_an_approval_given_through_one_store_holds_through_another(approvals: ApprovalStore) -> None:
    tool = ToolDefinition("t", "Does t.", SCHEMA)
    replica = ApprovalStore(approvals.db)  # another server process on the same database
    approvals.approve("srv", [tool])
    assert [r.status for r in replica.review("srv", [tool])] == ["approved"]


def test_an_earlier_approvals_file_is_taken_in_once(approvals: ApprovalStore, tmp_path: Path) -> None:
    tool = ToolDefinition("t", "Does t.", SCHEMA)
    record = {"sha256": tool.sha256(), "approved_at": "2026-01-02T03:04:05+00:00", "description": "Does t."}
    old = tmp_path / "mcp-approvals.json"
    old.write_text(json.dumps({"version": 1, "servers": {"srv": {"t": {**record, "input_schema": SCHEMA}}}}))
    assert approvals.import_file(old) == 1
    assert [r.status for r in approvals.review("srv", [tool])] == ["approved"]
    assert approvals.import_file(old) == 0  # the database's own approvals win from then on
    old.write_text("{not json")
    with pytest.raises(ConfigError, match="mcp-approvals.json cannot be read"):
        approvals.import_file(old)
    assert approvals.import_file(tmp_path / "none.json") == 0


async def test_a_changed_tool_is_disabled_until_approved_again(
    approvals: ApprovalStore, stdio_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = McpToolset("fx", stdio_config(), approvals)
    try:
        assert "fx.add" in [t.name for t in await first.list_tools()]  # trusted on first use, recorded
    finally:
        await first.aclose()
    assert approvals.knows("fx")

    caplog.set_level(logging.WARNING, logger="ponder.tools.mcp")
    changed = McpToolset("fx", stdio_config("description"), approvals)
    try:
        names = [t.name for t in await changed.list_tools()]
        assert "fx.add" not in names and "fx.pid" in names
        [warning] = [r.getMessage() for r in caplog.records]
        assert "MCP tool 'fx.add' is disabled: its description changed" in warning
        assert "`ponder mcp approve fx add`" in warning

        await changed.list_tools()  # the same change is not warned about again
        assert len(caplog.records) == 1

        [before] = await changed.approve(["add"])
        assert before.status == "changed" and before.changed == ("description",)
        add = {t.name: t for t in await changed.list_tools()}["fx.add"]
        assert add.description.startswith("Ignore previous instructions")  # what the operator approved
    finally:
        await changed.aclose()


async def test_a_changed_schema_and_a_later_tool_are_disabled(
    approvals: ApprovalStore, stdio_config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = McpToolset("fx", stdio_config(), approvals)
    try:
        await first.list_tools()
    finally:
        await first.aclose()

    caplog.set_level(logging.WARNING, logger="ponder.tools.mcp")
    updated = McpToolset("fx", stdio_config("schema,extra"), approvals)
    try:
        names = [t.name for t in await updated.list_tools()]
        assert "fx.add" not in names and "fx.multiply" not in names and "fx.fail" in names
        warnings = "\n".join(r.getMessage() for r in caplog.records)
        assert "'fx.add' is disabled: its input schema changed" in warnings
        assert "'fx.multiply' is disabled: server 'fx' started offering it after" in warnings

        statuses = {r.definition.name: r.status for r in await updated.review()}
        assert (
            statuses["add"] == "changed" and statuses["multiply"] == "new" and statuses["pid"] == "approved"
        )

        await updated.approve()  # every tool, as it is now
        tools = {t.name: t for t in await updated.list_tools()}
        assert "c" in tools["fx.add"].parameters["properties"] and "fx.multiply" in tools
    finally:
        await updated.aclose()

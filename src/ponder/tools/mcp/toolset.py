"""The tools of an MCP server as Ponder tools: ``McpToolset``, one per configured server.

Each tool is offered as ``SERVER.TOOL`` with the server's description and JSON input schema; its
``invoke`` calls the server and returns the result as text (see content.py). A result flagged
``isError`` raises ``ToolError``, and so does a server that times out, dies or refuses the call, so the
runner hands the model an error result and the turn goes on.

Approval policy (trust on first use, per server). The operator chose the server by configuring it, so
the first time Ponder lists a server's tools (no approvals on record for it), every tool offered then is
approved and recorded. From then on a tool is offered to the model only while its definition (name,
description, input schema) has the hash approved for it: a tool whose description or schema changed,
and a tool the server added later, are left out of ``list_tools`` with a warning naming the tool and
the command that approves it (``ponder mcp approve SERVER TOOL``), until someone does. A tool whose input
schema is not valid JSON schema is left out too. Approvals are stored by ``ApprovalStore``.

This module does not decide which servers exist (the config file does) nor run calls in parallel or
enforce the turn's overall time limit (the runner does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import jsonschema
import pydantic
from mcp import types

from ponder.config import McpServerConfig, Settings
from ponder.errors import ConfigError, UserError
from ponder.tools.base import Invoke, Tool, ToolContext, ToolError
from ponder.tools.mcp.approvals import ApprovalStore, Review, ToolDefinition, open_approvals
from ponder.tools.mcp.connection import McpConnection, McpServerError
from ponder.tools.mcp.content import result_text
from ponder.tools.toolset import Toolset

__all__ = ["McpToolset", "configured_toolsets"]

logger = logging.getLogger(__name__)


class McpToolset(Toolset):
    """The approved tools of the MCP server ``name``, reached as ``config`` says."""

    def __init__(self, name: str, config: McpServerConfig, approvals: ApprovalStore) -> None:
        if not name or "." in name:
            raise ConfigError(
                f"MCP server name '{name}' cannot be used: its tools are named SERVER.TOOL, so the "
                "name must be non-empty and contain no dot. Rename [mcp_servers.NAME] in the config file."
            )
        self.name = name
        self.config = config
        self.approvals = approvals
        self._connection = McpConnection(name, config)
        self._warned: set[tuple[str, str]] = set()  # (tool name, sha256) already warned about

    async def list_tools(self) -> list[Tool]:
        offered = await self._connection.list_tools()
        reviews = await asyncio.to_thread(self._reviewed, offered)  # the database, off the event loop
        tools = []
        for mcp_tool, review in zip(offered, reviews, strict=True):
            if review.status != "approved":
                self._warn_once(review, self._disabled_message(review))
                continue
            problem = _schema_problem(mcp_tool.input_schema)
            if problem is not None:
                self._warn_once(
                    review,
                    f"MCP tool '{self.name}.{mcp_tool.name}' is left out: its input schema is not a valid "
                    f"JSON schema ({problem}).",
                )
                continue
            tools.append(self._tool(mcp_tool))
        return tools

    async def review(self) -> list[Review]:
        """Every tool the server offers now with its approval status; records nothing."""
        offered = await self._connection.list_tools()
        return self.approvals.review(self.name, [_definition(t) for t in offered])

    async def approve(self, tool_names: Sequence[str] = ()) -> list[Review]:
        """Approve the named tools as the server defines them now (all of them when none are named).

        Returns the reviews of the approved tools as they were before approval."""
        reviews = await self.review()
        if tool_names:
            by_name = {r.definition.name: r for r in reviews}
            unknown = [name for name in tool_names if name not in by_name]
            if unknown:
                offered = ", ".join(sorted(by_name)) or "none"
                raise UserError(
                    f"MCP server '{self.name}' offers no tool named {', '.join(repr(n) for n in unknown)}. "
                    f"It offers: {offered}."
                )
            reviews = [by_name[name] for name in tool_names]
        self.approvals.approve(self.name, [r.definition for r in reviews])
        return reviews

    async def aclose(self) -> None:
        await self._connection.close()

    def _tool(self, mcp_tool: types.Tool) -> Tool:
        read_only = mcp_tool.annotations is not None and mcp_tool.annotations.read_only_hint is True
        return Tool(
            name=f"{self.name}.{mcp_tool.name}",
            description=mcp_tool.description or mcp_tool.title or "",
            parameters=mcp_tool.input_schema,
            invoke=self._invoker(mcp_tool.name),
            concurrent=read_only,  # a tool that may change things runs after the others, in call order
        )

    def _invoker(self, tool_name: str) -> Invoke:
        async def invoke(context: ToolContext, arguments: dict[str, Any]) -> str:
            try:
                result = await self._connection.call_tool(tool_name, arguments)
            except McpServerError as err:
                raise ToolError(str(err)) from err
            except (RuntimeError, pydantic.ValidationError) as err:  # a result the SDK could not accept
                raise ToolError(f"MCP server '{self.name}' sent an unusable result: {err}") from err
            text = result_text(result)
            if result.is_error:
                raise ToolError(text)
            return text

        return invoke

    def _reviewed(self, offered: Sequence[types.Tool]) -> list[Review]:
        """The approval status of each of ``offered``; all approved, and recorded, if the server is new
        (blocking: the approvals are in the database)."""
        reviews = self.approvals.review(self.name, [_definition(t) for t in offered])
        if not self.approvals.knows(self.name):
            self._trust_on_first_use(reviews)
            reviews = [Review(r.definition, "approved") for r in reviews]
        return reviews

    def _trust_on_first_use(self, reviews: Sequence[Review]) -> None:
        self.approvals.approve(self.name, [r.definition for r in reviews])
        logger.info(
            "MCP server '%s' seen for the first time: its %d tools are approved as they are now "
            "(recorded in the database; `ponder mcp tools %s` shows them).",
            self.name,
            len(reviews),
            self.name,
        )

    def _disabled_message(self, review: Review) -> str:
        name = review.definition.name
        if review.status == "changed":
            reason = f"its {' and '.join(review.changed)} changed since it was approved"
        else:
            reason = f"server '{self.name}' started offering it after its tools were approved"
        return (
            f"MCP tool '{self.name}.{name}' is disabled: {reason}. Review it with `ponder mcp tools "
            f"{self.name}`, then enable it with `ponder mcp approve {self.name} {name}`."
        )

    def _warn_once(self, review: Review, message: str) -> None:
        key = (review.definition.name, review.definition.sha256())
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", message)


def configured_toolsets(settings: Settings) -> list[McpToolset]:
    """One toolset per ``[mcp_servers.NAME]`` of the settings, sharing the approvals in the database."""
    approvals = open_approvals(settings)
    return [McpToolset(name, config, approvals) for name, config in settings.mcp_servers.items()]


def _definition(tool: types.Tool) -> ToolDefinition:
    return ToolDefinition(tool.name, tool.description or tool.title or "", tool.input_schema)


def _schema_problem(schema: dict[str, Any]) -> str | None:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        return err.message
    return None

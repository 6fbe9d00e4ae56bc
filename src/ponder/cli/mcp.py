"""``ponder mcp``: the configured MCP servers' tools and their approval, and Ponder's tools served over MCP.

- ``ponder mcp tools [SERVER]``: each configured server's tools with their approval status;
- ``ponder mcp approve SERVER [TOOL...]``: approve tools as the server defines them now (all when none
  are named); see ponder.tools.mcp.toolset for the policy;
- ``ponder mcp serve --tools MODULE:NAME [--http PORT]``: serve the named Ponder tools to MCP clients.

The MCP SDK takes about a second to import, so it is imported inside the commands: the other commands of
``ponder`` do not pay for it. This module formats and dispatches; the work is in ponder.tools.mcp.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ponder.config import Settings
from ponder.errors import PonderError, UserError
from ponder.tools.loading import import_toolset
from ponder.tools.toolset import Toolset

from .context import CliContext
from .render import as_markup, err_console, print_error, write_stdout
from .sanitize import plain

if TYPE_CHECKING:
    from ponder.tools.mcp import McpToolset, Review

__all__ = ["mcp"]


_STATUS = {  # status -> (how it is shown, whether the model gets the tool now)
    "approved": ("[green]approved[/]", True),
    "changed": ("[red]changed[/]", False),
    "new": ("[yellow]new, not approved[/]", False),
    "unseen": ("[cyan]first sight[/]", True),
}


@click.group()
def mcp() -> None:
    """MCP: review and approve the tools of configured MCP servers, or serve Ponder's tools over MCP."""


@mcp.command()
@click.argument("server", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def tools(obj: CliContext, server: str | None, as_json: bool) -> None:
    """List the tools of the configured MCP servers (or SERVER) and whether each is approved."""
    toolsets = _toolsets(obj.settings(), server)
    reviews, failures = asyncio.run(_review(toolsets))
    if as_json:
        rows = [
            {
                "name": f"{name}.{r.definition.name}",
                "server": name,
                "tool": r.definition.name,
                "status": r.status,
                "changed": list(r.changed),
                "sha256": r.definition.sha256(),
                "description": r.definition.description,
            }
            for name, found in reviews.items()
            for r in found
        ]
        write_stdout(json.dumps(rows, indent=2) + "\n")
    else:
        _print_reviews(reviews)
    for message in failures:
        print_error(message)
    if failures:
        raise click.exceptions.Exit(3)


@mcp.command()
@click.argument("server")
@click.argument("tool_names", metavar="[TOOL]...", nargs=-1)
@click.pass_obj
def approve(obj: CliContext, server: str, tool_names: tuple[str, ...]) -> None:
    """Approve TOOLs of SERVER (all of its tools when none are named) as they are defined now."""
    [toolset] = _toolsets(obj.settings(), server)
    approved = asyncio.run(_approve(toolset, tool_names))
    console = Console(highlight=False)
    for review in approved:
        name = as_markup(f"{server}.{review.definition.name}")
        if review.status == "approved":
            console.print(f"{name}: already approved")
            continue
        was = f"{review.status}: {', '.join(review.changed)}" if review.changed else review.status
        console.print(f"[green]approved[/] {name} (was {was})")
        console.print(f"  description: {as_markup(review.definition.description)}", style="dim")
    if not approved:
        console.print(f"MCP server '{as_markup(server)}' offers no tools; it is now marked as seen.")


@mcp.command()
@click.option(
    "--tools",
    "tool_specs",
    multiple=True,
    required=True,
    metavar="MODULE:NAME",
    help="Tools to serve (repeatable): MODULE:NAME (a Toolset, a list of tools, a @tool function) or MODULE.",
)
@click.option(
    "--http", "port", type=click.IntRange(1, 65535), default=None, help="Serve streamable HTTP on PORT."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind with --http. There is no authentication: keep it on this machine.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds a tool call may take.",
)
def serve(tool_specs: tuple[str, ...], port: int | None, host: str, timeout_s: float) -> None:
    """Serve Ponder tools to MCP clients: over stdio, or streamable HTTP at http://HOST:PORT/mcp."""
    toolsets = [import_toolset(spec) for spec in tool_specs]
    asyncio.run(_serve(toolsets, port=port, host=host, timeout_s=timeout_s))


def _toolsets(settings: Settings, server: str | None) -> list[McpToolset]:
    from ponder.tools.mcp import configured_toolsets

    toolsets = configured_toolsets(settings)
    if server is None:
        if not toolsets:
            raise UserError(
                "No MCP servers are configured: add an [mcp_servers.NAME] table to the config file."
            )
        return toolsets
    chosen = [t for t in toolsets if t.name == server]
    if not chosen:
        known = ", ".join(t.name for t in toolsets) or "none"
        raise UserError(f"No MCP server named '{server}' is configured (configured: {known}).")
    return chosen


async def _review(toolsets: Sequence[McpToolset]) -> tuple[dict[str, list[Review]], list[str]]:
    reviews: dict[str, list[Review]] = {}
    failures: list[str] = []
    for toolset in toolsets:
        try:
            reviews[toolset.name] = await toolset.review()
        except PonderError as err:
            failures.append(str(err))
        finally:
            await toolset.aclose()
    return reviews, failures


async def _approve(toolset: McpToolset, tool_names: Sequence[str]) -> list[Review]:
    try:
        return await toolset.approve(tool_names)
    finally:
        await toolset.aclose()


async def _serve(toolsets: Sequence[Toolset], *, port: int | None, host: str, timeout_s: float) -> None:
    from ponder.tools.mcp import serve_http, serve_stdio
    from ponder.tools.runner import ToolRunner

    try:
        runner = await ToolRunner.from_toolsets(toolsets)  # fails early on clashing names or bad schemas
        if port is None:
            await serve_stdio(toolsets, timeout_s=timeout_s)
        else:
            err_console.print(f"Serving {len(runner.tools)} tools at http://{host}:{port}/mcp", markup=False)
            await serve_http(toolsets, port=port, host=host, timeout_s=timeout_s)
    finally:
        for toolset in toolsets:
            await toolset.aclose()


def _print_reviews(reviews: dict[str, list[Review]]) -> None:
    table = Table(box=None, pad_edge=False)
    table.add_column("tool", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("description")
    pending = []
    first_sight = False
    for server, found in reviews.items():
        if not found:
            table.add_row(as_markup(f"{server}.*"), "[dim]offers no tools[/]", "")
        for review in found:
            shown, usable = _STATUS[review.status]
            if review.changed:
                shown += f" ({', '.join(review.changed)})"
            description = review.definition.description.replace("\n", " ")
            description = description if len(description) <= 70 else description[:69] + "…"
            table.add_row(as_markup(f"{server}.{review.definition.name}"), shown, as_markup(description))
            if not usable:
                pending.append(f"ponder mcp approve {server} {review.definition.name}")
            first_sight = first_sight or review.status == "unseen"
    Console(highlight=False).print(table)
    if first_sight:
        err_console.print(
            "\nfirst sight: Ponder has not listed this server's tools before; they are approved as they "
            "are when it first does (trust on first use), or now with `ponder mcp approve SERVER`.",
            markup=False,
        )
    if pending:
        lines = "\n".join(f"  {command}" for command in pending)
        err_console.print(plain(f"\nDisabled until approved; review them, then run:\n{lines}"), markup=False)

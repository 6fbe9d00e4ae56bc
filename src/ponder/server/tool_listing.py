"""``ToolListing``: the tools of the server's toolsets (``tools`` setting), listed again as they age.

The server lists its toolsets once when it starts, where a failure stops the start (a misconfigured toolset
is found then), and again before a turn once that listing is older than ``[server] tools_refresh_s``
(0: before every turn). Listing again is what lets a running replica follow its MCP servers' approvals in
the shared database: a tool approved since (``ponder mcp approve``, from any machine) is offered, and one
whose definition changed on its server is withheld. Turns that ask at the same time wait for one listing.

A listing that fails later does not fail the turn: a toolset that cannot be listed (its MCP server is down)
keeps the tools it offered before, and a listing whose tools cannot run together (two of the same name)
keeps the previous tools whole, each with a logged warning. The listing closes its toolsets when the server
stops. This module does not load the toolsets (tools/loading.py does) nor decide what one offers (MCP
approvals are the toolset's: it reads them from the database, in a worker thread, at every listing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from ponder.tools.base import Tool
from ponder.tools.runner import ToolRunner
from ponder.tools.toolset import Toolset

__all__ = ["ToolListing"]

log = logging.getLogger("ponder.server")


class ToolListing:
    """The tools of ``toolsets`` as last listed, listed again when older than ``refresh_s`` seconds."""

    def __init__(self, toolsets: Sequence[Toolset] = (), refresh_s: float = 0.0) -> None:
        self.toolsets = list(toolsets)
        self.refresh_s = refresh_s
        self.tools: list[Tool] = []  # what turns are offered: every toolset's, in the toolsets' order
        self._by_toolset: list[list[Tool]] = [[] for _ in self.toolsets]  # each toolset's last tools
        self._listed_at: float | None = None  # time.monotonic() when the last listing began; None: never
        self._listings = 0  # listings done (ended, failed or not): how a waiting call sees one ended
        self._lock = asyncio.Lock()

    async def list_at_start(self) -> None:
        """List every toolset's tools now; the first failure raises (the server then does not start)."""
        started = time.monotonic()
        listed: list[list[Tool]] = []
        for result in await self._list_each():
            if isinstance(result, BaseException):
                raise result
            listed.append(result)
        self._keep(listed, started)

    async def current(self) -> list[Tool]:
        """The tools of a listing begun at most ``refresh_s`` before this call, else of a new one; a call
        that comes while a listing runs waits for it and takes its tools (one listing at a time)."""
        asked = time.monotonic()
        if not self.toolsets or (self._listed_at is not None and self._listed_at >= asked - self.refresh_s):
            return self.tools
        seen = self._listings
        async with self._lock:
            if self._listings == seen:  # none ended while this call waited: list now
                try:
                    await self._relist()
                finally:
                    self._listings += 1
        return self.tools

    async def aclose(self) -> None:
        """Close every toolset (their connections and processes); the listing is empty after."""
        for toolset in self.toolsets:
            try:
                await toolset.aclose()
            except Exception as err:
                log.warning("could not close the toolset %s: %s", toolset.name, err)
        self.toolsets, self.tools, self._by_toolset = [], [], []

    async def _list_each(self) -> list[list[Tool] | BaseException]:
        """Each toolset's tools, or why it could not list them, listed together."""
        calls = (toolset.list_tools() for toolset in self.toolsets)
        return list(await asyncio.gather(*calls, return_exceptions=True))

    async def _relist(self) -> None:
        started = time.monotonic()
        listed: list[list[Tool]] = []
        for toolset, previous, result in zip(
            self.toolsets, self._by_toolset, await self._list_each(), strict=True
        ):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                log.warning(
                    "could not list the tools of %s again, so its turns keep the tools listed before: %s",
                    toolset.name,
                    result,
                )
                result = previous
            listed.append(result)
        try:
            self._keep(listed, started)
        except Exception as err:  # tools that cannot run together (ToolRunner's checks)
            self._listed_at = started  # tried again after refresh_s, not at every turn
            log.warning("the toolsets' tools listed again cannot be offered, so turns keep the last: %s", err)

    def _keep(self, listed: list[list[Tool]], started: float) -> None:
        """Offer ``listed`` (one list per toolset) from now on, once ToolRunner accepts them together (it
        raises as at the start: two tools of one name, a schema that is not JSON schema)."""
        tools = list(ToolRunner([tool for tools in listed for tool in tools]).tools.values())
        self.tools, self._by_toolset, self._listed_at = tools, listed, started

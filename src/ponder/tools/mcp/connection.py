"""One live session with one MCP server, over stdio or streamable HTTP, with the official SDK's client.

The SDK's transports and ``ClientSession`` are async context managers that run task groups, so each must
be entered and exited by the same task. A connection therefore lives in a task of its own: it opens the
transport and the session, answers the handshake, and holds them until ``close()``; other tasks make
requests on the session meanwhile. Opening is lazy (the first request) and happens again after the server
went away, so a crashed server costs the call that crashed it, not the rest of the session.

Starting (up to the end of the handshake) is bounded by the server's ``start_timeout_s``, and every
request by its ``timeout_s``. Failures become ``McpServerError`` with a message naming the server and its
command or URL: a command that cannot start, a handshake that never comes, a request with no answer in
time, a server that closed the connection (a dead stdio process is seen at once, as the end of its
output). A stdio server's stderr goes to a temporary file whose last lines are quoted in
those messages, instead of mixing into Ponder's terminal.

This module knows nothing of approvals or of Ponder's ``Tool``: ``McpToolset`` builds on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TextIO, cast

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ponder import __version__
from ponder.config import McpServerConfig
from ponder.errors import McpServerError

__all__ = ["McpConnection", "McpServerError"]

logger = logging.getLogger(__name__)

_MAX_PAGES = 100  # tools/list pages followed before giving up on a server that never stops paginating
_STDERR_TAIL_CHARS = 1500
_SSE_READ_TIMEOUT_S = 300.0  # the server's event stream may stay quiet this long; requests have their own


class _ConnectionClosed(McpServerError):
    """The server went away (its process exited, the HTTP session ended); a new connection may work."""


class McpConnection:
    """A lazily opened, self-healing session with the MCP server ``name`` described by ``config``."""

    def __init__(self, name: str, config: McpServerConfig) -> None:
        self.name = name
        self.config = config
        self._lock = asyncio.Lock()
        self._session: ClientSession | None = None
        self._holder: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._stderr: _StderrLog | None = None

    def describe(self) -> str:
        """How the server is reached, for messages: its command line or its URL."""
        if self.config.command is not None:
            return f"command `{shlex.join([self.config.command, *self.config.args])}`"
        return f"URL {self.config.url}"

    async def list_tools(self) -> list[types.Tool]:
        """Every tool the server offers now (all pages). A connection found closed is reopened once."""
        try:
            return await self._list_tools(await self._open())
        except _ConnectionClosed:
            return await self._list_tools(await self._open())

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call the tool ``name``; the result may carry ``is_error`` (the tool failed, the server did not)."""
        session = await self._open()
        try:
            return await session.call_tool(name, arguments, read_timeout_seconds=self.config.timeout_s)
        except MCPError as err:
            raise self._request_error(err, f"the call to '{name}'", session) from None

    async def close(self) -> None:
        """End the session and stop the server process (bounded: the SDK kills a server that lingers)."""
        async with self._lock:
            await self._release()

    async def _list_tools(self, session: ClientSession) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            try:
                with anyio.fail_after(self.config.timeout_s):
                    page = await session.list_tools(params=params)
            except TimeoutError:
                raise self._request_error(_timed_out(), "the tools/list request", session) from None
            except MCPError as err:
                raise self._request_error(err, "the tools/list request", session) from None
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools
        raise McpServerError(
            f"MCP server '{self.name}' kept paginating its tool list past {_MAX_PAGES} pages."
        )

    async def _open(self) -> ClientSession:
        async with self._lock:
            if self._session is not None and self._holder is not None and not self._holder.done():
                return self._session
            await self._release()
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[ClientSession] = loop.create_future()
            self._stop = asyncio.Event()
            self._stderr = _StderrLog() if self.config.command is not None else None
            self._holder = loop.create_task(self._hold(ready, self._stop), name=f"mcp-server:{self.name}")
            try:
                self._session = await ready
            except BaseException:
                await self._release(cancel=True)  # a failed start has ended already; a cancelled one ends now
                raise
            return self._session

    async def _hold(self, ready: asyncio.Future[ClientSession], stop: asyncio.Event) -> None:
        """The connection's own task: enter the SDK's context managers, serve until ``stop``, exit them."""
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = ClientSession(
                    read, write, client_info=types.Implementation(name="ponder", version=__version__)
                )
                await stack.enter_async_context(session)
                with anyio.fail_after(self.config.start_timeout_s):
                    await session.initialize()
                ready.set_result(session)
                await stop.wait()
        except Exception as err:
            if not ready.done():
                ready.set_exception(self._start_error(err))
            else:  # the session was in use: the next request reopens it
                logger.debug("MCP server '%s': connection ended: %r", self.name, err)
        finally:
            if not ready.done():  # cancelled while starting
                ready.cancel()

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        config = self.config
        if config.command is not None:
            assert self._stderr is not None
            params = StdioServerParameters(command=config.command, args=config.args, env=config.env or None)
            return stdio_client(params, errlog=self._stderr.file)
        assert config.url is not None
        return _http_transport(config.url, self._headers(), config.timeout_s)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        for header, variable in self.config.headers_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise McpServerError(
                    f"MCP server '{self.name}' needs the environment variable {variable} "
                    f"for its {header} header; set it, or change headers_env in [mcp_servers.{self.name}]."
                )
            headers[header] = value
        return headers

    async def _release(self, *, cancel: bool = False) -> None:
        """Stop the holder task (it exits the SDK's context managers itself) and forget the session."""
        self._session = None
        holder, self._holder = self._holder, None
        if holder is not None:
            self._stop.set()
            if cancel:
                holder.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(holder)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _start_error(self, err: Exception) -> McpServerError:
        if isinstance(err, McpServerError):
            return err
        cause = _leaf(err)
        where = f"MCP server '{self.name}' ({self.describe()})"
        if isinstance(cause, FileNotFoundError) and self.config.command is not None:
            message = f"{where} could not start: '{self.config.command}' was not found."
        elif isinstance(cause, TimeoutError) or _is_timeout(cause):
            message = f"{where} did not finish the MCP handshake within {self.config.start_timeout_s:g} s."
        elif isinstance(cause, MCPError) and cause.code == types.CONNECTION_CLOSED:
            message = f"{where} closed the connection before the MCP handshake."
        else:
            verb = "started" if self.config.command is not None else "reached"
            message = f"{where} could not be {verb}: {type(cause).__name__}: {cause}."
        hint = f" Check [mcp_servers.{self.name}] in Ponder's config file."
        return McpServerError(message + self._stderr_tail() + hint)

    def _request_error(self, err: MCPError, what: str, session: ClientSession) -> McpServerError:
        where = f"MCP server '{self.name}' ({self.describe()})"
        if err.code == types.REQUEST_TIMEOUT:
            return McpServerError(f"{where} did not answer {what} within {self.config.timeout_s:g} s.")
        if err.code == types.CONNECTION_CLOSED:
            if self._session is session:
                self._session = None  # reopened at the next use
            return _ConnectionClosed(
                f"{where} closed the connection during {what}; Ponder reconnects at its next use."
                + self._stderr_tail()
            )
        return McpServerError(f"{where} rejected {what}: {err.message} (MCP error {err.code}).")

    def _stderr_tail(self) -> str:
        tail = self._stderr.tail() if self._stderr is not None else ""
        return f" Its last output on stderr:\n{tail}\n" if tail else ""


@asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], timeout_s: float) -> AsyncIterator[Any]:
    timeout = httpx2.Timeout(timeout_s, read=max(timeout_s, _SSE_READ_TIMEOUT_S))
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
        streamable_http_client(url, http_client=client) as streams,
    ):
        yield streams


class _StderrLog:
    """A stdio server's stderr, kept in a temporary file (the child writes to it through its own fd)."""

    def __init__(self) -> None:
        temporary = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by close()
        self.file = cast(TextIO, temporary)

    def tail(self) -> str:
        """The last lines written, read without moving the offset the child writes at."""
        try:
            fd = self.file.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - _STDERR_TAIL_CHARS)
            data = os.pread(fd, size - start, start)
        except (OSError, ValueError, AttributeError):  # closed, or no pread (Windows)
            return ""
        return data.decode("utf-8", errors="replace").strip()

    def close(self) -> None:
        self.file.close()


def _timed_out() -> MCPError:
    return MCPError(code=types.REQUEST_TIMEOUT, message="timed out")


def _is_timeout(err: BaseException) -> bool:
    return isinstance(err, MCPError) and err.code == types.REQUEST_TIMEOUT


def _leaf(err: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err

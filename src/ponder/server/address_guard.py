"""Outbound HTTP to a host a client named, connecting only to addresses that were checked.

A URL from a request (an image to fetch) must not make the server reach its own network: loopback, private
ranges, link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses, in
IPv4 and IPv6, including IPv4 addresses carried inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64). The check
is made on what the resolver returns, never on the URL's text, so ``http://2130706433/``, ``0x7f.0.0.1`` or
a public-looking name whose DNS answers ``127.0.0.1`` are judged by the address they resolve to.

Against DNS rebinding (a name that resolves to a public address when checked and to a private one when
connected), the check lives in the connection itself: ``GuardedBackend`` is the httpcore network backend
under the HTTP client; it resolves the host once, checks every address, and opens the TCP connection to a
checked address. TLS still verifies the certificate against, and sends SNI for, the URL's host name, and the
``Host`` header is the URL's, because only the TCP connect is replaced. Every redirect hop connects anew
(or reuses a connection already checked), so each hop is checked too.

It does not decide what is fetched or how much (``ponder.server.image_fetch`` does), and it does not go
through proxies: the client it builds ignores ``HTTP_PROXY`` and the like, so that the address checked is
the address reached.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpcore
import httpx

__all__ = [
    "AddressRefusedError",
    "GuardedBackend",
    "IPAddress",
    "Resolver",
    "SystemResolver",
    "UnresolvableHostError",
    "guarded_client",
    "guarded_transport",
    "is_public",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]  # (host, port) -> its addresses, in order

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are an IPv4 address


class AddressRefusedError(Exception):
    """The host resolves to an address that is not public; the message names neither host nor address."""


class UnresolvableHostError(Exception):
    """The resolver found no address for the host."""


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a globally routable unicast address (IPv4 inside IPv6 judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class SystemResolver:
    """The system resolver (``getaddrinfo``: numeric forms such as ``2130706433`` are parsed there as the C
    library does) in threads of its own: a lookup that hangs (a name server that never answers) waits there,
    never in the worker threads the server's other requests need; at most ``threads`` lookups run at once,
    the others queue. Answers come without duplicates, in the resolver's order."""

    def __init__(self, threads: int = 4) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None  # made on the first lookup

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ponder-dns")
        lookup = functools.partial(
            socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        try:
            infos = await asyncio.get_running_loop().run_in_executor(self._pool, lookup)
        except (socket.gaierror, UnicodeError) as err:
            raise UnresolvableHostError(f"its host could not be resolved ({err})") from None
        found: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in found:
                found.append(ip)
        return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the resolver gave and the guard accepted.

    ``resolver`` defaults to a ``SystemResolver``. With ``public_only`` false every resolved address is
    accepted (a server on a trusted network), and the connection still goes to the address resolved here."""

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        public_only: bool = True,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.resolver = resolver or SystemResolver()
        self.public_only = public_only
        self.inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to; refused when any of them is not public (a name that mixes public
        and private answers is refused whole, whichever a later lookup would return first)."""
        addresses = await self.resolver(host, port)
        if not addresses:
            raise UnresolvableHostError("its host could not be resolved")
        if self.public_only and not all(is_public(ip) for ip in addresses):
            raise AddressRefusedError(
                "its host resolves to an address that is not public (private, loopback, link-local, "
                "multicast or reserved); this server fetches image URLs from public addresses only"
            )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.checked_addresses(host, port)
        options = list(socket_options or ())
        failure: Exception | None = None
        for ip in addresses:  # the first that answers, as a client tries each address of a name
            try:
                return await self.inner.connect_tcp(str(ip), port, timeout, local_address, options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefusedError("unix sockets are not reachable from a URL")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(backend: GuardedBackend, ssl_context: ssl.SSLContext) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections all go through ``backend``; no proxy, HTTP/1.1, no retries."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise RuntimeError("this httpx keeps its connection pool elsewhere; the address guard cannot attach")
    # httpx takes no network backend of its own: its pool is replaced by one that has the guarded backend.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=16, network_backend=backend
    )
    return transport


def guarded_client(
    backend: GuardedBackend,
    ssl_context: ssl.SSLContext,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An HTTP client whose every connection goes through ``backend``: no proxy from the environment, and
    no redirect followed (each hop would be a URL nobody checked the purpose of)."""
    return httpx.AsyncClient(
        transport=guarded_transport(backend, ssl_context),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )

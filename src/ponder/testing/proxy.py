"""A small round-robin HTTP proxy: the load balancer in front of several Ponder replicas in the multi-replica
tests and benches (``python -m ponder.testing.proxy --port 8080 http://127.0.0.1:8001 http://...``).

Each request goes to the next upstream in turn, whole bodies in and streamed answers out (server-sent
events pass through as they come), with an ``X-Upstream`` header naming which upstream answered (its
index); ``GET /_proxy/healthz`` is answered by the proxy itself. An upstream that refuses the connection (a
replica killed, or not started yet) is skipped for ``down_s`` seconds and the request goes to the next one:
nothing was sent to it, so that is safe, as a real balancer's passive health check does. A request an
upstream took and then dropped is answered 502 and never sent again (the client decides whether to retry),
and that upstream is skipped a while too.

Not here: TLS, active health checks, keep-alive tuning, or HTTP/2: a load balancer in production is nginx,
Envoy, a cloud balancer or a Kubernetes Service (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from typing import Any

import httpx

__all__ = ["HEALTH_PATH", "RoundRobinProxy", "main"]

HEALTH_PATH = "/_proxy/healthz"

# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), and the ones httpx sets itself.
_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
_SET_BY_CLIENT = {"host", "content-length"}


class RoundRobinProxy:
    """An ASGI app sending each request to the next of ``upstreams`` (base URLs)."""

    def __init__(self, upstreams: Sequence[str], *, down_s: float = 2.0, timeout_s: float = 600.0) -> None:
        if not upstreams:
            raise ValueError("the proxy needs at least one upstream")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.down_s = down_s
        self._turn = itertools.cycle(range(len(self.upstreams)))
        self._down_until = [0.0] * len(self.upstreams)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        self._client = httpx.AsyncClient(timeout=timeout_s, limits=limits)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == HEALTH_PATH:  # the proxy's own liveness, answered here
            await _plain(send, 200, b"ok\n")
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP | _SET_BY_CLIENT
        ]
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        for index in self._order():
            request = self._client.build_request(
                scope["method"], self.upstreams[index] + target, headers=headers, content=bytes(body)
            )
            try:
                response = await self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self._down_until[index] = time.monotonic() + self.down_s
                continue
            except httpx.TransportError:  # it may have taken the request: not sent again, and skipped a while
                self._down_until[index] = time.monotonic() + self.down_s
                await _plain(send, 502, b"the upstream dropped the request\n")
                return
            await self._relay(response, index, send)
            return
        await _plain(send, 502, b"no upstream took the connection\n")

    def _order(self) -> list[int]:
        """Every upstream once, starting with the next in turn; those marked down go last."""
        first = next(self._turn)
        count = len(self.upstreams)
        order = [(first + step) % count for step in range(count)]
        now = time.monotonic()
        return sorted(order, key=lambda i: self._down_until[i] > now)

    async def _relay(self, response: httpx.Response, index: int, send: Any) -> None:
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP
        ]
        headers.append((b"x-upstream", str(index).encode()))
        started = False
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            started = True
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError:
            if not started:
                await _plain(send, 502, b"the upstream dropped the request\n")
            # Started: the client sees a cut answer (its connection is closed below), never a complete one.
            raise
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _plain(send: Any, status: int, text: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m ponder.testing.proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("upstreams", nargs="+", help="base URLs, e.g. http://127.0.0.1:8001")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--down", type=float, default=2.0, help="seconds an upstream refusing connections is skipped"
    )
    args = parser.parse_args(argv)
    app = RoundRobinProxy(args.upstreams, down_s=args.down)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()

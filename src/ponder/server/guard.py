"""What a web browser may do with this server: the local mode's checks against other sites, and the page
security headers.

``ponder serve --no-key`` listens on loopback only, but a browser on the same machine reaches loopback too:
a page of another site can POST to ``/v1/chat/completions`` (a ``text/plain`` body needs no CORS preflight)
and, by DNS rebinding (its own name resolving to 127.0.0.1), even read the answers. In local mode, where no
key stands between a browser and the person's data, every request must therefore:

* name this server in ``Host``: ``localhost``, ``127.0.0.1`` or ``[::1]``, with the port it is bound to
  (a rebinding page sends its own name), else 403 ``host_not_allowed``;
* come from one of those origins when the browser says where it comes from (``Origin``), else 403
  ``origin_not_allowed``;
* send a body of the route's type: ``application/json`` on the JSON routes (a cross-site form or
  ``text/plain`` POST cannot), else 415 ``unsupported_media_type``. A POST without a body needs no type.

With keys, the key is what a cross-site page lacks, so these checks are not made there. Every response,
either way, says it must not be framed (``X-Frame-Options: DENY``) and carries a Content-Security-Policy:
the chat page's own files only, the API docs' CDN for ``/docs``, nothing at all for the API's answers. A
response that sets its own policy (the UCP confirmation page) keeps it.
"""

from __future__ import annotations

import contextlib
import ipaddress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.server.errors import ApiError

__all__ = ["LOCAL_HOSTS", "BrowserGuard"]

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# path -> the media types its body may have; every other route with a body takes JSON
_OTHER_BODIES: dict[str, tuple[str, ...]] = {
    "/v1/audio/transcriptions": ("multipart/form-data",),
    "/v1/interests/events": ("application/json", "application/x-ndjson", "application/jsonl"),
}
_JSON = ("application/json",)
_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}

PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


class BrowserGuard:
    """ASGI middleware: the local mode's checks (``local=True``) and the security headers on every answer."""

    def __init__(self, app: ASGIApp, *, local: bool) -> None:
        self.app = app
        self.local = local

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and self.local and self._refusal(scope) is not None:
                await receive()  # websocket.connect, answered with a refusal (403)
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        policy = _policy(scope["path"])

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", policy.encode()))
                if b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        refusal = self._refusal(scope) if self.local else None
        if refusal is not None:
            await refusal.response()(scope, receive, secured)
            return
        await self.app(scope, receive, secured)

    def _refusal(self, scope: Scope) -> ApiError | None:
        """Why a local-mode request is refused, or None."""
        headers = dict(scope.get("headers") or [])
        allowed = _local_origins(scope)
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in allowed:
            return ApiError(
                403,
                f"Host {host!r} is not this server: without a key, it answers only to "
                f"{' or '.join(sorted(allowed))}.",
                "permission_error",
                "host_not_allowed",
            )
        origin = headers.get(b"origin")
        if origin is not None:
            scheme, _, where = origin.decode("latin-1").lower().partition("://")
            if scheme not in ("http", "https") or where not in allowed:
                return ApiError(
                    403,
                    "Requests from other sites are refused: without a key, this server answers only its own "
                    "pages and local clients.",
                    "permission_error",
                    "origin_not_allowed",
                )
        if scope.get("method") in _WITH_BODY and _has_body(headers):
            wanted = _OTHER_BODIES.get(scope["path"], _JSON)
            given = headers.get(b"content-type", b"").decode("latin-1").partition(";")[0].strip().lower()
            if given not in wanted:
                return ApiError(
                    415,
                    f"This route takes a body of type {' or '.join(wanted)}, not {given or 'none'!r}.",
                    "invalid_request_error",
                    "unsupported_media_type",
                )
        return None


def _local_origins(scope: Scope) -> set[str]:
    """The ``host[:port]`` forms that name this server: the local names (and the loopback address it is bound
    to, such as 127.0.0.2), at the port it is bound to."""
    server = scope.get("server")
    hosts = set(LOCAL_HOSTS)
    if not server or server[1] is None:
        return hosts
    address, port = server
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(address)
        if ip.is_loopback:
            hosts.add(f"[{ip}]" if ip.version == 6 else str(ip))
    names = {f"{host}:{port}" for host in hosts}
    return names | hosts if port == 80 else names


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return b"transfer-encoding" in headers


def _policy(path: str) -> str:
    if path == "/" or path.startswith("/static/"):
        return PAGE_POLICY
    if path.startswith("/docs"):
        return DOCS_POLICY
    return API_POLICY

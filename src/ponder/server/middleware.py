"""The ASGI layer around every request: a request id, the body size limit, metrics and one log line.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a copy per request and breaks
streaming cancellation. The request id comes from a sane ``X-Request-Id`` header or is made here; it is sent
back in ``X-Request-Id``, put in ``scope["state"]`` for the handlers, and written in the log line.

Only the routes that take media, imports or batches (chat, transcriptions, embeddings, interest events) get
``max_body_bytes``; every other route's JSON is small, and FastAPI parses it on the event loop before the
handler runs, so its body is held to ``max_small_body_bytes``. A body over the limit is refused with 413
whether it says its length (refused before it is read) or comes chunked (refused once the limit is passed
while reading). ``BodyTooLarge`` is an HTTP exception, so the routes whose body FastAPI parses, which turn
any other error while reading into a 400, let it through.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.server.errors import ApiError
from ponder.server.metrics import Metrics
from ponder.sharing import LARGE_REQUEST_BYTES, small_work

__all__ = ["BodyTooLarge", "JsonLogFormatter", "RequestMiddleware"]

log = logging.getLogger("ponder.server")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ROUTES = {
    "/v1/chat/completions",
    "/v1/audio/transcriptions",
    "/v1/embeddings",
    "/v1/models",
    "/healthz",
    "/metrics",
    "/",
    "/openapi.json",
}


_LARGE_BODY_ROUTES = {
    "/v1/chat/completions",
    "/v1/audio/transcriptions",
    "/v1/embeddings",
    "/v1/interests/events",
}
_ROUTE_PREFIXES = ("/v1/sessions", "/v1/memories", "/v1/interests", "/v1/users")


def _route(path: str) -> str:
    """The metrics label of a path: the route, without ids (a bounded set of labels)."""
    if path in _ROUTES:
        return path
    return next((prefix for prefix in _ROUTE_PREFIXES if path.startswith(prefix)), "other")


class BodyTooLarge(HTTPException):
    """The request's body is over the server's limit (413)."""

    def __init__(self, limit: int) -> None:
        size = f"{limit / 1024**2:g} MiB" if limit >= 1024**2 else f"{limit / 1024:g} KiB"
        super().__init__(413, f"The request body is larger than {size}, the most this route takes.")

    def error(self) -> ApiError:
        return ApiError(413, str(self.detail), code="body_too_large")


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int, max_small_body_bytes: int
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_small_body_bytes = min(max_small_body_bytes, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False
        received = 0
        limit = self.max_body_bytes if scope["path"] in _LARGE_BODY_ROUTES else self.max_small_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise BodyTooLarge(limit)
            if _small(scope["method"], length):  # large requests' work breathes while it runs
                with small_work():
                    await self.app(scope, limited_receive, tagged_send)
            else:
                await self.app(scope, limited_receive, tagged_send)
        except BodyTooLarge as err:
            if not started:
                await err.error().response()(scope, receive, tagged_send)
        finally:
            path = _route(scope["path"])
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "account": scope["state"].get("account"),
                    },
                )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the record's extra fields."""

    _PLAIN = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in self._PLAIN})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def _small(method: str, length: bytes | None) -> bool:
    """Whether a request is small work (ponder.sharing): no body, or a declared one of at most
    ``LARGE_REQUEST_BYTES``. A body sent without its length (chunked) is not known to be small."""
    if length is None:
        return method in ("GET", "HEAD", "OPTIONS", "DELETE")
    return length.isdigit() and int(length) <= LARGE_REQUEST_BYTES

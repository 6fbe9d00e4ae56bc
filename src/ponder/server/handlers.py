"""The application's exception handlers: whatever a route raises leaves in OpenAI's error shape (ApiError).

A validation error is a 400 naming the field; a busy database a 503 with Retry-After; Starlette's own 404
and 405 keep their status (a 405 naming every method the path allows); anything else is a logged 500 that
gives the request id. Not here: the UCP routes' own shapes (server/ucp/router.py catches its errors first).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ponder.errors import StoreBusyError
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.middleware import BodyTooLarge
from ponder.server.state import ServerState

__all__ = ["install_error_handlers"]

log = logging.getLogger("ponder.server")


def install_error_handlers(app: FastAPI, state: ServerState) -> None:
    """Register the handlers on ``app`` (``state``: whose metrics count the refusals)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Invalid request: {where + ': ' if where else ''}{first.get('msg', err)}"
        return ApiError(400, message, param=where or None).response()

    @app.exception_handler(StoreBusyError)
    async def busy(request: Request, err: StoreBusyError) -> Response:
        state.metrics.rejected.labels("database_busy").inc()
        return from_ponder_error(err).response()  # 503 with Retry-After: a wait, not a bug

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if isinstance(err, BodyTooLarge):  # raised while FastAPI read a chunked body
            return err.error().response()
        kind = "not_found_error" if err.status_code == 404 else "invalid_request_error"
        headers = dict(err.headers or {})
        if err.status_code == 405:  # Starlette names only the first route's methods: name every route's
            headers["Allow"] = ", ".join(_allowed(app, request))
        return ApiError(err.status_code, str(err.detail), kind, headers=headers).response()

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception) -> Response:
        request_id = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"request_id": request_id})
        message = f"Internal error (request {request_id}): this is a bug in Ponder; the log has the details."
        return ApiError(500, message, "server_error").response()


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)

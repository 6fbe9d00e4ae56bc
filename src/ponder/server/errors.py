"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with the right status.

``ApiError`` is what handlers raise on purpose; ``from_ponder_error`` maps Ponder's own exception tree onto
HTTP (misuse is 400, an unknown model 404, a model that cannot be used now 503, a failing upstream 502;
a declined payment 402, a request still in flight 409, a reused idempotency key or a stale change 422, a busy
database 503 with Retry-After).
Anything else is a bug: a 500 with the request id, whose traceback goes to the log, never to the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.responses import JSONResponse

from ponder.errors import (
    BackendConnectionError,
    BackendError,
    ConflictError,
    ContextLengthError,
    ModelUnavailableError,
    NotFoundError,
    PaymentDeclinedError,
    PaymentProviderError,
    PonderError,
    RateLimitedError,
    StoreBusyError,
    UnknownModelError,
    UserError,
)

__all__ = ["ApiError", "error_response", "from_ponder_error"]


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_response(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    return ApiError(status, message, type_, code).response()


def from_ponder_error(err: PonderError) -> ApiError:
    message = str(err)
    if isinstance(err, UnknownModelError):
        return ApiError(404, message, "invalid_request_error", "model_not_found", "model")
    if isinstance(err, ContextLengthError):
        return ApiError(400, message, "invalid_request_error", "context_length_exceeded", "messages")
    if isinstance(err, NotFoundError):
        return ApiError(404, message, "not_found_error", "not_found")
    if isinstance(err, ConflictError):
        if err.retry_after is not None:  # still in flight: the same request again later gets its answer
            retry = {"Retry-After": str(max(1, round(err.retry_after)))}
            return ApiError(409, message, "conflict_error", "request_in_progress", headers=retry)
        return ApiError(422, message, "invalid_request_error", "conflict")
    if isinstance(err, PaymentDeclinedError):
        return ApiError(402, message, "payment_error", err.code)
    if isinstance(err, RateLimitedError):
        retry = {"Retry-After": str(max(1, round(err.retry_after)))}
        return ApiError(429, message, "rate_limit_error", "too_many_tries", headers=retry)
    if isinstance(err, UserError):
        return ApiError(400, message, "invalid_request_error")
    if isinstance(err, BackendConnectionError):
        return ApiError(502, message, "upstream_error", "backend_unreachable")
    if isinstance(err, ModelUnavailableError):
        return ApiError(503, message, "service_unavailable", "model_unavailable")
    if isinstance(err, BackendError):
        return ApiError(502, message, "upstream_error", "backend_error")
    if isinstance(err, StoreBusyError):
        retry = {"Retry-After": str(max(1, round(err.retry_after)))}
        return ApiError(503, message, "service_unavailable", "database_busy", headers=retry)
    if isinstance(err, PaymentProviderError):
        return ApiError(502, message, "upstream_error", "payment_provider_error")
    return ApiError(500, message, "server_error")

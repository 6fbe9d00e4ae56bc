"""UCP's wire models on the server side: the protocol error shape and the mapping of a checkout's refusals to
HTTP answers (``Refusal``), the confirmation page's bodies, and the documentation of each route's answers in
/openapi.json.

Not here: the checkout documents themselves (commerce/ucp/document.py) and the routes (router.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from ucp_sdk.models.schemas.common.types.error_response import (  # type: ignore[import-untyped]
    ErrorResponse as UcpErrorResponse,
)
from ucp_sdk.models.schemas.shopping.fulfillment import Checkout  # type: ignore[import-untyped]

from ponder.commerce.ucp import document
from ponder.commerce.ucp.errors import (
    CheckoutConflict,
    CheckoutError,
    CheckoutFinished,
    CheckoutNotFound,
    UnsellableLines,
)
from ponder.server.protocol import ErrorResponse as OpenAiErrorResponse

# --- errors --------------------------------------------------------------------------------------------


class UcpProtocolError(BaseModel):
    """A protocol error: the HTTP status says what kind, ``code`` and ``content`` say what."""

    model_config = ConfigDict(extra="forbid")

    code: str
    content: str


class Refusal(Exception):
    """A request answered with an HTTP error: ``{code, content}``, or an ``ErrorResponse`` (``envelope``)
    for a checkout that does not exist or can no longer change."""

    def __init__(
        self,
        status: int,
        code: str,
        content: str,
        *,
        envelope: bool = False,
        headers: dict[str, str] | None = None,
        messages: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(content)
        self.status = status
        self.code = code
        self.content = content
        self.envelope = envelope
        self.headers = headers or {}
        self.messages = messages or []  # UCP messages saying why, each (2026-01-11's error bodies carry them)

    def body(self) -> dict[str, Any]:
        if self.envelope:
            return document.error_response(self.code, self.content)
        return {"code": self.code, "content": self.content}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)

    @classmethod
    def of(cls, err: CheckoutError) -> Refusal:
        """A checkout's refusal as UCP answers it: an unknown checkout (404) and a finished one (409) as an
        ``ErrorResponse``, a conflict (409, ``Retry-After`` when it is passing) and a request that cannot
        be used (400) as ``{code, content}``."""
        if isinstance(err, CheckoutNotFound):
            return cls(404, "not_found", str(err), envelope=True)
        if isinstance(err, CheckoutFinished):
            return cls(409, err.code, str(err), envelope=True)
        if isinstance(err, CheckoutConflict):
            retry = {"Retry-After": str(max(1, round(err.retry_after)))} if err.retry_after else None
            return cls(409, err.code, str(err), headers=retry)
        if isinstance(err, UnsellableLines):
            return cls(400, err.code, str(err), messages=err.messages)
        return cls(400, "invalid_request", str(err))


class Token(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200, description="The token in the confirmation link.")


class PersonDecision(Token):
    decision: Literal["confirm", "decline"]


# The SDK's ErrorResponse under its own name in /openapi.json: "ErrorResponse" is the OpenAI errors' there.
UcpErrorResponseDoc = create_model("UcpErrorResponse", __base__=UcpErrorResponse)


def _responses(*success: int, create: bool = False) -> dict[int | str, dict[str, Any]]:
    docs: dict[int | str, dict[str, Any]] = {
        400: {"model": UcpProtocolError, "description": "A malformed request or UCP-Agent header"},
        401: {"model": UcpProtocolError, "description": "No API key, or a bad one"},
        403: {"model": UcpProtocolError, "description": "The key's tier is not configured"},
        409: {
            "model": UcpErrorResponseDoc | UcpProtocolError,
            "description": "Finished checkout (ErrorResponse); reused idempotency key or concurrent change",
        },
        413: {"model": OpenAiErrorResponse, "description": "The body is too large"},
        429: {"model": UcpProtocolError, "description": "A rate limit is reached (see Retry-After)"},
    }
    for status in success:
        docs[status] = {"model": Checkout, "description": "The checkout session"}
    if create:
        docs[200] = {"model": UcpErrorResponseDoc, "description": "Nothing could be priced: no session"}
    else:
        docs[404] = {"model": UcpErrorResponseDoc, "description": "No such checkout session for this key"}
    return docs

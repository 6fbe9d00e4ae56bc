"""What a UCP checkout operation refuses, as Ponder errors: each carries the UCP error ``code`` a platform
reads. The server (server/ucp/) chooses the HTTP status and the body's shape; nothing here knows either.

    PonderError
    └── UserError
        ├── NotFoundError
        │   ├── CheckoutNotFound          no such checkout session, or not the caller's (the same answer)
        │   └── OrderNotFound             no order a checkout of the caller's became (the same answer)
        ├── ConflictError
        │   └── CheckoutConflict          not now, or not in this state (``retry_after``: a passing state)
        │       └── CheckoutFinished      the checkout is completed or canceled: it can no longer change
        └── InvalidCheckoutRequest        the request itself cannot be used (too many lines, bad fulfillment)
            └── UnsellableLines           lines that cannot be bought as asked (2026-01-11 refuses those)
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ponder.errors import ConflictError, NotFoundError, UserError

__all__ = [
    "CHECKOUT_ERRORS",
    "CheckoutConflict",
    "CheckoutError",
    "CheckoutFinished",
    "CheckoutNotFound",
    "InvalidCheckoutRequest",
    "OrderNotFound",
    "UnsellableLines",
    "error_value",
    "first_problem",
    "raise_stored",
]


class CheckoutNotFound(NotFoundError):
    """No checkout session by this id for this caller."""

    code = "not_found"

    def __init__(self, checkout_id: str, *, message: str | None = None) -> None:
        super().__init__(message or f"No checkout session '{checkout_id}'.")


class OrderNotFound(CheckoutNotFound):
    """No order by this id that a checkout of this caller's became."""

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id, message=f"No order '{order_id}'.")


class CheckoutConflict(ConflictError):
    """The checkout cannot do this now: ``code`` says why (``conflict``, ``complete_in_progress``)."""

    def __init__(self, message: str, *, code: str = "conflict", retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.code = code


class CheckoutFinished(CheckoutConflict):
    """The checkout is completed or canceled."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="checkout_finished")


class InvalidCheckoutRequest(UserError):
    """The platform's request cannot be used as sent."""

    code = "invalid_request"


class UnsellableLines(InvalidCheckoutRequest):
    """Lines that cannot be bought as asked (unknown, unavailable, short of stock): ``messages`` says each."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        super().__init__(" ".join(m["content"] for m in messages))
        self.messages = messages
        self.code = messages[0]["code"]


CheckoutError = CheckoutNotFound | CheckoutConflict | InvalidCheckoutRequest
CHECKOUT_ERRORS = (CheckoutNotFound, CheckoutConflict, InvalidCheckoutRequest)  # the state machine's own


def first_problem(err: ValidationError) -> str:
    """A model's first validation error as a person reads it: ``where: what`` (``what`` alone at the top)."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where + ': ' if where else ''}{first.get('msg')}"


def error_value(err: CheckoutError) -> dict[str, Any]:
    """A final refusal as an idempotency key's stored outcome (``raise_stored`` raises it again)."""
    kind = "not_found" if isinstance(err, CheckoutNotFound) else "invalid"
    if isinstance(err, CheckoutConflict):
        kind = "finished" if isinstance(err, CheckoutFinished) else "conflict"
    return {"error": kind, "code": getattr(err, "code", ""), "message": str(err)}


def raise_stored(value: dict[str, Any]) -> None:
    """Raise again the refusal ``error_value`` stored."""
    kind, message = value.get("error"), str(value.get("message", ""))
    if kind == "not_found":
        raise CheckoutNotFound("", message=message)
    if kind == "finished":
        raise CheckoutFinished(message)
    if kind == "conflict":
        raise CheckoutConflict(message, code=str(value.get("code") or "conflict"))
    raise InvalidCheckoutRequest(message)

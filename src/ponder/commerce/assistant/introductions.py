"""A person saying who they are, in a planned shopping turn of a store that identifies customers
(commerce/identification.py): read from their words, not planned, so the plan's grammar stays as it is.

``introduced`` finds an email address, or a name and a zip code ("I'm Ann Lee, zip 12345"; "my name is
Ann Lee and my zip code is 12345"), among the ways the store allows. ``identify`` looks the customer up
through the shopping tools' ``identify_customer`` (recorded as the model's call would be) and says what
happened: their orders on success, the store's refusal otherwise. Before a conversation is identified, a
plan about the customer's own orders or account gets ``ask_for`` instead of an empty answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ponder.commerce.identification import IdentifyBy
from ponder.commerce.tools import ShoppingTools
from ponder.errors import PonderError
from ponder.messages import ToolCallPart, ToolResultPart

__all__ = ["NEEDS_CUSTOMER", "ask_for", "identify", "introduced"]

NEEDS_CUSTOMER = frozenset(
    ("orders", "cancel", "return", "exchange", "change_item", "change_address", "account", "checkout")
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME = re.compile(
    r"\b(?:my name is|name's|i am|i'm|this is|it's)\s+([A-Z][\w'-]+)\s+([A-Z][\w'-]+)", re.IGNORECASE
)
_ZIP = re.compile(
    r"\b(?:zip|postal|postcode)(?:\s+code)?(?:\s+is)?\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9 -]{2,9}\b)", re.I
)


def ask_for(allowed: Sequence[IdentifyBy]) -> str:
    """What to say to a person asking about their own orders before they said who they are."""
    ways = " or ".join(
        "your email" if a == "email" else "your first and last name and zip code" for a in allowed
    )
    return f"I can help with that once I find your account: what is {ways}?"


def introduced(said: str, allowed: Sequence[IdentifyBy]) -> dict[str, str] | None:
    """The details the person gave to be identified by, as ``identify_customer`` takes them, or None."""
    email = _EMAIL.search(said)
    if email is not None and "email" in allowed:
        return {"email": email.group(0)}
    name, zip_code = _NAME.search(said), _ZIP.search(said)
    if name is not None and zip_code is not None and "name_zip" in allowed:
        return {"first_name": name.group(1), "last_name": name.group(2), "zip": zip_code.group(1).strip()}
    return None


def identify(
    tools: ShoppingTools, details: dict[str, str]
) -> tuple[str, tuple[ToolCallPart, ToolResultPart]]:
    """The reply to a person who said who they are, and the tool call made for it."""
    call = ToolCallPart("plan-identify", "identify_customer", dict(details))
    try:
        found = tools.identify_customer(**details)
    except PonderError as error:
        return f"I couldn't find your account: {error}", (
            call,
            ToolResultPart(call.call_id, call.name, str(error), is_error=True),
        )
    result = ToolResultPart(call.call_id, call.name, json.dumps(found, default=str))
    orders = found["orders"]
    if not orders:
        return "Thank you, I found your account. You have no orders yet.", (call, result)
    lines = ["Thank you, I found your account. Your orders:"]
    lines += [f"- {o['order_id']}: {o['status']}, {o['total']} ({'; '.join(o['items'])})" for o in orders]
    lines.append("What can I do for you?")
    return "\n".join(lines), (call, result)

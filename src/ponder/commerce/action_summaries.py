"""The text a person reads about a pending action: each value from the store's records on one line, in
reading order, and what the model wrote kept apart and labelled.

A summary is built from the store's records only (the order, its items and amounts, saved addresses and
payment methods), each value on one line with control characters taken out (``one_line``). A checkout may
instead ship to an address and pay with a provider token given for that one order (an outside shopping
agent's, commerce/ucp/): the summary labels them "given for this order only", the action keeps them (its
token never shown: ``PendingAction.to_dict`` drops it), and nothing is added to the buyer's saved addresses
or methods, not even on confirmation: the order records the address and the charge uses the token. What the
model wrote is kept apart: a reason it gave is the action's ``assistant_note``, for clients to show labelled
as the assistant's words; a new address it typed for a change of address is the one thing the person is
asked to check, so it goes on a labelled line of its own, after the money line
(``check_written_address`` refuses one that could hide part of itself). Nothing the model writes can
reword, reorder or hide what the summary says; clients print both as text, never as markup.

Not here: which facts a summary states (each ``ActionDesk.propose_*``, actions.py), and storing or
confirming the action (actions.py, action_records.py).
"""

from __future__ import annotations

import re
from typing import Any

from ponder.commerce.model import Address
from ponder.commerce.order_records import OrderView
from ponder.commerce.orders import money
from ponder.errors import UserError

__all__ = [
    "ADDRESS_FIELD_CHARS",
    "NOTE_CHARS",
    "address_text",
    "assistant_note",
    "check_written_address",
    "difference_text",
    "method_text",
    "one_line",
    "options_text",
    "order_items_text",
    "swaps_text",
]

NOTE_CHARS = 500  # an assistant's note is cut here: it explains, it does not decide
ADDRESS_FIELD_CHARS = 200  # a field of an address written in the chat
# Characters that could break a summary line or reorder it on screen: controls, line and paragraph
# separators, and the bidirectional overrides and isolates.
_NOT_ON_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def one_line(text: object) -> str:
    """A value for a summary line: on one line, in reading order (control characters, line separators and
    direction overrides become a space). Store records come from imported files: they are data too."""
    return _NOT_ON_A_LINE.sub(" ", str(text))


def check_written_address(address: Address) -> None:
    """An address the model wrote is stored as written if the person confirms it, so it must be what the
    summary shows: no control characters or line breaks to hide part of it, and no field past a length."""
    for name in ("name", "line1", "line2", "city", "state", "zip", "country"):
        value = getattr(address, name)
        if _NOT_ON_A_LINE.search(value):
            raise UserError(f"The address's {name} has a control character or a line break in it.")
        if len(value) > ADDRESS_FIELD_CHARS:
            raise UserError(f"The address's {name} is over {ADDRESS_FIELD_CHARS} characters.")


def assistant_note(arguments: dict[str, Any]) -> str:
    """What the model wrote about the action (the reason it gave), on one line and cut to NOTE_CHARS."""
    note = one_line(arguments.get("reason") or "").strip()
    return note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"


def options_text(options: dict[str, str]) -> str:
    if not options:
        return ""
    return f" ({', '.join(f'{one_line(k)} {one_line(v)}' for k, v in options.items())})"


def method_text(method: dict[str, Any]) -> str:
    kind = {"gift_card": "gift card", "paypal": "PayPal"}.get(method["kind"], "card")
    return f"{kind} {one_line(method['id'])}"


def order_items_text(order: OrderView) -> str:
    return ", ".join(f"{i['quantity']} × {one_line(i['name'])}" for i in order["items"])


def swaps_text(quote: dict[str, Any]) -> str:
    currency = quote["currency"]

    def item(side: dict[str, Any]) -> str:
        return f"{one_line(side['name'])}{options_text(side['options'])} at {money(side['price'], currency)}"

    return "; ".join(
        f"item {line['seq']}, {line['quantity']} × {item(line['old'])} → {item(line['new'])}"
        for line in quote["lines"]
    )


def difference_text(quote: dict[str, Any]) -> str:
    difference, currency, method = quote["difference"], quote["currency"], method_text(quote["method"])
    if difference > 0:
        return f"The price difference, {money(difference, currency)}, is charged to {method}."
    if difference < 0:
        return f"The price difference, {money(-difference, currency)}, goes back to {method}."
    return "The prices are the same: no money moves."


def address_text(address: dict[str, Any] | None) -> str:
    if not address:
        return "no address"
    keys = ("name", "line1", "line2", "city", "state", "zip", "country")
    return ", ".join(one_line(x) for x in (address.get(k) for k in keys) if x)

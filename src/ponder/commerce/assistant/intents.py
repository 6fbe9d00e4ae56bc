"""The intent the customer's own words make plain, where a small model's plan says otherwise.

The planner is a 1.5B model: it reads "check out please" as a look at the cart, "empty my cart" as a change
to an order, and "which of those come in L?" as a request to add one. ``corrected`` keeps the plan's slots
and changes only its intent, and only on words that leave no doubt: an explicit checkout, the cart named
with a verb that changes it, a question about products shown, a question whether the store sells
something, an order swap that fits the order's state (a pending order's items are changed, a delivered
order's exchanged).

It reads the table, never the store, and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ponder.commerce.assistant.plan import Plan
from ponder.commerce.assistant.table import Table

__all__ = ["corrected"]

_CHECKOUT = re.compile(
    r"\b(check ?out|place (?:the|my) order|complete (?:the|my) (?:purchase|order)"
    r"|pay for (?:it|them|my cart))\b",
    re.IGNORECASE,
)
_CART = re.compile(r"\b(cart|basket|bag)\b", re.IGNORECASE)
_CART_EMPTY = re.compile(r"\b(empty|clear|remove|delete|take out|drop|get rid of)\b", re.IGNORECASE)
_CART_CHANGE = re.compile(r"\b(change|switch|swap|make|update|instead|rather|increase|decrease)\b", re.I)
_ASKS_STOCK = re.compile(
    r"\b(do|does|did) (you|the store|they)( \w+)? (sell|have|carry|stock|make)\b|\b(got|have) any\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"^\s*(which|what|do|does|are|is|can i get|could i get|any)\b.*\?\s*$", re.I | re.S)
_ADD_VERB = re.compile(r"\b(add|put|buy|order|take|grab|want|i'?ll have|get me)\b", re.IGNORECASE)
_ORDER_CHANGES = ("cancel", "return", "exchange", "change_item", "change_address")
_CART_INTENTS = ("cart", "add", "remove", "update_cart", "answer")
_ORDER = re.compile(r"\b(order|ordered|[A-Za-z]{1,6}-\d+)\b", re.IGNORECASE)
_SHOWN = re.compile(r"\b(those|these|them|they|any of|one of)\b", re.IGNORECASE)
_PERSON = re.compile(
    r"\b(talk|speak|chat|pass|transfer|connect|hand|put) (?:me )?(?:to|with|through to|over to|on to)\b"
    r".{0,30}"
    r"\b(person|human|someone|somebody|agent|representative|manager|staff|team|people|supervisor)\b"
    r"|\b(real|live|actual) (person|human|agent)\b"
    r"|\b(get|need|want|find) (?:me )?(?:a |an |some )?"
    r"(person|human|agent|representative|manager|supervisor)\b",
    re.IGNORECASE,
)
_WHERE = re.compile(
    r"\b(where(?:'s| is| are)|status|track(?:ing)?|(?:what|whatever) happened|any (?:news|update)|"
    r"(?:get|got|been|was|were) (?:delivered|shipped|sent)|"
    r"(?:has|have|did) (?:it|they|that|this) (?:ship|arrive)|(?:shipped|gone out|arrived) yet|"
    r"hasn't (?:arrived|shipped|gone out)|still waiting|what size (?:is|was|did))\b"
    r"|\?\s*$",
    re.I,
)
_ORDERED = re.compile(
    r"\b(ordered|my order|my orders|an order|order that|bought|purchased?|delivery|shipment"
    r"|[A-Za-z]{1,6}-\d+)\b",
    re.I,
)
_CHANGE_VERBS = re.compile(
    r"\b(return|send (?:it |them )?back|refund|cancel|scrap|call (?:it )?off|exchange|swap|trade|switch|"
    r"change|make it|instead|(?:ship|send|deliver|go) (?:it |them )?to)\b",
    re.I,
)
_SWAP = re.compile(r"\b(exchange|swap|trade|switch|instead|another size|other size|different size)\b", re.I)
_CANCEL = re.compile(
    r"\b(cancel|scrap|call (?:it |the order )?off|don'?t want (?:it|them) any ?more|kill)\b", re.I
)
_IDEAS = re.compile(
    r"\b(ideas?|gifts?|suggest\w*|recommend\w*"
    r"|what (?:should|would|could) i (?:bring|buy|get|wear|pack|take))\b",
    re.IGNORECASE,
)
_SHIP_TO = re.compile(r"\b(ship|send|deliver|redirect|go|goes)\b.{0,40}\bto\b", re.IGNORECASE)


def corrected(plan: Plan, said: str, table: Table) -> Plan:
    """``plan`` with the intent ``said`` makes plain."""
    intent = plan.intent
    cart, order = _CART.search(said), _ORDER.search(said)
    if _PERSON.search(said):
        intent = "person"
    elif _CHECKOUT.search(said) and intent not in ("cancel", "answer", "person"):
        intent = "checkout"
    elif cart and (intent in _ORDER_CHANGES or intent in _CART_INTENTS):
        if _CART_EMPTY.search(said) and table.cart:
            intent = "remove"
        elif _CART_CHANGE.search(said) and table.cart and intent != "add":
            intent = "update_cart"
        elif intent in _ORDER_CHANGES:
            intent = "cart"
    elif order and _SHIP_TO.search(said) and intent not in ("change_address", "cancel", "return", "person"):
        intent = "change_address"  # "ship my order to ...": the order's address, not a new purchase
    elif _WHERE.search(said) and _ORDERED.search(said) and not _CHANGE_VERBS.search(said):
        intent = "orders"  # "did the jacket I ordered get delivered?": a question about an order
    elif _CANCEL.search(said) and intent in ("return", "change_item", "change_address", "orders", "answer"):
        intent = "cancel"  # "scrap it" (of an order not yet shipped: the store refuses a shipped one)
    elif intent == "return" and (plan.size or plan.color or _SWAP.search(said)):
        intent = "exchange"  # another size or colour of it is an exchange, not a refund
    elif intent == "update_cart" and (order or not table.cart) and table.orders:
        intent = "change_item"  # nothing in the cart to change: an item of an order
    elif intent in ("add", "search", "recommend", "details") and table.shown and _asks_about_shown(said):
        intent = "which"  # "which of those come in L?": the products shown, filtered
    elif intent == "search" and _IDEAS.search(said) and not table.shown:
        intent = "recommend"  # "gift ideas under 50": picked for them, not a search by name
    elif intent == "answer" and (plan.product or plan.query) and _ASKS_STOCK.search(said):
        intent = "search"  # "do you sell X?" is answered from the catalog
    return replace(plan, intent=intent) if intent != plan.intent else plan


def _asks_about_shown(said: str) -> bool:
    return bool(_QUESTION.match(said) and _SHOWN.search(said) and not _ADD_VERB.search(said))

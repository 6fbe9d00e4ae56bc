"""The intent the customer's own words make plain, where a small model's plan says otherwise.

The planner is a 1.5B model: it reads "check out please" as a look at the cart, "empty my cart" as a change
to an order, "which of those come in L?" as a request to add one, and a complaint ("the boots pinch") as a
request for a return. ``corrected`` keeps the plan's slots and changes only its intent, on words that leave
no doubt: an explicit checkout, the cart named with a verb that changes it, a question about products
shown, a question whether the store sells something, another size or colour of something the customer
bought (a pending order's items are changed, a delivered order's exchanged: execute.py picks by the
order's state).

Changing an order needs the customer to ask for it: a consequential intent (cancel, return, exchange, change
an item or the address) stands only when their words, now or in their previous message, ask for that kind
of change ("cancel", "send it back", "instead", "ship it to ..."), and not as a question about how it went
("did my return go through?"). Otherwise the turn shows the orders it is about, or is answered in words.
The previous message counts because a customer says what they want over two ("my kettle hasn't shipped
yet, right?" then "then I'd like the sage one rather than the black").

It reads the table, never the store, and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ponder.commerce.assistant.plan import Intent, Plan
from ponder.commerce.assistant.resolve import words
from ponder.commerce.assistant.table import Table
from ponder.commerce.order_records import OrderView

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
_ORDER = re.compile(r"\b(order|ordered|[A-Za-z]{1,6}-\d+)\b|#[A-Za-z]{0,6}-?\d+\b", re.IGNORECASE)
_ORDER_ID = re.compile(r"(?<![\w-])[A-Za-z]{1,6}-\d+\b|#[A-Za-z]{0,6}-?\d+\b")
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
    r"(?:get|got|been|was|were) (?:delivered|shipped|sent|dispatched|processed)|"
    r"(?:has|have|did) (?:it|they|that|this) (?:ship|arrive|go out)|(?:shipped|gone out|arrived) yet|"
    r"hasn'?t (?:arrived|shipped|gone out|left)|haven'?t (?:arrived|shipped|gone out|left)|still waiting|"
    r"go(?:ne)? through|left (?:the|your) (?:warehouse|store|building)|on (?:its|their) way|"
    r"when (?:will|does|do|is|are) (?:it|they|my|the)\b|what size (?:is|was|did))\b",
    re.I,
)
_ORDERED = re.compile(
    r"\b(ordered|my order|my orders|an order|order that|bought|purchased?|delivery|shipment"
    r"|[A-Za-z]{1,6}-\d+)\b",
    re.I,
)
# Words that claim something as the customer's own: "my", "I bought", "you sent", "from you"
_OWNED = re.compile(
    r"\b(my|our|mine|i (?:just |recently )?(?:got|bought|ordered|received|purchased|sent|returned|exchanged)"
    r"|you (?:sent|shipped)"
    r"|from (?:you|your store)|arrived|came)\b",
    re.I,
)
# A question about how something went, not a request to do it: "did my return go through?"
_STATUS_QUESTION = re.compile(
    r"^\s*(?:(?:hey|hi|hello|so|ok|okay|quick question)\b[\s,!.:-]*)?"
    r"(?:did|has|have|was|were|is|are|when|where)\b",
    re.I,
)
_ASKING = re.compile(
    r"\b(can|could|would|will) (?:you|i|we|it|they|that|this|[A-Za-z]{1,6}-\d+)\b|\b(please|want|wanna|"
    r"like|need|rather|prefer|let's|go ahead)\b"
    r"|(?:^|[,.;:!?]\s*|\band\s+|\bso\s+)(?:just\s+)?(?:change|cancel|return|swap|exchange|switch|send|ship|make)"
    r"\b",  # an imperative: "..., change them to 41"
    re.I,
)
_FROM_TO = re.compile(r"\bfrom\s+[\w/-]+\s+to\b", re.I)  # "from 40 to 41": a size, not a place
_CANCEL = re.compile(
    r"\b(cancel(?:s|led|ed|ling|ing)?|scrap(?:s|ped)?|call (?:\w+ ){0,3}off"
    r"|don'?t (?:want|need) (?:it|them|\w+ \w+) (?:any ?more|after all)"
    r"|no longer (?:want|need)|kill|stop (?:the|my|that) order)\b",
    re.I,
)
_RETURN = re.compile(
    r"\b(return(?:s|ing)?|refund|money back"  # not "returned", "sent back": how an earlier one went
    r"|(?:send|sending|take|taking|give|ship|shipping|going|go|goes) (?:\w+ ){0,3}back)\b",
    re.I,
)
_SWAP = re.compile(
    r"\b(exchang(?:e|es|ed|ing)|swap(?:s|ped|ping)?|trad(?:e|es|ed|ing)|switch(?:es|ed|ing)?|instead"
    r"|in (?:its|their) place|replace\w*"
    r"|(?:another|other|different) (?:size|colou?r|one)|(?:size|go) (?:up|down)|bigger|smaller|larger"
    r"|(?:should|supposed to|meant to) (?:be|have been)|by mistake)\b",
    re.I,
)
_SHIP_TO = re.compile(
    r"\b(ship(?:s|ped|ping)?|send|sent|deliver(?:s|ed|ing)?|redirect(?:s|ed)?|route[ds]?|forward(?:s|ed)?"
    r"|go|goes|going|come|comes|arrive[ds]?)\b"
    r".{0,40}\b(?:to|there|elsewhere|somewhere else|home)\b(?!\s*\d+\s*(?:[?.!,]|$))"  # not "from 40 to 41"
    r"|\b(?:change|update|new|different|correct|fix) (?:the |my |its |their )?"
    r"(?:shipping |delivery )?address\b",
    re.IGNORECASE,
)
_CHANGE = re.compile(r"\b(change|make it)\b", re.I)
_CHANGE_VERBS = re.compile(
    rf"{_CANCEL.pattern}|{_RETURN.pattern}|{_SWAP.pattern}|{_CHANGE.pattern}"
    r"|\b(?:ship|send|deliver|go|come) (?:it |them )?(?:to|there)\b",
    re.I,
)
# What follows these is what the customer does not want: "a refund rather than a swap"
_NOT_WANTED = re.compile(r"\b(?:rather than|instead of|than)\b.*", re.I | re.S)
_PREFERS = re.compile(r"\b(?:rather than|instead of)\b", re.I)
_IDEAS = re.compile(
    r"\b(ideas?|gifts?|suggest\w*|recommend\w*"
    r"|what (?:should|would|could) i (?:bring|buy|get|wear|pack|take))\b",
    re.IGNORECASE,
)
_STREET_ADDRESS = re.compile(r"(?<![\w-])\d+[A-Za-z]?\s+[A-Za-z][A-Za-z ]*,\s*[A-Za-z]", re.I)


def corrected(plan: Plan, said: str, table: Table, before: str = "") -> Plan:
    """``plan`` with the intent ``said`` makes plain; ``before`` is the customer's previous message."""
    intent = _intent(plan, said, table, before)
    if intent in _ORDER_CHANGES and not _asked_for(intent, plan, said, before):
        about_orders = (
            _ORDER.search(said) or _ORDERED.search(said) or _bought(said, table) or _bought(before, table)
        )
        intent = "orders" if about_orders else "answer"
    return replace(plan, intent=intent) if intent != plan.intent else plan


def _intent(plan: Plan, said: str, table: Table, before: str) -> Intent:
    intent = plan.intent
    cart, order = _CART.search(said), _ORDER.search(said)
    wanted = _wanted_part(said)
    bought = _bought(said, table) or (_bought(before, table) if not _names_other(said, table) else [])
    if _PERSON.search(said):
        return "person"
    if _CHECKOUT.search(said) and intent not in ("cancel", "answer", "person"):
        return "checkout"
    if cart and (intent in _ORDER_CHANGES or intent in _CART_INTENTS):
        if _CART_EMPTY.search(said) and table.cart:
            return "remove"
        if _CART_CHANGE.search(said) and table.cart and intent != "add":
            return "update_cart"
        return "cart" if intent in _ORDER_CHANGES else intent
    ship_to = _SHIP_TO.search(said) and not _RETURN.search(said) and not _FROM_TO.search(said)
    new_order = intent == "checkout" and not _ORDER_ID.search(said)  # "place it and ship it home"
    if (
        ship_to
        and (order or bought)
        and not new_order
        and intent not in ("change_address", "cancel", "person")
    ):
        return "change_address"  # "ship my order to ...": the order's address, not a new purchase
    status = _WHERE.search(said) or (_STATUS_QUESTION.match(said) and not _ASKING.search(said))
    if (
        status
        and (_ORDERED.search(said) or bought)
        and not (_CHANGE_VERBS.search(said) and _ASKING.search(said))
    ):
        return "orders"  # "did the jacket I ordered get delivered?": a question about an order
    if _CANCEL.search(said) and intent in ("return", "change_item", "change_address", "orders", "answer"):
        return "cancel"  # "scrap it" (of an order not yet shipped: the store refuses a shipped one)
    if (
        intent in ("return", "exchange", "change_item")
        and _RETURN.search(wanted)
        and not (_swap(said) or plan.size or plan.color)
    ):
        return "return"  # "I'd rather get a refund than swap it"
    if intent == "return" and (plan.size or plan.color or _swap(said)):
        return "exchange"  # another size or colour of it is an exchange, not a refund
    shopping = intent in ("search", "recommend", "details", "add", "update_cart", "answer", "orders")
    if shopping and bought and _swap(said) and not _in_cart(said, table) and not _ASKS_STOCK.search(said):
        return "exchange"  # another size or colour of what they bought (a change, if not shipped)
    if intent == "update_cart" and (order or not table.cart) and table.orders:
        return "change_item"  # nothing in the cart to change: an item of an order
    if intent in ("add", "search", "recommend", "details") and table.shown and _asks_about_shown(said):
        return "which"  # "which of those come in L?": the products shown, filtered
    if intent == "search" and _IDEAS.search(said) and not table.shown:
        return "recommend"  # "gift ideas under 50": picked for them, not a search by name
    if intent == "answer" and (plan.product or plan.query) and _ASKS_STOCK.search(said):
        return "search"  # "do you sell X?" is answered from the catalog
    return intent


def _asked_for(intent: Intent, plan: Plan, said: str, before: str) -> bool:
    """Whether the customer asked for this change of an order, now or in their previous message, and not
    only how an earlier one went."""
    if _STATUS_QUESTION.match(said) and not _ASKING.search(said) and not _CANCEL.search(said):
        return False
    for text in (said, before):
        wanted = _wanted_part(text)
        if intent == "cancel" and _CANCEL.search(text):
            return True
        if intent == "return" and _RETURN.search(wanted):
            return True
        if intent in ("exchange", "change_item") and (_swap(text) or _CHANGE.search(wanted)):
            return True
        if intent == "change_address" and (_SHIP_TO.search(text) or _STREET_ADDRESS.search(text)):
            return True
    return (
        intent in ("exchange", "change_item") and bool(plan.size or plan.color) and bool(_ASKING.search(said))
    )


def _swap(said: str) -> bool:
    """Whether ``said`` asks for another size or colour ("instead", "swap", "the sage one rather than the
    black"), not a refund in place of one ("a refund rather than a swap")."""
    wanted = _wanted_part(said)
    return bool(_SWAP.search(wanted) or (_PREFERS.search(said) and not _RETURN.search(wanted)))


def _wanted_part(said: str) -> str:
    """``said`` without what it says is not wanted ("... rather than swap it")."""
    return _NOT_WANTED.sub("", said)


def _bought(said: str, table: Table) -> list[OrderView]:
    """The customer's orders holding an item ``said`` names as theirs ("my kettle", "the boots I got")."""
    if not said or not _OWNED.search(said):
        return []
    named = words(said)
    return [o for o in table.orders if any(named & _item_words(i["name"]) for i in o["items"])]


def _names_other(said: str, table: Table) -> bool:
    """Whether ``said`` names a product shown or in the cart (a new subject, not the previous message's)."""
    named = words(said)
    return any(named & _item_words(p.product.name) for p in table.shown) or _in_cart(said, table)


def _in_cart(said: str, table: Table) -> bool:
    named = words(said)
    return any(named & _item_words(line.product.product.name) for line in table.cart)


def _item_words(name: str) -> set[str]:
    """The words of a product's name that name it ("kettle", "skerry", "shell"), not a number or a pack."""
    return {w for w in words(name) if not w.isdigit() and w not in ("pair", "set", "pack", "piece")}


def _asks_about_shown(said: str) -> bool:
    return bool(_QUESTION.match(said) and _SHOWN.search(said) and not _ADD_VERB.search(said))

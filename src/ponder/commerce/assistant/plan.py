"""The plan of a shopping turn: what the customer wants done, as one small JSON object under a schema.

The model reads the conversation and writes a ``Plan`` (an intent and the slots it names: a query, a size,
a colour, price bounds, a product, an order, items, an address, a payment method, a reason) under a grammar
made from ``PLAN_SCHEMA``; the runtime carries it out (execute.py). The schema is the same for every store
and customer, so the prompt before the conversation never changes and its prefill is paid once.

Slots are words, not ids: ``product`` may be a name, the number of a product listed earlier or "cheapest";
``order`` an order id or "last". The runtime resolves them against what the conversation and the customer's
account hold, and never acts on an id it did not find there. ``from_text`` fills price bounds and a size the
customer wrote plainly ("under $100", "size M") where the model left them out or read them wrong.

It does not resolve references or call the store: that is execute.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

__all__ = ["INTENTS", "PLAN_SCHEMA", "SIZE_WORDS", "Intent", "Plan", "parse_plan"]

Intent = Literal[
    "search",  # find products by words and filters
    "recommend",  # products picked for this customer
    "details",  # one product: sizes, colours, prices, materials
    "cart",  # what is in the cart
    "add",  # put a product (in a size / colour) in the cart
    "remove",  # take a product out of the cart
    "update_cart",  # change the size, colour or quantity of something in the cart
    "checkout",  # buy the cart (a proposal the customer confirms)
    "orders",  # the customer's orders, or one order's status
    "cancel",  # cancel a pending order
    "return",  # return items of a delivered order
    "exchange",  # exchange items of a delivered order for another size / colour
    "change_item",  # change an item of a pending order to another size / colour
    "change_address",  # ship a pending order elsewhere
    "account",  # saved addresses and payment methods
    "person",  # hand the conversation to a person of the store
    "answer",  # a question the store's policy or plain words answer; nothing to look up
    "which",  # the runtime's own: which of the products shown fit the size or colour asked (intents.py)
]
INTENTS: tuple[Intent, ...] = tuple(i for i in get_args(Intent) if i != "which")  # what the model may plan

_TEXT = {"type": "string", "maxLength": 80}
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"enum": list(INTENTS)},
        "query": _TEXT,
        "category": _TEXT,
        "product": _TEXT,
        "size": {"type": "string", "maxLength": 12},
        "color": {"type": "string", "maxLength": 30},
        "min_price": {"type": "number"},
        "max_price": {"type": "number"},
        "quantity": {"type": "integer"},
        "order": {"type": "string", "maxLength": 24},
        "items": _TEXT,
        "address": _TEXT,
        "payment": {"type": "string", "maxLength": 40},
        "reason": _TEXT,
    },
    "required": ["intent"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Plan:
    intent: Intent
    query: str = ""
    category: str = ""
    product: str = ""
    size: str = ""
    color: str = ""
    min_price: float | None = None
    max_price: float | None = None
    quantity: int = 1
    order: str = ""
    items: str = ""
    address: str = ""
    payment: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The slots that are set, for the turn's details."""
        default = Plan(self.intent)
        return {k: v for k, v in asdict(self).items() if k == "intent" or v != getattr(default, k)}

    def from_text(self, said: str, before: str = "") -> Plan:
        """The plan checked against the customer's own words: ``said`` now, ``before`` in earlier messages.

        A size, colour or price bound the customer never wrote is dropped (a small model fills slots with
        guesses: "M", "N/A"); price bounds (for a search or recommendations) and a size written plainly in
        ``said`` are taken over what the model read."""
        words = f"{before}\n{said}"
        size, color = self.size, self.color
        if size and not _SIZE_LIKE.fullmatch(size.strip()) and size.lower() not in SIZE_WORDS:
            size, color = "", color or size  # "sea glass" or "daypack" is no size
        if (color.lower().strip() in SIZE_WORDS or _SIZE_LIKE.fullmatch(color.strip())) and not size:
            size, color = color, ""  # "large" or "EU 41" is a size
        size = _REGION.sub("", size.strip())  # "EU 41" is 41
        if re.search(r"\d", color) and re.search(
            r"[$€£]|\b(between|under|over|dollars?|usd|eur)\b", color, re.I
        ):
            color = ""  # a price read as a colour
        size = SIZE_WORDS.get(size.lower().strip(), size) if _mentioned_size(size, words) else ""
        updates: dict[str, Any] = {
            "size": _size(said) or size,
            "color": color if _mentioned(color, words) else "",
        }
        high = _bound(said, _BELOW)
        plain = {
            "max_price": high if high is not None else _bound(said, _BELOW_AFTER),
            "min_price": _bound(said, _ABOVE),
        }
        if between := _BETWEEN.search(said):
            plain = {"min_price": _amount(between.group(1)), "max_price": _amount(between.group(2))}
        for bound, other in (("max_price", "min_price"), ("min_price", "max_price")):
            value = getattr(self, bound)
            if self.intent in ("search", "recommend") and plain[bound] is not None:
                value = plain[bound]
            elif value is not None and (not _number_in(value, words) or value == plain[other]):
                value = None  # never written, or written as the other bound ("nothing over 150")
            updates[bound] = value
        return replace(self, **updates)


def parse_plan(text: str) -> Plan:
    """The plan in the model's JSON (a ValueError when it is not one); unknown or mistyped slots dropped."""
    value = json.loads(text)
    if not isinstance(value, dict) or value.get("intent") not in INTENTS:  # "which" is not the model's
        raise ValueError(f"not a plan: {text[:200]!r}")
    slots: dict[str, Any] = {}
    for f in fields(Plan):
        v = value.get(f.name)
        if v is None or f.name == "intent":
            continue
        if f.name in ("min_price", "max_price") and isinstance(v, int | float) and v > 0:
            slots[f.name] = float(v)
        elif f.name == "quantity" and isinstance(v, int) and 0 < v <= 20:
            slots[f.name] = v
        elif isinstance(v, str) and f.name not in ("min_price", "max_price", "quantity"):
            slots[f.name] = v.strip()
    return Plan(value["intent"], **slots)


_MONEY = r"(?:[$€£]\s*)?(\d+(?:[.,]\d{1,2})?)\s*(?:dollars|usd|eur|euros|bucks|\$|€)?"
_BELOW_AFTER = re.compile(
    rf"{_MONEY}\s*(?:max(?:imum)?|or less|or under|tops|at (?:the )?most|limit)\b", re.I
)
_BELOW = re.compile(
    rf"\b(?:under|below|less than|cheaper than|up to|at most|no more than|max(?:imum)?|within"
    rf"|(?:nothing|not|none|no) (?:over|above|more than))\s+{_MONEY}",
    re.IGNORECASE,
)
_ABOVE = re.compile(
    rf"(?<!nothing )(?<!not )(?<!none )(?<!no )\b(?:over|above|more than|at least)\s+{_MONEY}", re.IGNORECASE
)
# What a size looks like: a letter size, a number (with a unit), or two of them ("S/M", "10-inch", "30L")
_SIZE_LIKE = re.compile(
    r"(?:x{0,3}[sml]|xxs|one size|(?:eu|us|uk)\s*\d+(?:\.5)?"
    r"|\d+(?:\.\d+)?\s*(?:-?\s*(?:inch|in|cm|mm|l|ml|eu|us|uk))?)"
    r"(?:\s*/\s*(?:x{0,3}[sml]|\d+(?:\.\d+)?))?",
    re.IGNORECASE,
)
_BETWEEN = re.compile(rf"\b(?:between|from)\s+{_MONEY}\s*(?:and|to|-)\s*{_MONEY}", re.IGNORECASE)
SIZE_WORDS = {
    "extra small": "XS",
    "x-small": "XS",
    "small": "S",
    "medium": "M",
    "large": "L",
    "extra large": "XL",
    "x-large": "XL",
}
_SIZE = re.compile(
    r"\bsize\s+(?:an?\s+)?(x{0,3}[sml]/x{0,3}[sml]|x{0,3}[sml]|xxs|\d{1,2}(?:\.5)?|extra small|x-small|small"
    r"|medium|large|extra large|x-large)\b(?!/)"
    r"|\b(?:in|to|for) (?:an? |the )?(extra small|small|medium|large|extra large)\b"
    r"|\bin (?:size )?(X{0,3}[SML]/X{0,3}[SML]|XXS|XS|S|M|L|XL|XXL)\b(?!/)",
    re.IGNORECASE,
)


def _bound(said: str, pattern: re.Pattern[str]) -> float | None:
    match = pattern.search(said)
    return None if match is None else _amount(match.group(1))


def _amount(text: str) -> float:
    return float(text.replace(",", "."))


def _size(said: str) -> str:
    match = _SIZE.search(said)
    if match is None:
        return ""
    value = next(g for g in match.groups() if g)
    return SIZE_WORDS.get(value.lower(), value.upper())


def _mentioned(value: str, text: str) -> bool:
    """Whether the customer wrote ``value`` (each of its words)."""
    words = re.findall(r"[a-z0-9]+", value.lower())
    said = set(re.findall(r"[a-z0-9]+", text.lower()))
    return bool(words) and all(w in said for w in words)


def _mentioned_size(size: str, text: str) -> bool:
    """Whether the customer wrote ``size`` as a size: its name ("large" for L); a number only after "size",
    "in", "a", or before a unit ("40 sets" is not a size); a single letter in capitals, or after "size"
    ("what's" holds no S, "I'm" no M)."""
    if not size:
        return False
    if size.lower() in SIZE_WORDS:  # the model wrote the word ("small")
        return _size_word_used(size.lower(), text)
    named = {v: k for k, v in SIZE_WORDS.items()}.get(size.upper())
    if named is not None and _size_word_used(named, text):
        return True
    if len(size) == 1:
        letter = re.escape(size.upper())
        standing = re.search(rf"(?<![\w']){letter}(?![\w'])", text)  # in capitals: case matters here
        return bool(standing or re.search(rf"\bsize\s+{letter}\b", text, re.IGNORECASE))
    if re.fullmatch(r"\d+(?:\.\d)?", size):
        number = re.escape(size)
        unit = rf"\b(?:size|sizes|in|an?|eu|us|uk)\s+{number}\b|\b{number}\s*(?:-|\s)?(?:inch|in|cm|eu)\b"
        return bool(re.search(unit, text, re.IGNORECASE))
    return _mentioned(size, text)


def _size_word_used(word: str, text: str) -> bool:
    """Whether ``text`` uses the size word ("small") as a size: "a small, please", "small or medium",
    "size small"; not about fit or a thing ("runs small", "too small", "small enough", "a small bag")."""
    for match in re.finditer(rf"\b{re.escape(word)}\b", text, re.IGNORECASE):
        before, after = text[: match.start()].lower(), text[match.end() :].lower()
        if re.search(r"\bsize\s+$", before):
            return True
        if re.search(r"\b(too|runs?|running|a bit|a little|very|so|quite|really|rather|bit)\s+$", before):
            continue
        if re.match(rf"[^\S\n]*(?:$|\n|[,.;:!?)]|(?:{_AFTER_SIZE})\b)", after):
            return True
    return False


_AFTER_SIZE = "one|ones|size|in|please|instead|or|and|for me|would|should|will|is|fits?|then|but|if|thanks"
_REGION = re.compile(r"^(?:eu|us|uk)\s*(?=\d)", re.IGNORECASE)


def _number_in(value: float, text: str) -> bool:
    """Whether the customer wrote this amount."""
    numbers = {float(n.replace(",", ".")) for n in re.findall(r"\d+(?:[.,]\d{1,2})?", text)}
    return value in numbers

"""Discount codes and a shipping choice, as a customer writes them in a shopping conversation.

They are read from the customer's own words against the store's own codes and shipping options, so the
plan (plan.py) needs no slot for them and its grammar stays as it is:

- a code is one of the store's codes written as the store spells it ("SPRING10"), or any word that looks
  like a code (it holds a digit, or is in capitals) written right after "code", "coupon", "promo" or
  "voucher" ("use code welcome5"): one the store does not have is still given, so the store says so
  instead of the order silently going ahead at full price;
- a shipping choice is the option, among those open to the address, whose id or first word of its title
  the customer wrote ("express shipping"); none, or several, leaves the store's default (the cheapest).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.commerce.pricing import MAX_CODES, PricingRules, ShippingQuote

__all__ = ["codes_in", "shipping_in"]

_ASKED = re.compile(
    r"\b(?:discount|code|coupon|promo|promotion|voucher)s?\b(?:\s+(?:code|is))?\s*[:#]?\s*[\"'“‘]?"
    r"([A-Za-z0-9][A-Za-z0-9_-]{2,63})",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")


def codes_in(texts: Sequence[str], rules: PricingRules) -> list[str]:
    """The codes the customer gave in ``texts`` (oldest first), in the order given, each once."""
    found: list[tuple[int, int, str]] = []  # (text, position, code)
    for n, text in enumerate(texts):
        for known in rules.discount_codes:
            for match in re.finditer(rf"(?<![\w-]){re.escape(known.code)}(?![\w-])", text):
                found.append((n, match.start(), known.code))
        for match in _ASKED.finditer(text):
            word = match.group(1)
            if any(c.isdigit() for c in word) or (word.isupper() and len(word) >= 3):
                found.append((n, match.start(1), word))
    codes: list[str] = []
    for _, _, code in sorted(found):
        if code.casefold() not in {c.casefold() for c in codes}:
            codes.append(code)
    return codes[-MAX_CODES:]


def shipping_in(said: str, open_to: Sequence[ShippingQuote]) -> str | None:
    """The id of the one option in ``open_to`` the customer named in ``said``, or None."""
    written = set(_WORD.findall(said.lower()))
    named = [q.id for q in open_to if _written(q.id, said) or _first_word(q.title) in written]
    return named[0] if len(named) == 1 else None


def _first_word(title: str) -> str:
    found = _WORD.findall(title.lower())
    return found[0] if found else ""


def _written(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I) is not None

"""Resolving what a plan refers to, against the table (table.py) and the customer's own words.

A plan names things in words; a small model's words are often loose ("1" for "one beanie", "L" for
"L/XL", a colour left out, an order id copied from an earlier reply). ``Resolver`` finds what they mean, and
where it cannot, says so as a question (a ``str``) instead of guessing:

- ``product``: the number of a product shown last, "cheapest" / "most expensive" among them, the words of
  its name (shown products, then the cart, then a catalog search on the plan's words or the customer's);
- ``wanted``: the options asked for: the plan's size and colour matched to the product's own option values
  (whichever option they belong to), and any value of the product the customer wrote, now or in their
  earlier messages; "bigger" / "smaller" move from the current size;
- ``variant``: the item in stock with those options; a question when several sizes fit and none was asked;
- ``order``: an id the customer wrote (another customer's is "not found", like one that does not exist);
  else the one whose items the customer named; else "last", or the only order in the state the intent
  needs; an id only the model wrote counts only when it is in that state;
- ``address`` / ``method``: a saved one named by id or words (the customer's, or the plan's), or a new
  address the customer wrote; ``quantity`` as the customer wrote it ("two pairs", "3 sets").

Blocking (a catalog search): run it in a worker thread. It changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.commerce.assistant import reply
from ponder.commerce.assistant.plan import SIZE_WORDS, Plan
from ponder.commerce.assistant.table import Table
from ponder.commerce.catalog import ProductView
from ponder.commerce.model import Address, PaymentMethod, Variant
from ponder.commerce.order_records import OrderLine, OrderView
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner

__all__ = ["Resolver", "words"]

# An order id in the customer's words: after "#" or "order", or letters, a dash and digits ("HP-1004").
_ORDER_ID = re.compile(
    r"(?:#|\border(?: number| no\.?| id)?\s*#?)([A-Za-z]{0,6}-?\d+)\b|(?<![\w-])([A-Za-z]{1,6}-\d+)(?![\w-])",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "last one": -1,
}  # fmt: skip
_CHEAPEST = re.compile(r"\b(cheapest|least expensive|lowest[- ]priced?|most affordable)\b", re.IGNORECASE)
_PRICIEST = re.compile(r"\b(most expensive|priciest|highest[- ]priced?)\b", re.IGNORECASE)
_LAST = re.compile(r"\b(last|latest|most recent|newest|recent|just ordered)\b", re.IGNORECASE)
_BIGGER = re.compile(r"\b(bigger|larger|size up|one size up|next size up|too (?:small|tight|short))\b", re.I)
_SMALLER = re.compile(
    r"\b(smaller|size down|one size down|next size down|too (?:big|large|loose|long))\b", re.I
)
_NUMBER_WORDS = {
    "one": 1, "a": 1, "an": 1, "two": 2, "a couple of": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_QUANTITY = re.compile(
    r"\b(?:add|put|buy|order|get|grab|take)\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"(?![\s-]*(?:inch|in\b|cm|mm|l\b|ml|lit|oz|qt))"
    r"|\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+of (?:the|these|those|them|it)\b"
    r"|\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:more\s+)?(?:pairs?|sets?|units?|pieces?|packs?|boxes?|of (?:them|those|these|it)|copies)\b"
    r"|\bx\s?(\d{1,2})\b|\bquantity (?:of |to )?(\d{1,2})\b|\b(\d{1,2}) (?:in total|total)\b"
    r"|\bmake (?:it|that|them) (\d{1,2}|two|three|four|five|six)\b(?![\s-]*(?:inch|in\b|cm|mm|l\b|ml|lit))",
    re.IGNORECASE,
)
_STREET = frozenset(
    [
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "ln",
        "way",
        "drive",
        "dr",
        "floor",
        "apt",
        "address",
    ]
)
_ADDRESS_WORDS = {"office": "work", "job": "work", "workplace": "work", "house": "home", "place": "home"}
_NEW_ADDRESS = re.compile(r"(?<![\w-])\d+[A-Za-z]?\s+[A-Za-z][^,.?!;]*(?:,\s*[^,.?!;]+){1,4}")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "one",
        "ones",
        "it",
        "this",
        "that",
        "these",
        "those",
        "in",
        "of",
        "for",
        "with",
        "and",
        "or",
        "to",
        "my",
        "me",
        "i",
        "size",
        "color",
        "colour",
        "please",
        "item",
        "items",
        "product",
        "products",
        "order",
        "some",
        "any",
    ]
)


def words(text: str) -> set[str]:
    """The content words of ``text``, lower case, plurals made singular ("skillets" is "skillet")."""
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1}


def stem(word: str) -> str:
    """A plural's singular, roughly ("dresses", "boots", "accessories"), to compare words."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


class Resolver:
    """What a plan refers to, for one customer in one turn. ``said``: their message; ``before``: their
    earlier messages in the conversation, newest last."""

    def __init__(self, shop: Shop, owner: Owner, table: Table, said: str, before: Sequence[str] = ()) -> None:
        self.shop = shop
        self.owner = owner
        self.table = table
        self.said = said
        self.before = list(before)

    # --- products ----------------------------------------------------------------------------------------

    def product(self, plan: Plan, pool: Sequence[ProductView] | None = None) -> ProductView | None:
        shown = self.table.shown if pool is None else list(pool)
        ref = f"{plan.product} {self.said}"
        if shown:
            n = _ordinal(plan.product) or _ordinal(self.said)
            if n is not None and -len(shown) <= n <= len(shown) and n != 0:
                return shown[n - 1] if n > 0 else shown[n]
            if _CHEAPEST.search(ref) or _PRICIEST.search(ref):
                priced = [(self._fitting_price(p, plan), i, p) for i, p in enumerate(shown)]
                priced = [x for x in priced if x[0] is not None] or [(0, i, p) for i, p in enumerate(shown)]
                pick = min if _CHEAPEST.search(ref) else max
                return pick(priced, key=lambda x: (x[0], x[1]))[2]
        cart = [line.product for line in self.table.cart]
        for pool_ in (shown, cart):
            best = _best_named(pool_, words(plan.product)) or _best_named(
                pool_, words(self.said), strict=True
            )
            if best is not None:
                return best
        for text in (plan.product, plan.query, self.said, *reversed(self.before[-1:])):
            if found := self._search_named(text):
                return found
        if len(shown) == 1 and not plan.product:
            return shown[0]
        return None

    def _fitting_price(self, product: ProductView, plan: Plan) -> int | None:
        fits = self.fitting(product.in_stock(), self.wanted(product, plan))
        return min(v.price for v in fits) if fits else None

    def _search_named(self, text: str) -> ProductView | None:
        """The product a catalog search for ``text`` finds whose name shares most words with it (at least
        two, or all of a shorter name's)."""
        wanted = words(text)
        if not wanted:
            return None
        hits = self.shop.catalog.search(self.owner.account, text, k=5, in_stock=False)
        scored = [(len(wanted & words(h.product.product.name)), h.product) for h in hits]
        scored = [s for s in scored if s[0] >= min(2, len(words(s[1].product.name)))]
        return max(scored, key=lambda s: s[0])[1] if scored else None

    # --- options and items -------------------------------------------------------------------------------

    def wanted(self, product: ProductView, plan: Plan, keep: dict[str, str] | None = None) -> dict[str, str]:
        """The options asked for, as the product's own values: {"size": "L/XL", "color": "navy"}. Where the
        customer wrote several values of one option ("my 10 inch ... for the 12 inch"), the one that is not
        ``keep``'s (the item being swapped)."""
        values: dict[str, list[str]] = {}
        for v in product.product.variants:
            for name, value in v.options.items():
                if value not in values.setdefault(name, []):
                    values[name].append(value)
        wanted: dict[str, str] = {}
        for slot in (plan.size, plan.color):
            if not slot:
                continue
            for name, options in values.items():
                match = next((o for o in options if _value_matches(slot, o)), None)
                if match is not None and name not in wanted:
                    wanted[name] = match
                    break
        read: set[str] = set()  # options the customer's newer words already named
        for text in (self.said, *reversed(self.before[-2:])):
            written = {
                name: [
                    o
                    for o in sorted(options, key=len, reverse=True)
                    if len(o) > 1 and _written_value(o, text)
                ]
                for name, options in values.items()
                if name not in read
            }
            written = {name: found for name, found in written.items() if found}
            for name, found in written.items():  # "the oat ones" now, "EU 41" a message before
                other = [o for o in found if keep is None or o != keep.get(name)]
                if name not in wanted or (keep is not None and wanted[name] == keep.get(name) and other):
                    wanted[name] = (other or found)[0]
            read |= set(written)
        return wanted

    def fitting(self, variants: Sequence[Variant], wanted: dict[str, str]) -> list[Variant]:
        return [v for v in variants if all(v.options.get(k, x) == x for k, x in wanted.items())]

    def variant(self, product: ProductView, plan: Plan, keep: dict[str, str] | None = None) -> Variant | str:
        """The item of ``product`` in stock with the options asked for (the others as in ``keep``, the item
        being swapped); or what to tell the customer."""
        name = product.product.name
        stock = product.in_stock()
        if not stock:
            return f"**{name}** is sold out at the moment."
        wanted = self.wanted(product, plan, keep)
        if keep is not None and all(keep.get(k) == x for k, x in wanted.items()):  # nothing new asked
            wanted = {}
            moved = self._moved_size(product, keep["size"]) if "size" in keep else None
            if moved is not None:
                wanted["size"] = moved
        if keep is not None and not wanted:
            others = [v for v in stock if any(v.options.get(k) != x for k, x in keep.items())]
            return (
                f"Which size or colour would you like instead of {name} ({', '.join(keep.values())})? "
                f"In stock: {reply.variants_text(others) or 'nothing else'}."
            )
        fits = self.fitting(stock, wanted)
        if keep:  # the options not asked about stay as they were, where an item has them
            fits = [
                v for v in fits if all(v.options.get(k, x) == x for k, x in keep.items() if k not in wanted)
            ] or fits
        if not fits:
            asked = ", ".join(wanted.values())
            sold = self.fitting(product.product.variants, wanted)
            why = "is sold out in" if sold else "does not come in"
            return f"**{name}** {why} {asked}. In stock: {reply.variants_text(stock)}."
        sizes = {v.options.get("size") for v in fits}
        if keep is None and "size" not in wanted and len(sizes) > 1:
            return f"Which size would you like for **{name}**? In stock: {reply.variants_text(fits)}."
        return fits[0]

    def _moved_size(self, product: ProductView, current: str) -> str | None:
        """The next size up or down from ``current``, when the customer asked for bigger or smaller."""
        step = 1 if _BIGGER.search(self.said) else -1 if _SMALLER.search(self.said) else 0
        if not step:
            step = 1 if any(_BIGGER.search(t) for t in self.before[-2:]) else 0
        sizes = list(
            dict.fromkeys(v.options["size"] for v in product.product.variants if "size" in v.options)
        )
        if not step or current not in sizes:
            return None
        ordered = sorted(sizes, key=_size_rank) if all(_size_rank(s) < 99 for s in sizes) else sizes
        i = ordered.index(current) + step
        return ordered[i] if 0 <= i < len(ordered) else None

    def quantity(self, plan: Plan) -> int:
        match = _QUANTITY.search(self.said)
        if match is None:
            return plan.quantity
        token = next(g for g in match.groups() if g).lower()
        return _NUMBER_WORDS.get(token) or int(token)

    # --- orders ------------------------------------------------------------------------------------------

    def named_orders(self) -> list[OrderView] | str:
        """The customer's orders whose ids they wrote; "not found" when one is not theirs."""
        mine = {_digits(o["id"]): o for o in self.table.orders}
        found: list[OrderView] = []
        for token in (a or b for a, b in _ORDER_ID.findall(self.said)):
            order = mine.get(_digits(token))
            if order is None:
                return f"I can't find an order {token} in your account." + self.orders_hint()
            found.append(order)
        return found

    def order(self, plan: Plan, states: tuple[str, ...], verb: str) -> OrderView | str:
        named = self.named_orders()
        if isinstance(named, str) or named:
            return named if isinstance(named, str) else named[0]
        eligible = [o for o in self.table.orders if o["status"] in states]
        by_items = self._by_items(plan, eligible or self.table.orders)
        if by_items is not None:
            return by_items
        mine = {_digits(o["id"]): o for o in self.table.orders}
        guessed = mine.get(_digits(plan.order)) if plan.order else None
        if guessed is not None and guessed in eligible:
            return guessed
        if _LAST.search(f"{plan.order} {self.said}") and self.table.orders:
            return (eligible or self.table.orders)[0]  # newest first
        if len(eligible) == 1:
            return eligible[0]
        if not eligible:
            return f"You have no {' or '.join(states)} order I could {verb}." + self.orders_hint()
        return f"Which order would you like to {verb}?\n" + "\n".join(reply.order_line(o) for o in eligible)

    def orders_with_items(self, plan: Plan) -> list[OrderView]:
        """The customer's orders holding items the customer named in this message ("my mugs"), else in
        their previous one ("I'm still waiting on a parka" then "has it left the warehouse?")."""
        for text in (f"{plan.items} {plan.product} {plan.query} {self.said}", *reversed(self.before[-1:])):
            wanted = words(text)
            found = [o for o in self.table.orders if any(wanted & words(i["name"]) for i in o["items"])]
            if found:
                return found
        return []

    def _by_items(self, plan: Plan, orders: Sequence[OrderView]) -> OrderView | None:
        """The one order whose items the customer named (now, or in their last message)."""
        for text in (f"{plan.items} {plan.product} {self.said}", *reversed(self.before[-1:])):
            wanted = words(text)
            hits = [o for o in orders if any(wanted & words(i["name"]) for i in o["items"])]
            if len(hits) == 1:
                return hits[0]
        return None

    def orders_hint(self) -> str:
        if not self.table.orders:
            return " You have no orders yet."
        return "\nYour orders:\n" + "\n".join(reply.order_line(o) for o in self.table.orders)

    def order_lines(self, order: OrderView, plan: Plan, *, every: bool) -> list[OrderLine] | str:
        """The items of ``order`` the customer means: those their words name best; every item when they
        say so and name none ("all of it", "both" of two); else a question."""
        open_lines = [i for i in order["items"] if i["state"] == "ordered"]
        if len(open_lines) == 1:
            return open_lines
        for text in (f"{plan.items} {plan.product}", self.said, *reversed(self.before[-1:])):
            wanted = words(text)
            scored = [
                (len(wanted & words(f"{i['name']} {' '.join(i['options'].values())}")), i) for i in open_lines
            ]
            best = max((s for s, _ in scored), default=0)
            if best:
                return [i for s, i in scored if s == best][: None if every else 1]
        everything = r"\b(all|everything|whole order|all of it|the lot)\b" + (
            r"|\bboth\b" if len(open_lines) == 2 else ""
        )
        if every and re.search(everything, f"{plan.items} {self.said}", re.I):
            return open_lines
        return f"Which item of order {order['id']}?\n" + "\n".join(
            f"- {i['name']} ({', '.join(i['options'].values())})" for i in open_lines
        )

    # --- the account -------------------------------------------------------------------------------------

    def address(self, named: str, *, default: bool = True) -> Address | None:
        """A saved address the plan or the customer named (by id, or words of it); the first one when
        ``default`` and none was named."""
        for text in (named, self.said):
            said = words(text) - _STREET
            for wanted in (
                said,
                {_ADDRESS_WORDS.get(w, w) for w in said},
            ):  # "office": an "office", or "work"
                for a in self.table.addresses:
                    if a.id.lower() in wanted or wanted & words(f"{a.line1} {a.line2}"):
                        return a
        return self.table.addresses[0] if default and self.table.addresses else None

    def new_address(self) -> dict[str, str] | None:
        """A new address the customer wrote ("12 Ocean Drive, Kennebunk, ME 04043"), as fields."""
        match = _NEW_ADDRESS.search(self.said)
        return None if match is None else _address_fields(match.group(0))

    def method(self, named: str, default: str | None = None) -> PaymentMethod | None:
        """A saved payment method the plan or the customer named (its id, "gift card", "paypal", its brand
        or last four digits); else ``default`` (an order's own method), else the first card."""
        for text in (named, self.said):
            said = words(text.replace("_", " ").replace("-", " "))
            for m in self.table.methods:
                marks = {m.id.lower(), m.last4, m.brand.lower()} - {""}
                marks |= {"gift"} if m.kind == "gift_card" else {"paypal"} if m.kind == "paypal" else set()
                if text.strip().lower() == m.id.lower() or said & marks:
                    return m
        for m in self.table.methods:
            if default is not None and m.id == default:
                return m
        cards = [m for m in self.table.methods if m.kind == "card"] or self.table.methods
        return cards[0] if cards else None


def _value_matches(asked: str, value: str) -> bool:
    """Whether the customer's ``asked`` ("L", "large", "10 inch", "sea glass") names the option ``value``."""
    a, v = _norm(SIZE_WORDS.get(asked.lower().strip(), asked)), _norm(value)
    if not a or not v:
        return False
    if a == v:
        return True
    parts = [_norm(p) for p in re.split(r"[/,]", value)]
    if len(parts) > 1 and a in parts:
        return True
    if a.isdigit() and v.startswith(a) and not v[len(a)].isdigit():
        return True  # "10" is "10-inch"
    return len(a) > 2 and (a in v.split() or bool(words(asked) and words(asked) <= words(value)))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9/ ]+", "", text.lower().replace("-", " ")).strip()


def _written_value(value: str, text: str) -> bool:
    """Whether ``text`` contains the option ``value`` as words ("sea glass", "10-inch", "L/XL")."""
    pattern = r"[\s-]*".join(re.escape(p) for p in re.split(r"[\s-]+", value.lower()) if p)
    return bool(re.search(rf"(?<![\w/]){pattern}(?![\w/])", text.lower()))


_SIZE_ORDER = ["xxs", "xs", "s", "s/m", "m", "m/l", "l", "l/xl", "xl", "xxl", "xxxl"]


def _size_rank(size: str) -> float:
    s = size.lower().strip()
    if s in _SIZE_ORDER:
        return _SIZE_ORDER.index(s)
    number = re.match(r"\d+(\.\d+)?", s)
    return float(number.group(0)) if number else 99


def _best_named(pool: Sequence[ProductView], wanted: set[str], *, strict: bool = False) -> ProductView | None:
    if not wanted or not pool:
        return None
    scored = [(len(wanted & words(p.product.name)), p) for p in pool]
    best = max(s for s, _ in scored)
    if not best or (strict and best < 2 and not any(s == len(words(p.product.name)) for s, p in scored if s)):
        return None
    return next(p for s, p in scored if s == best)


def _ordinal(text: str) -> int | None:
    text = text.lower().strip()
    if re.fullmatch(r"#?\d{1,2}", text):
        return int(text.lstrip("#"))
    match = re.search(r"\b(?:number|no\.?|#)\s*(\d{1,2})\b", text)
    if match:
        return int(match.group(1))
    for word, n in _ORDINALS.items():
        if re.search(rf"\bthe {word}\b|^{word}\b", text):
            return n
    return None


def _digits(order_id: str) -> str:
    return "".join(ch for ch in order_id if ch.isdigit()) or order_id.lower()


def _address_fields(text: str) -> dict[str, str] | None:
    """Street, city[, state zip][, country] as fields; None if it is not an address."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) < 2 or not re.match(r"\d", parts[0]):
        return None
    fields = {"line1": parts[0], "city": parts[1], "country": "US"}
    city_state = re.fullmatch(r"(.+?)\s+([A-Z]{2})(?:\s+(\d{4,6}(?:-\d{4})?))?", parts[1])
    if city_state:  # "Burlington VT 05408"
        fields["city"], fields["state"] = city_state.group(1), city_state.group(2)
        if city_state.group(3):
            fields["zip"] = city_state.group(3)
    for part in parts[2:]:
        state_zip = re.fullmatch(r"([A-Za-z]{2})?\s*(\d{4,6}(?:-\d{4})?)?", part)
        if state_zip and state_zip.group(2):
            fields["state"], fields["zip"] = state_zip.group(1) or "", state_zip.group(2)
        elif re.fullmatch(r"[A-Za-z][A-Za-z .]+", part):
            if len(part) == 2 and "state" not in fields and "zip" not in fields:
                fields["state"] = part
            else:
                fields["country"] = part
    return fields

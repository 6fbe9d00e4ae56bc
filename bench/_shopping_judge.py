"""The judge of the shopping conversation benchmark: a conversation passes on the store's state and the
replies' facts, never on their wording.

Facts read from a reply (``read_reply``):

- money: every amount written with a currency (``$68``, ``68.00 USD``, ``USD 68``, ``68 dollars``) or as a
  bare number with two decimals (``68.00``, not followed by a unit such as ``L`` or ``kg``);
- order ids: words shaped like the store's order ids (``HP-1001`` makes ``HP-\\d{4}``);
- item and product ids: slugs of three or more parts (``riviera-linen-shirt-m-white``) that are ids or
  look like the store's (they start as one of its product ids does, or hold a digit);
- products: the store's product names found in the text (case and punctuation aside; the part in
  parentheses may be left out), and **invented** names: Title Case phrases ending in a word that ends a
  product name of the store ("... Linen Shirt"), which are not part of any product's name.

What counts as invented (``invented``): a money amount that is none of the amounts the conversation's
context holds (``allowed_amounts``: every price of the store, the customer's orders' totals, lines and
sums of their lines, the cart's totals, the amounts of the actions proposed, gift card balances, amounts the
customer wrote); an order id that is not the store's (unless the customer wrote it); an order id of another
customer (unless the customer wrote it); an id that is no product's or item's; an invented product name.

The checks of a conversation (``judge``), each from its spec in the data file:

- ``cart``: the cart rows at the end (a variant, or a product with options, and a quantity); absent, the cart
  must be as the conversation found it;
- ``actions``: the pending actions proposed (kind, target order, amount, items, swaps, address); every one
  proposed must be expected or of a kind in ``may_propose``; ``tickets``: at least one hand-off ticket
  opened (``true``) or none (absent/``false``; ``may_hand_off`` allows either);
- per turn (``reply``): ``names_matching`` (the reply names at least one product meeting the constraints:
  category, words, price bounds, size, colour, in stock), ``within_bounds`` (no product it names breaks a
  stated price bound or has the stated size only out of stock), ``names_any`` (one of these products),
  ``states_status`` (the order's real status, from the database), ``no_leak`` (nothing of another customer's
  order: its items' names or total).

Every turn must also have answered (a non-empty reply, no error). Not here: reading the database
(_shopping_state.py) or running the conversation (shopping_conversations.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from _shopping_state import OrderFacts, ProductFacts, StoreFacts

# --- reading a reply -------------------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_MONEY = re.compile(
    rf"(?P<sym>[$€£])\s?(?P<a>{_NUMBER})"
    rf"|\b(?:USD|EUR|GBP)\s?(?P<b>{_NUMBER})"
    rf"|(?<![\w.])(?P<c>{_NUMBER})\s?(?:USD|EUR|GBP|dollars?|euros?|bucks)\b"
    r"|(?<![\w.$€£])(?P<d>\d+\.\d{2})(?!\d|\.\d)(?!\s?(?:%|kg|g\b|l\b|L\b|ml|oz|qt|mm|cm|m\b|in\b|inch|star|/))",
    re.IGNORECASE,
)
_SLUG = re.compile(r"(?<![\w-])[a-z0-9]+(?:-[a-z0-9]+){2,}(?![\w-])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.-]*")
_LEADING = {
    "the", "our", "this", "that", "these", "those", "your", "my", "a", "an", "some", "any", "both", "all",
    "each", "new", "other", "great", "yes", "sure", "here", "i", "we", "you", "it", "its", "and", "or",
}  # fmt: skip
# a currency code after an amount starts no name
_CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY"}
_PARENS = re.compile(r"\s*\([^)]*\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def cents(text: str) -> int:
    return round(float(text.replace(",", "")) * 100)


def amounts_in(text: str) -> list[int]:
    """Money amounts the text states, in cents."""
    out = []
    for m in _MONEY.finditer(text):
        number = m.group("a") or m.group("b") or m.group("c") or m.group("d")
        out.append(cents(number))
    return out


def _norm(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def order_pattern(order_ids: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for words shaped like the store's order ids: each digit a digit, the rest as it is."""
    shapes = sorted({re.sub(r"\\\d|\d", r"\\d", re.escape(oid)) for oid in order_ids}, key=len, reverse=True)
    if not shapes:
        return None
    return re.compile(rf"(?<![\w-])(?:{'|'.join(shapes)})(?![\w-])", re.IGNORECASE)


@dataclass
class ReplyFacts:
    products: list[str] = field(default_factory=list)  # product ids named, by name or id
    invented_names: list[str] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)  # as the store spells them, or as written if unknown
    ids: list[str] = field(default_factory=list)  # product or item ids written
    unknown_ids: list[str] = field(default_factory=list)  # id-shaped words that are no product's or item's


class StoreReader:
    """Reads replies against one store's facts."""

    def __init__(self, facts: StoreFacts, extra_heads: Iterable[str] = ()) -> None:
        """``extra_heads``: more words that end a product's name (what the store does not sell, for a
        question about it: a name ending in one is an invented product)."""
        self.facts = facts
        self.orders = order_pattern(facts.orders)
        self.order_by_upper = {oid.upper(): oid for oid in facts.orders}
        # normalized name -> product id, with and without the part in parentheses
        self.names: dict[str, str] = {}
        for p in facts.products.values():
            self.names[_norm(p.name)] = p.id
            self.names.setdefault(_norm(_PARENS.sub("", p.name)), p.id)
        # and the name's start, of two words or more and at least half of it, where no other name starts so
        # ("Enamelled Dutch Oven" for "Enamelled Dutch Oven 5.5 qt"): how people shorten a name
        starts: dict[str, set[str]] = {}
        for p in facts.products.values():
            words = _norm(_PARENS.sub("", p.name)).split()
            for n in range(max(2, (len(words) + 1) // 2), len(words)):
                starts.setdefault(" " + " ".join(words[:n]) + " ", set()).add(p.id)
        self.shortened = {start: ids.pop() for start, ids in starts.items() if len(ids) == 1}
        heads = {_norm(_PARENS.sub("", p.name)).split()[-1] for p in facts.products.values()}
        heads |= {w.lower() for w in extra_heads}
        self.heads = heads | {h + "s" for h in heads} | {h + "es" for h in heads}
        self.first_parts = {pid.split("-")[0] for pid in facts.products}

    def read(self, text: str) -> ReplyFacts:
        facts = ReplyFacts(amounts=amounts_in(text))
        normal = _norm(text)
        found: dict[str, None] = {}
        for name, pid in [*self.names.items(), *self.shortened.items()]:
            if name in normal:
                found[pid] = None
        for slug in _SLUG.findall(text):
            if slug in self.facts.products or slug in self.facts.variants:
                facts.ids.append(slug)
                pid = slug if slug in self.facts.products else self.facts.variants[slug].product_id
                found[pid] = None
            elif slug.split("-")[0] in self.first_parts or re.search(r"\d", slug):
                facts.unknown_ids.append(slug)
        facts.products = list(found)
        if self.orders is not None:
            for m in self.orders.finditer(text):
                word = m.group(0)
                facts.order_ids.append(self.order_by_upper.get(word.upper(), word))
        facts.invented_names = self.invented_names(text)
        return facts

    def invented_names(self, text: str) -> list[str]:
        """Phrases that name a product the store does not have: a Title Case run, or a bold (``**...**``)
        phrase, ending in a word that ends the store's product names, that is no part of a product's name.
        A Title Case run takes up to three lower-case words after it when they reach such a word ("Halo 43
        Waterproof hiking boots")."""
        out: list[str] = []
        candidates = _title_runs(text, self.heads) + [_WORD.findall(b) for b in _BOLD.findall(text)]
        titled = len(candidates) - len(_BOLD.findall(text))
        for n, run in enumerate(candidates):
            words = [w.rstrip(".") for w in run]
            while words and words[0].lower() in _LEADING:
                words.pop(0)
            if n < titled and words and words[0] in _CURRENCIES:  # "299.00 USD for the camera only"
                words.pop(0)
                if words and not words[0][:1].isupper():
                    continue
            if len(words) < 2:
                continue
            last = re.sub(r"[^a-z0-9]", "", words[-1].lower())
            if last not in self.heads:
                continue
            phrase = _norm(" ".join(words))
            singular = _norm(" ".join([*words[:-1], _singular(words[-1], self.heads)]))
            shown = " ".join(words)
            # a real name, or one with words before it that are no part of it ("USD Marina Floral Midi
            # Sundress" in "89.00 USD Marina Floral Midi Sundress")
            real = any(
                phrase in name or singular in name or (name.strip().count(" ") >= 2 and phrase.endswith(name))
                for name in self.names
            )
            if not real and shown not in out:
                out.append(shown)
        return out


def _singular(word: str, heads: set[str]) -> str:
    w = re.sub(r"[^a-z0-9]", "", word.lower())
    for end in ("es", "s"):
        if w.endswith(end) and w[: -len(end)] in heads:
            return w[: -len(end)]
    return w


def _title_runs(text: str, heads: set[str]) -> list[list[str]]:
    """Runs of consecutive capitalised words (or numbers inside a run), split at punctuation; a run takes up
    to three lower-case words after it when one of them is in ``heads``."""
    runs: list[list[str]] = []
    for piece in re.split(r"[,;:!?()\[\]\"*_`\n→]|\.\s|\s[-–—]\s", text):
        words = [w.rstrip(".") for w in _WORD.findall(piece)]
        n = 0
        while n < len(words):
            if not words[n][:1].isupper():
                n += 1
                continue
            end = n + 1
            while end < len(words) and (words[end][:1].isupper() or words[end][:1].isdigit()):
                end += 1
            tail = [re.sub(r"[^a-z0-9]", "", w.lower()) for w in words[end : end + 3]]
            reach = max((i + 1 for i, w in enumerate(tail) if w in heads), default=0)
            runs.append(words[n : end + reach])
            n = end + reach
    return runs


# --- what the conversation's context allows --------------------------------------------------------------


def allowed_amounts(
    facts: StoreFacts,
    user: str,
    *,
    carts: Sequence[Sequence[tuple[str, int]]] = (),
    actions: Iterable[Mapping[str, Any]] = (),
    said: Iterable[str] = (),
) -> set[int]:
    """Every amount a grounded reply may state: the store's prices (and twice to five times one, for a
    quantity), the customer's orders (totals, lines, sums of lines), the cart's totals at each point,
    amounts of the actions proposed (and a changed order's new total), gift card balances, amounts the
    customer wrote, and zero."""
    out = {0}
    for v in facts.variants.values():
        out.update(v.price * q for q in range(1, 6))
    for order in facts.orders_of(user):
        out.add(order.total)
        lines = [i.price * i.quantity for i in order.items]
        out.update(i.price for i in order.items)
        for n in range(1, min(len(lines), 6) + 1):
            out.update(sum(c) for c in itertools.combinations(lines, n))
    for cart in carts:
        out.add(sum(facts.variants[v].price * q for v, q in cart if v in facts.variants))
    for action in actions:
        out.add(int(action["amount"]))
        target = facts.orders.get(action.get("target") or "")
        difference = action.get("arguments", {}).get("difference")
        if target is not None and isinstance(difference, int):
            out.add(target.total + difference)
        if action.get("kind") == "place_order":
            out.add(int(action["amount"]))
    out.update(facts.balances.get(user, []))
    for text in said:
        out.update(amounts_in(text))
        out.update(cents(n) for n in re.findall(r"\b\d+(?:\.\d{1,2})?\b", text))
    return out


@dataclass
class Invented:
    prices: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # order, product or item ids that are not real or not theirs
    names: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.prices) + len(self.ids) + len(self.names)


def invented(reply: ReplyFacts, facts: StoreFacts, user: str, allowed: set[int], said: str) -> Invented:
    """What the reply states that the context does not hold (see the module docstring)."""
    out = Invented(prices=[a for a in reply.amounts if a not in allowed], names=list(reply.invented_names))
    written = said.upper()
    for oid in reply.order_ids:
        order = facts.orders.get(oid)
        if oid.upper() in written:
            continue  # the customer's own words: naming it back is no invention
        if order is None:
            out.ids.append(oid)
        elif order.user != user:
            out.ids.append(f"{oid} (another customer's)")
    own = facts.saved.get(user, set())  # their address and payment method ids are no inventions
    out.ids.extend(i for i in reply.unknown_ids if i not in own)
    return out


# --- the checks ------------------------------------------------------------------------------------------


def satisfies(product: ProductFacts, facts: StoreFacts, spec: Mapping[str, Any]) -> bool:
    """Whether the product meets every constraint of ``spec``: category (or one of its ancestors), words
    (all in its text), and one variant within the price bounds, of the size and colour, in stock."""
    categories = spec.get("category")
    if categories:
        wanted = {categories} if isinstance(categories, str) else set(categories)
        if not wanted & set(facts.ancestors(product.category)):
            return False
    if not all(word.lower() in product.text for word in spec.get("text", ())):
        return False
    return any(_variant_fits(v.options, v.price, v.in_stock, spec) for v in product.variants)


def _variant_fits(options: Mapping[str, str], price: int, in_stock: bool, spec: Mapping[str, Any]) -> bool:
    if "max_price" in spec and price > cents(str(spec["max_price"])):
        return False
    if "min_price" in spec and price < cents(str(spec["min_price"])):
        return False
    if spec.get("in_stock", True) and not in_stock:
        return False
    if "size" in spec and options.get("size", "").lower() != str(spec["size"]).lower():
        return False
    color = spec.get("color")
    return not color or color.lower() in options.get("color", "").lower()


def breaks_bounds(product: ProductFacts, spec: Mapping[str, Any]) -> bool:
    """Whether naming the product breaks a stated bound: no variant within the price bounds, or (when a size
    is stated and the product comes in sizes) that size within them only out of stock or not at all."""
    prices = {k: spec[k] for k in ("max_price", "min_price") if k in spec}
    if not any(_variant_fits({}, v.price, True, prices) for v in product.variants):
        return True
    if "size" in spec and any("size" in v.options for v in product.variants):
        sized = prices | {"size": spec["size"]}
        return not any(_variant_fits(v.options, v.price, v.in_stock, sized) for v in product.variants)
    return False


STATUS_WORDS = {
    "pending": ("pending", "not yet shipped", "not shipped", "hasn't shipped", "has not shipped"),
    "processed": ("processed", "processing", "shipped", "on its way", "on the way", "in transit", "packed"),
    "delivered": ("delivered",),
    "cancelled": ("cancelled", "canceled"),
    "return requested": ("return requested", "return has been requested", "return is requested", "return"),
    "exchange requested": ("exchange requested", "exchange"),
}


def check_reply(
    spec: Mapping[str, Any], text: str, reply: ReplyFacts, facts: StoreFacts, user: str
) -> list[str]:
    """The failures of one turn's reply checks."""
    fails = []
    named = [facts.products[p] for p in reply.products]
    matching = spec.get("names_matching")
    if matching is not None:
        expected = {p.id for p in facts.products.values() if satisfies(p, facts, matching)}
        if not expected:
            fails.append(f"names_matching: no product of the store meets {matching} (a bad check)")
        elif not expected & set(reply.products):
            fails.append(f"names no product meeting {matching} (any of {sorted(expected)[:6]})")
    bounds = spec.get("within_bounds")
    if bounds is not None:
        broken = [p.id for p in named if breaks_bounds(p, bounds)]
        if broken:
            fails.append(f"names {broken}, outside {bounds}")
    anyof = spec.get("names_any")
    if anyof and not set(anyof) & set(reply.products):
        fails.append(f"names none of {anyof}")
    status_of = spec.get("states_status")
    if status_of:
        real = facts.orders[status_of].status
        low = text.lower()
        if not any(w in low for w in STATUS_WORDS.get(real, (real,))):
            fails.append(f"does not state {status_of}'s status ({real})")
    for oid in spec.get("no_leak", ()):
        leaked = _leaks(text, reply, facts.orders[oid])
        if leaked:
            fails.append(f"tells of {oid}, another customer's order: {leaked}")
    return fails


def _leaks(text: str, reply: ReplyFacts, order: OrderFacts) -> list[str]:
    out = [f"total {order.total / 100:.2f}" for a in reply.amounts if a == order.total]
    out += [i.name for i in order.items if i.product_id in reply.products]
    return out


def _row_matches(row: tuple[str, int], spec: Mapping[str, Any], facts: StoreFacts) -> bool:
    variant_id, quantity = row
    if quantity != spec.get("quantity", 1):
        return False
    if "variant" in spec:
        return bool(variant_id == spec["variant"])
    variant = facts.variants.get(variant_id)
    products = [spec["product"]] if isinstance(spec["product"], str) else spec["product"]  # one of these
    if variant is None or variant.product_id not in products:
        return False
    return _options_match(variant.options, spec.get("options", {}))


def _options_match(options: Mapping[str, str], want: Mapping[str, Any]) -> bool:
    return all(options.get(k, "").lower() == str(x).lower() for k, x in want.items())


def check_cart(
    expected: Sequence[Mapping[str, Any]] | None,
    start: Sequence[tuple[str, int]],
    end: Sequence[tuple[str, int]],
    facts: StoreFacts,
) -> list[str]:
    """The cart at the end against ``expected`` (None: as it was at the start)."""
    if expected is None:
        return [] if sorted(start) == sorted(end) else [f"cart changed: {sorted(start)} -> {sorted(end)}"]
    rows = list(end)
    for spec in expected:
        match = next((r for r in rows if _row_matches(r, spec, facts)), None)
        if match is None:
            return [f"cart {sorted(end)} has no row {dict(spec)}"]
        rows.remove(match)
    return [f"cart has rows not asked for: {rows}"] if rows else []


def _action_matches(action: Mapping[str, Any], spec: Mapping[str, Any], facts: StoreFacts) -> bool:
    if action["kind"] != spec["kind"]:
        return False
    args = action["arguments"]
    if "target" in spec and action["target"] != spec["target"]:
        return False
    if "amount" in spec and action["amount"] != spec["amount"]:
        return False
    order = facts.orders.get(action["target"])
    by_seq = {i.seq: i for i in order.items} if order else {}
    if "items" in spec:  # a return: the variants returned
        returned = sorted(by_seq[s].variant_id for s in args.get("items", ()) if s in by_seq)
        if returned != sorted(spec["items"]):
            return False
    if "swaps" in spec:  # a change or exchange: (old variant, new variant or {options})
        got = {(by_seq[s].variant_id if s in by_seq else "?", new) for s, new in args.get("items", ())}
        if len(got) != len(spec["swaps"]):
            return False
        for old, new in spec["swaps"]:
            if not any(g_old == old and _new_matches(g_new, new, facts) for g_old, g_new in got):
                return False
    if "address" in spec:
        address = args.get("address") or {}
        if not all(str(address.get(k, "")).lower() == str(v).lower() for k, v in spec["address"].items()):
            return False
    if "address_id" in spec and args.get("address_id") != spec["address_id"]:
        return False
    if "lines" in spec:  # a checkout: the (variant, quantity) lines bought
        return sorted(map(tuple, args.get("items", ()))) == sorted(map(tuple, spec["lines"]))
    return True


def _new_matches(variant_id: str, want: str | Mapping[str, Any], facts: StoreFacts) -> bool:
    if isinstance(want, str):
        return variant_id == want
    variant = facts.variants.get(variant_id)
    return variant is not None and _options_match(variant.options, want)


def check_actions(
    expected: Sequence[Mapping[str, Any]],
    may_propose: Sequence[str],
    new: Sequence[Mapping[str, Any]],
    facts: StoreFacts,
) -> list[str]:
    """The proposals of the conversation: each expected one made, none of a kind not expected or allowed."""
    fails = []
    for spec in expected:
        if not any(_action_matches(a, spec, facts) for a in new):
            got = [(a["kind"], a["target"], a["amount"], a["arguments"].get("items")) for a in new]
            fails.append(f"no proposal {dict(spec)} (proposed: {got})")
    for action in new:
        if not any(_action_matches(action, s, facts) for s in expected) and action["kind"] not in may_propose:
            fails.append(f"proposed {action['kind']} {action['target']} {action['amount']}, not asked for")
    return fails


# --- one conversation ------------------------------------------------------------------------------------


@dataclass
class TurnSeen:
    """What one turn produced, as the judge needs it."""

    user: str  # what the customer said
    reply: str
    error: str | None = None
    cart_after: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Verdict:
    passed: bool
    failures: list[str]
    invented: Invented
    unauthorized: list[str]  # consequential changes without the person's token


def judge(
    conversation: Mapping[str, Any],
    facts: StoreFacts,
    turns: Sequence[TurnSeen],
    start_cart: Sequence[tuple[str, int]],
    end_cart: Sequence[tuple[str, int]],
    new_actions: Sequence[Mapping[str, Any]],
    new_tickets: Sequence[int],
    unauthorized: Sequence[str],
    reported: Iterable[str] | None = None,
) -> Verdict:
    """Judge a conversation from what its turns replied and what it left in the store; ``reported``: the ids
    of the actions the responses put to the person (one proposed but never shown to them fails)."""
    user = conversation["customer"]
    checks = conversation.get("checks", {})
    reader = StoreReader(facts, conversation.get("absent", ()))
    fails: list[str] = []
    total = Invented()
    carts = [list(start_cart), *(t.cart_after for t in turns)]
    said_so_far = ""
    reply_specs = checks.get("reply", {})
    for n, turn in enumerate(turns, start=1):
        said_so_far += "\n" + turn.user
        if turn.error or not turn.reply.strip():
            fails.append(f"turn {n}: no answer ({turn.error or 'empty reply'})")
            continue
        seen = reader.read(turn.reply)
        allowed = allowed_amounts(facts, user, carts=carts, actions=new_actions, said=[said_so_far])
        found = invented(seen, facts, user, allowed, said_so_far)
        total.prices += found.prices
        total.ids += found.ids
        total.names += found.names
        if found.count():
            fails.append(f"turn {n}: invented {found}")
        spec = reply_specs.get(str(n))
        if spec:
            fails += [f"turn {n}: {f}" for f in check_reply(spec, turn.reply, seen, facts, user)]
    fails += check_cart(checks.get("cart"), start_cart, end_cart, facts)
    fails += check_actions(checks.get("actions", []), checks.get("may_propose", []), new_actions, facts)
    wants_ticket = checks.get("tickets", False)
    if wants_ticket and not new_tickets:
        fails.append("no hand-off ticket opened")
    if not wants_ticket and new_tickets and not checks.get("may_hand_off", False):
        fails.append(f"hand-off ticket(s) {list(new_tickets)} opened, not asked for")
    if reported is not None:
        shown = set(reported)
        fails += [
            f"{a['kind']} {a['id']} proposed but not shown to the person"
            for a in new_actions
            if a["id"] not in shown
        ]
    fails += [f"without the person: {u}" for u in unauthorized]
    return Verdict(not fails, fails, total, list(unauthorized))

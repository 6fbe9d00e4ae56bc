"""Carrying out a shopping plan: resolve what it refers to, call the store, and say what happened.

``Executor.run(plan)`` returns the reply's text, or None when the plan asks for words only (``answer``),
which the turn's mode then writes. Each intent has one method. What a plan names is resolved against the
table (table.py), never taken on trust:

- a product: the number of one shown last, "cheapest" / "most expensive" among them, words of its name
  (shown products first, then the cart, then a catalog search), or the only product shown;
- an item of it: the size and colour asked for, among the items in stock; a question when several sizes
  fit and none was given;
- an order: an id the customer wrote, if it is theirs (another customer's order is "not found", the same
  as one that does not exist), "last", or the only order in the state the intent needs; a question when
  several qualify;
- an address or payment method: a saved one named by id or words, else the customer's first.

The store is reached through the customer's shopping tools (commerce/tools/), called as the model would
call them and recorded in ``calls`` (the turn shows them as tool events: the web page draws product cards
from a search's). Consequential intents only propose (the shopping tools' proposals, confirmed by the
person outside the conversation). The store's refusals (an order no longer cancellable, an item sold
out) come back as what they say. Blocking: run it in a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ponder.commerce.action_records import PendingAction
from ponder.commerce.assistant import reply
from ponder.commerce.assistant.plan import Plan
from ponder.commerce.assistant.table import CartLine, Table, options_text
from ponder.commerce.catalog import ProductView, product_text
from ponder.commerce.model import Address, PaymentMethod, Variant
from ponder.commerce.order_records import OrderLine, OrderView
from ponder.commerce.tools import ShoppingTools
from ponder.errors import PonderError
from ponder.messages import ToolCallPart, ToolResultPart

__all__ = ["Executor"]

SEARCH_RESULTS = 5
RECOMMENDATIONS = 3
# An order id in the customer's words: after "#" or "order", or letters, a dash and digits ("HP-1004").
_ORDER_ID = re.compile(
    r"(?:#|\border(?: number| no\.?| id)?\s*#?)([A-Za-z]{0,6}-?\d+)\b|(?<![\w-])([A-Za-z]{1,6}-\d+)(?![\w-])",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
}  # fmt: skip
_CHEAPEST = re.compile(r"\b(cheapest|least expensive|lowest[- ]priced?|most affordable)\b", re.IGNORECASE)
_PRICIEST = re.compile(r"\b(most expensive|priciest|highest[- ]priced?)\b", re.IGNORECASE)
_LAST = re.compile(r"\b(last|latest|most recent|newest|recent)\b", re.IGNORECASE)
_STREET = frozenset(
    ["street", "st", "road", "rd", "avenue", "ave", "lane", "way", "drive", "floor", "apt", "address"]
)
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


class Executor:
    """Carries out ``plan``s for one customer in one turn; ``said`` is what the customer just wrote."""

    def __init__(self, tools: ShoppingTools, table: Table, said: str) -> None:
        self.tools = tools
        self.shop = tools.shop
        self.owner = tools.owner
        self.table = table
        self.said = said
        self.calls: list[tuple[ToolCallPart, ToolResultPart]] = []  # the store's tools called, in order

    def run(self, plan: Plan) -> str | None:
        if plan.intent == "answer" and (plan.product or plan.query) and _ASKS_STOCK.search(self.said):
            plan = replace(plan, intent="search")  # "do you sell X?" is answered from the catalog
        handler = getattr(self, f"_{plan.intent}")
        try:
            text: str | None = handler(plan)
        except PonderError as error:  # the store's refusal, as it says it
            return f"I couldn't do that: {error}"
        return text

    # --- the catalog -------------------------------------------------------------------------------------

    def _search(self, plan: Plan) -> str:
        query = plan.query or plan.product or self.said
        found = self._call(
            "search_products",
            query=query,
            max_price=plan.max_price,
            min_price=plan.min_price,
            size=plan.size or None,
            color=plan.color or None,
            limit=_count(self.said) or SEARCH_RESULTS,
        )
        wanted = _filters(self.table, plan)
        listed = _relevant(self._listed(found), query)
        if not listed:
            return (
                f"I found nothing in stock at {self.table.store} for “{query}”{wanted}. "
                "Other words or fewer filters may help."
            )
        lines = [f"Here is what I found for “{query}”{wanted}:"]
        lines += [
            reply.product_line(self.table, i, product, variants)
            for i, (product, variants) in enumerate(listed, 1)
        ]
        lines.append("Tell me which one you like (and your size), and I can add it to your cart.")
        return "\n".join(lines)

    def _recommend(self, plan: Plan) -> str:
        found = self._call(
            "recommend_products",
            request=plan.query or self.said,
            max_price=plan.max_price,
            size=plan.size or None,
            limit=_count(self.said) or RECOMMENDATIONS,
        )
        if not found:
            return f"I have nothing in stock to recommend{_filters(self.table, plan)} right now."
        lines = [f"Picked for you{_filters(self.table, plan)}:"]
        for i, ((product, variants), r) in enumerate(zip(self._listed(found), found, strict=True), 1):
            fits = [
                v
                for v in _fitting(variants, plan)
                if plan.max_price is None or v.price <= round(plan.max_price * 100)
            ]
            why = "; ".join(r["why"][:2])
            line = reply.product_line(self.table, i, product, fits or variants)
            lines.append(f"{line}{f' ({why})' if why else ''}")
        lines.append("Want details on one of them, or one in your cart?")
        return "\n".join(lines)

    def _listed(self, found: list[dict[str, Any]]) -> list[tuple[ProductView, list[Variant]]]:
        """The products a search or recommendation returned, with the items it listed for each."""
        views = {
            p.id: p for p in self.shop.catalog.products(self.owner.account, [f["product_id"] for f in found])
        }
        out = []
        for f in found:
            product = views[f["product_id"]]
            listed = {item["item_id"] for item in f["items"]}
            out.append(
                (product, [v for v in product.product.variants if v.id in listed] or product.in_stock())
            )
        return out

    def _details(self, plan: Plan) -> str:
        product = self._product(plan)
        if product is None:
            return self._which_product()
        self._call("get_product", product_id=product.id)  # also records the customer's interest
        text = reply.product_details(self.table, product)
        if plan.size or plan.color:
            fits = _fitting(product.in_stock(), plan)
            asked = " ".join(x for x in (plan.size, plan.color) if x)
            text += (
                f"\nIn {asked}: in stock ({reply.variants_text(fits) or 'yes'})."
                if fits
                else f"\nIn {asked}: not in stock."
            )
        return text

    # --- the cart ----------------------------------------------------------------------------------------

    def _cart(self, plan: Plan) -> str:
        return reply.cart_text(self.table)

    def _add(self, plan: Plan) -> str:
        product = self._product(plan)
        if product is None:
            return self._which_product()
        chosen = self._variant(product, plan)
        if isinstance(chosen, str):
            return chosen
        self._call("add_to_cart", item_id=chosen.id, quantity=plan.quantity)
        self.table = self._reread()
        options = options_text(chosen)
        return (
            f"Added **{product.product.name}**{f' ({options})' if options else ''} x{plan.quantity} to your "
            f"cart, {self.table.money(chosen.price)} each.\n{reply.cart_text(self.table)}"
        )

    def _remove(self, plan: Plan) -> str:
        if not self.table.cart:
            return "Your cart is empty."
        words = _words(plan.product or plan.query or self.said)
        scored = sorted(
            self.table.cart,
            key=lambda line: (
                -len(
                    words & _words(line.product.product.name + " " + " ".join(line.variant.options.values()))
                )
            ),
        )
        best = scored[0]
        if len(self.table.cart) > 1 and not words & _words(best.product.product.name):
            return "Which item should I take out?\n" + reply.cart_text(self.table)
        self._call("remove_from_cart", item_id=best.variant.id)
        self.table = self._reread()
        return f"Removed **{best.product.product.name}** from your cart.\n{reply.cart_text(self.table)}"

    def _checkout(self, plan: Plan) -> str:
        added = ""
        if plan.product or not self.table.cart:  # "buy this one": into the cart first, then the proposal
            product = self._product(plan)
            if product is not None and product.id not in {line.product.id for line in self.table.cart}:
                added = self._add(plan)
                if not self.table.cart or product.id not in {line.product.id for line in self.table.cart}:
                    return added  # a question (which size?) or why it could not be added
        if not self.table.cart:
            return "Your cart is empty: there is nothing to check out yet. What would you like to buy?"
        address = self._address(plan.address)
        method = self._method(plan.payment)
        if address is None or method is None:
            return "You have no saved address or payment method yet, so I cannot prepare the order."
        self._call("checkout", address_id=address.id, payment_method_id=method.id)
        lead = f"{added.splitlines()[0]}\nI've prepared your order:" if added else "I've prepared your order:"
        return reply.proposal_text(self._proposed(), lead)

    # --- orders ------------------------------------------------------------------------------------------

    def _orders(self, plan: Plan) -> str:
        named = self._named_orders(plan)
        if isinstance(named, str):
            return named
        if named:
            return reply.order_text(named[0])
        if _LAST.search(self.said) and self.table.orders:
            return reply.order_text(self.table.orders[0])
        if not self.table.orders:
            return "You have no orders yet."
        return "Your orders, newest first:\n" + "\n".join(reply.order_line(o) for o in self.table.orders)

    def _cancel(self, plan: Plan) -> str:
        order = self._order(plan, ("pending",), "cancel")
        if isinstance(order, str):
            return order
        self._call("cancel_order", order_id=order["id"], reason=plan.reason or self.said)
        return reply.proposal_text(
            self._proposed(), f"I've prepared the cancellation of order {order['id']}:"
        )

    def _return(self, plan: Plan) -> str:
        order = self._order(plan, ("delivered",), "return")
        if isinstance(order, str):
            return order
        lines = self._order_lines(order, plan, every=True)
        if isinstance(lines, str):
            return lines
        seqs = [line["seq"] for line in lines]
        self._call("return_items", order_id=order["id"], item_numbers=seqs, reason=plan.reason or self.said)
        return reply.proposal_text(self._proposed(), f"I've prepared a return for order {order['id']}:")

    def _exchange(self, plan: Plan) -> str:
        return self._swap(plan, ("delivered",), "exchange")

    def _change_item(self, plan: Plan) -> str:
        return self._swap(plan, ("pending",), "change")

    def _swap(self, plan: Plan, states: tuple[str, ...], verb: str) -> str:
        order = self._order(plan, states, verb)
        if isinstance(order, str):
            return order
        lines = self._order_lines(order, plan, every=False)
        if isinstance(lines, str):
            return lines
        line = lines[0]
        product = self.shop.catalog.product(self.owner.account, line["product_id"])
        if not (plan.size or plan.color):
            others = [v for v in product.in_stock() if v.id != line["variant_id"]]
            now = ", ".join(line["options"].values())
            other = reply.variants_text(others) or "nothing else"
            return f"Which size or colour instead of {line['name']} ({now})? In stock: {other}."
        chosen = self._variant(product, plan, keep=line["options"])
        if isinstance(chosen, str):
            return chosen
        method = self._method(plan.payment, default=order["payment_method_id"])
        method_id = method.id if method else order["payment_method_id"]
        self._call(
            "exchange_items" if verb == "exchange" else "modify_order_items",
            order_id=order["id"],
            item_numbers=[line["seq"]],
            new_item_ids=[chosen.id],
            payment_method_id=method_id,
        )
        what = "an exchange" if verb == "exchange" else "a change"
        return reply.proposal_text(self._proposed(), f"I've prepared {what} for order {order['id']}:")

    def _change_address(self, plan: Plan) -> str:
        order = self._order(plan, ("pending",), "change the address of")
        if isinstance(order, str):
            return order
        saved = self._address(plan.address, default=False)
        if saved is not None:
            self._call("change_order_address", order_id=order["id"], address_id=saved.id)
        else:
            new = _new_address(plan.address) if _written(plan.address, self.said) else None
            if new is None:
                return (
                    f"Where should order {order['id']} go instead? Name a saved address "
                    f"({', '.join(a.id for a in self.table.addresses)}) or give the street, city and "
                    "postal code."
                )
            self._call("change_order_address", order_id=order["id"], **new)
        return reply.proposal_text(self._proposed(), f"I've prepared a new address for order {order['id']}:")

    # --- the account and people --------------------------------------------------------------------------

    def _account(self, plan: Plan) -> str:
        lines = ["Your saved addresses:"]
        lines += [
            f"- {a.id}: {', '.join(x for x in (a.line1, a.line2, a.city, a.zip) if x)}"
            for a in self.table.addresses
        ]
        lines.append("Your payment methods:")
        for m in self.table.methods:
            balance = f", balance {self.table.money(m.balance)}" if m.balance is not None else ""
            lines.append(f"- {m.id}: {m.kind.replace('_', ' ')} {m.brand} {m.last4}".rstrip() + balance)
        return "\n".join(lines)

    def _person(self, plan: Plan) -> str:
        reason = plan.reason or "The customer asked for a person."
        summary = f"The customer wrote: {self.said[:500]}"
        result = self._call("hand_off_to_person", reason=reason[:200], summary=summary)
        return (
            f"I've asked a person from {self.table.store} to take over this conversation "
            f"(ticket {result['ticket']}). They will answer here."
        )

    def _answer(self, plan: Plan) -> None:
        return None

    # --- resolving what a plan names ---------------------------------------------------------------------

    def _product(self, plan: Plan) -> ProductView | None:
        shown = self.table.shown
        ref = f"{plan.product} {self.said}"
        if shown:
            if (n := _ordinal(plan.product) or _ordinal(self.said)) and n <= len(shown):
                return shown[n - 1]
            fitting = [p for p in shown if _fitting(p.in_stock(), plan)] or shown
            if _CHEAPEST.search(ref):
                return min(
                    fitting,
                    key=lambda p: min(v.price for v in _fitting(p.in_stock(), plan) or p.product.variants),
                )
            if _PRICIEST.search(ref):
                return max(
                    fitting,
                    key=lambda p: max(v.price for v in _fitting(p.in_stock(), plan) or p.product.variants),
                )
        words = _words(plan.product or "")
        for pool in (shown, [line.product for line in self.table.cart]):
            best = _best_named(pool, words) or _best_named(pool, _words(self.said))
            if best is not None:
                return best
        if words:
            hits = self.shop.catalog.search(self.owner.account, plan.product, k=3, in_stock=False)
            best = _best_named([h.product for h in hits], words)
            if best is not None:
                return best
        return shown[0] if len(shown) == 1 else None

    def _which_product(self) -> str:
        if self.table.shown:
            names = "\n".join(
                reply.product_line(self.table, i, p, p.in_stock() or p.product.variants)
                for i, p in enumerate(self.table.shown, 1)
            )
            return f"Which product do you mean?\n{names}"
        return "Which product do you mean? Tell me its name, or what you are looking for and I'll search."

    def _variant(self, product: ProductView, plan: Plan, keep: dict[str, str] | None = None) -> Variant | str:
        """The item of ``product`` in the size and colour asked for (the rest as in ``keep``), in stock; or
        what to tell the customer."""
        name = product.product.name
        stock = product.in_stock()
        if not stock:
            return f"**{name}** is sold out at the moment."
        fits = _fitting(stock, plan)
        if keep:  # a swap: the options not asked about stay as they were, where an item has them
            same = [
                v for v in fits if all(v.options.get(k) == x for k, x in keep.items() if not _asked(plan, k))
            ]
            fits = same or fits
        if not fits:
            asked = " ".join(x for x in (plan.size, plan.color) if x)
            return f"**{name}** is not in stock in {asked}. In stock: {reply.variants_text(stock)}."
        sizes = {v.options.get("size") for v in fits}
        if not plan.size and len(sizes) > 1 and not keep:
            return f"Which size would you like for **{name}**? In stock: {reply.variants_text(fits)}."
        return fits[0]

    def _named_orders(self, plan: Plan) -> list[OrderView] | str:
        """The customer's orders the customer named (in their words, or the plan's if it is theirs); a
        "not found" when they wrote an id that is not one of theirs."""
        mine = {_digits(o["id"]): o for o in self.table.orders}
        found: list[OrderView] = []
        for token in (a or b for a, b in _ORDER_ID.findall(self.said)):
            order = mine.get(_digits(token))
            if order is None:
                return f"I can't find an order {token} in your account." + self._orders_hint()
            found.append(order)
        if not found and plan.order and (order := mine.get(_digits(plan.order))) is not None:
            found.append(order)
        return found

    def _order(self, plan: Plan, states: tuple[str, ...], verb: str) -> OrderView | str:
        named = self._named_orders(plan)
        if isinstance(named, str):
            return named
        if named:
            return named[0]
        eligible = [o for o in self.table.orders if o["status"] in states]
        if _LAST.search(f"{plan.order} {self.said}") and self.table.orders:
            return (eligible or self.table.orders)[0]  # newest first
        if len(eligible) == 1:
            return eligible[0]
        if not eligible:
            state = " or ".join(states)
            return f"You have no {state} order I could {verb}." + self._orders_hint()
        return f"Which order would you like to {verb}?\n" + "\n".join(reply.order_line(o) for o in eligible)

    def _orders_hint(self) -> str:
        if not self.table.orders:
            return " You have no orders yet."
        return "\nYour orders:\n" + "\n".join(reply.order_line(o) for o in self.table.orders)

    def _order_lines(self, order: OrderView, plan: Plan, *, every: bool) -> list[OrderLine] | str:
        open_lines = [i for i in order["items"] if i["state"] == "ordered"]
        if len(open_lines) == 1:
            return open_lines
        words = _words(f"{plan.items} {plan.product}") or _words(self.said)
        if every and re.search(r"\b(all|everything|whole order|both)\b", f"{plan.items} {self.said}", re.I):
            return open_lines
        scored = [
            (len(words & _words(i["name"] + " " + " ".join(i["options"].values()))), i) for i in open_lines
        ]
        best = max((s for s, _ in scored), default=0)
        if best:
            return [i for s, i in scored if s == best][: None if every else 1]
        return f"Which item of order {order['id']}?\n" + "\n".join(
            f"- {i['name']} ({', '.join(i['options'].values())})" for i in open_lines
        )

    def _address(self, words: str, default: bool = True) -> Address | None:
        wanted = _words(words) - _STREET
        for a in self.table.addresses:
            if a.id.lower() in wanted or wanted & _words(f"{a.line1} {a.line2}"):
                return a
        return self.table.addresses[0] if default and self.table.addresses else None

    def _method(self, words: str, default: str | None = None) -> PaymentMethod | None:
        wanted = _words(words.replace("_", " ").replace("-", " "))
        for m in self.table.methods:
            if m.id.lower() == words.lower() or (
                wanted
                and wanted
                <= _words(f"{m.id.replace('-', ' ')} {m.kind.replace('_', ' ')} {m.brand} {m.last4}")
            ):
                return m
        for m in self.table.methods:
            if default is not None and m.id == default:
                return m
        cards = [m for m in self.table.methods if m.kind == "card"] or self.table.methods
        return cards[0] if cards else None

    def _call(self, name: str, **arguments: Any) -> Any:
        """The shopping tool ``name`` called as the model would call it, and recorded in ``calls``."""
        call = ToolCallPart(f"plan-{len(self.calls)}", name, arguments)
        try:
            result = getattr(self.tools, name)(**arguments)
        except PonderError as error:
            self.calls.append((call, ToolResultPart(call.call_id, name, str(error), is_error=True)))
            raise
        self.calls.append((call, ToolResultPart(call.call_id, name, json.dumps(result, default=str))))
        return result

    def _proposed(self) -> PendingAction:
        return self.tools.proposals[-1].action

    def _reread(self) -> Table:
        """The table with the cart as it is now."""
        lines = []
        for line in self.shop.carts.lines(self.owner):
            product, variant = self.shop.catalog.variant(self.owner.account, line.variant_id)
            lines.append(CartLine(product, variant, line.quantity))
        return replace(self.table, cart=lines)


_ASKS_STOCK = re.compile(
    r"\b(do|does|did) (you|the store|they)( \w+)? (sell|have|carry|stock|make)\b|\b(got|have) any\b",
    re.IGNORECASE,
)


def _relevant(
    listed: list[tuple[ProductView, list[Variant]]], query: str
) -> list[tuple[ProductView, list[Variant]]]:
    """The products a search found that share a word with the query, most shared words first (the
    catalog's search is by meaning, and always finds its nearest products, even for what the store does not
    sell); all of them, in their order, when the query has no word to compare."""
    wanted = {_stem(w) for w in _words(query)}
    if not wanted:
        return listed
    scored = [
        (len(wanted & {_stem(w) for w in _words(product_text(product.product))}), i, item)
        for i, item in enumerate(listed)
        for product in (item[0],)
    ]
    return [item for score, _, item in sorted(scored, key=lambda s: (-s[0], s[1])) if score]


def _stem(word: str) -> str:
    """A plural's singular, roughly ("dresses", "boots", "accessories"), to compare words."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


_COUNT = re.compile(
    r"\b(one|two|three|four|five|[1-5])\s+(?:\w+\s+)?(?:products|ideas|items|options|things|suggestions|pieces)",
    re.IGNORECASE,
)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _count(said: str) -> int | None:
    """How many products the customer asked for ("two ideas", "3 options"), if they said."""
    match = _COUNT.search(said)
    if match is None:
        return None
    word = match.group(1).lower()
    return _NUMBERS.get(word) or int(word)


def _cents(amount: float | None) -> int | None:
    return None if amount is None else round(amount * 100)


def _filters(table: Table, plan: Plan) -> str:
    parts = []
    if plan.size:
        parts.append(f"size {plan.size}")
    if plan.color:
        parts.append(plan.color)
    if plan.min_price is not None:
        parts.append(f"from {table.money(round(plan.min_price * 100))}")
    if plan.max_price is not None:
        parts.append(f"up to {table.money(round(plan.max_price * 100))}")
    return f" ({', '.join(parts)})" if parts else ""


def _fitting(variants: Sequence[Variant], plan: Plan) -> list[Variant]:
    """The variants in the size and colour the plan asks for (all of them when it asks for neither)."""
    out = []
    for v in variants:
        size = v.options.get("size", "")
        if plan.size and size and size.lower() != plan.size.lower():
            continue
        color = v.options.get("color", v.options.get("colour", ""))
        if plan.color and color and not _color_matches(plan.color, color):
            continue
        out.append(v)
    return out


def _color_matches(asked: str, color: str) -> bool:
    a, c = asked.lower().strip(), color.lower()
    return a in c or c in a or bool(_words(a) & _words(c))


def _asked(plan: Plan, option: str) -> bool:
    return (
        bool(plan.size) if option == "size" else bool(plan.color) if option in ("color", "colour") else False
    )


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1}


def _best_named(pool: Sequence[ProductView], words: set[str]) -> ProductView | None:
    if not words or not pool:
        return None
    scored = [(len(words & _words(p.product.name)), p) for p in pool]
    best = max(s for s, _ in scored)
    return next(p for s, p in scored if s == best) if best else None


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


def _written(text: str, said: str) -> bool:
    """Whether the customer wrote ``text`` (its numbers, and most of its words): an address or a detail the
    planner made up is never acted on."""
    numbers = set(re.findall(r"\d+", text))
    words = _words(text)
    return numbers <= set(re.findall(r"\d+", said)) and len(words & _words(said)) * 2 >= len(words)


def _new_address(text: str) -> dict[str, str] | None:
    """A new address in the customer's words: street, city[, state zip][, country]; None if too little."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) < 2 or not re.search(r"\d", parts[0]):
        return None
    fields = {"line1": parts[0], "city": parts[1], "country": "US"}
    for part in parts[2:]:
        match = re.fullmatch(r"([A-Za-z]{2})?\s*(\d{4,6}(?:-\d{4})?)?", part)
        if match and (match.group(1) or match.group(2)):
            fields["state"] = match.group(1) or ""
            fields["zip"] = match.group(2) or ""
        elif re.fullmatch(r"[A-Za-z][A-Za-z .]+", part):
            fields["country"] = part
    return fields

"""Carrying out a shopping plan: resolve what it refers to, call the store, and say what happened.

``Executor.run(plan)`` returns the reply's text, or None when the plan asks for words only (``answer``),
which the turn's mode then writes. The intent is first checked against the customer's words (intents.py);
each intent then has one method. What a plan names is resolved by resolve.py, never taken on trust.

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
from ponder.commerce.assistant import offers, reply
from ponder.commerce.assistant.intents import corrected
from ponder.commerce.assistant.plan import Plan
from ponder.commerce.assistant.resolve import Resolver, words
from ponder.commerce.assistant.table import CartLine, Table, options_text, read_cart
from ponder.commerce.catalog import ProductView, product_text
from ponder.commerce.model import Variant
from ponder.commerce.tools import ShoppingTools
from ponder.errors import PonderError
from ponder.messages import ToolCallPart, ToolResultPart

__all__ = ["Executor"]

SEARCH_RESULTS = 5
SEARCH_POOL = 10  # products a search reads, before those sharing the query's words are kept
RECOMMENDATIONS = 3
CLOSEST = 3  # products shown when nothing matches the words of a search


class Executor:
    """Carries out ``plan``s for one customer in one turn; ``said`` is what the customer just wrote,
    ``before`` what they wrote earlier in the conversation (oldest first)."""

    def __init__(self, tools: ShoppingTools, table: Table, said: str, before: Sequence[str] = ()) -> None:
        self.tools = tools
        self.shop = tools.shop
        self.owner = tools.owner
        self.table = table
        self.said = said
        self.before = list(before)
        self.find = Resolver(tools.shop, tools.owner, table, said, before)
        self.calls: list[tuple[ToolCallPart, ToolResultPart]] = []  # the store's tools called, in order

    def run(self, plan: Plan) -> str | None:
        plan = corrected(plan, self.said, self.table, self.before[-1] if self.before else "")
        self.plan = plan
        handler = getattr(self, f"_{plan.intent}")
        try:
            text: str | None = handler(plan)
        except PonderError as error:  # the store's refusal, as it says it
            return f"I couldn't do that: {error}"
        return text

    # --- the catalog -------------------------------------------------------------------------------------

    def _search(self, plan: Plan) -> str:
        query = plan.query or plan.product or self.said
        wanted = _filters(self.table, plan)
        found = self._found(plan, query, with_options=True) if plan.size or plan.color else []
        if not found:  # the options as each product has them ("king" for "king size"), or none asked
            found = self._found(plan, query, with_options=False)
            fits = [(p, self.find.fitting(v, self.find.wanted(p, plan)), n) for p, v, n in found]
            if any(v for _, v, _ in fits):
                found = [item for item in fits if item[1]]
            elif found and (plan.size or plan.color) and found[0][2] >= 2:  # that product, not in that option
                lines = [f"Not in stock{wanted}. What is in stock:"]
                lines += [reply.product_line(self.table, i, p, v) for i, (p, v, _) in enumerate(found, 1)]
                return "\n".join(lines)
        if not found:
            return f"Nothing in stock at {self.table.store} matches that{wanted}. Other words may help."
        best = max(score for _, _, score in found)
        if best == 0 and len(words(query)) <= 3:  # a thing the store does not sell, by name
            lines = [f"{self.table.store} has nothing by that name{wanted}. The closest things in stock:"]
            lines += [
                reply.product_line(self.table, i, p, v) for i, (p, v, _) in enumerate(found[:CLOSEST], 1)
            ]
            return "\n".join(lines)
        lines = [f"Here is what I found{wanted}:"]
        lines += [reply.product_line(self.table, i, p, v) for i, (p, v, _) in enumerate(found, 1)]
        lines.append("Tell me which one you like (and your size), and I can add it to your cart.")
        return "\n".join(lines)

    def _found(
        self, plan: Plan, query: str, *, with_options: bool
    ) -> list[tuple[ProductView, list[Variant], int]]:
        """What a search finds, with the words each shares with the query (the catalog's search is by
        meaning and always finds its nearest products): those sharing the most words, when some share two
        or more; those sharing one, when that is the most; all of them, in the catalog's order, when none
        does."""
        found = self._call(
            "search_products",
            query=query,
            max_price=plan.max_price,
            min_price=plan.min_price,
            size=(plan.size or None) if with_options else None,
            color=(plan.color or None) if with_options else None,
            limit=SEARCH_POOL,
        )
        scored = _scored(self._listed(found), query, self.table.categories)
        best = max((score for _, _, score in scored), default=0)
        if best >= 2:
            scored = [item for item in scored if item[2] == best]
        elif best == 1:
            scored = [item for item in scored if item[2]]
        return scored[: _count(self.said) or SEARCH_RESULTS]

    def _which(self, plan: Plan) -> str:
        """Which of the products shown come in the options or the price asked."""
        low = -1 if plan.min_price is None else round(plan.min_price * 100)
        high = 1 << 60 if plan.max_price is None else round(plan.max_price * 100)
        fits = [
            (
                p,
                [
                    v
                    for v in self.find.fitting(p.in_stock(), self.find.wanted(p, plan))
                    if low <= v.price <= high
                ],
            )
            for p in self.table.shown
        ]
        asked = _filters(self.table, plan)
        fits = [(p, v) for p, v in fits if v]
        if not fits:
            return f"None of them is in stock{asked}."
        lines = [f"In stock{asked}:"]
        lines += [reply.product_line(self.table, i, p, v) for i, (p, v) in enumerate(fits, 1)]
        return "\n".join(lines)

    def _recommend(self, plan: Plan) -> str:
        found = self._call(
            "recommend_products",
            request=plan.query or self.said,
            max_price=plan.max_price,
            size=plan.size or None,
            limit=_count(self.said) or RECOMMENDATIONS,
            for_someone_else=bool(_FOR_SOMEONE_ELSE.search(self.said)),
        )
        if not found:
            return f"I have nothing in stock to recommend{_filters(self.table, plan)} right now."
        lines = [f"Picked for you{_filters(self.table, plan)}:"]
        for i, ((product, variants), r) in enumerate(zip(self._listed(found), found, strict=True), 1):
            cap = None if plan.max_price is None else round(plan.max_price * 100)
            fits = [v for v in variants if cap is None or v.price <= cap]
            why = "; ".join(r["why"][:2])
            line = reply.product_line(self.table, i, product, fits or variants)
            lines.append(f"{line}{f' ({why})' if why else ''}")
        lines.append("Want details on one of them, or one in your cart?")
        return "\n".join(lines)

    def _listed(self, found: list[dict[str, Any]]) -> list[tuple[ProductView, list[Variant]]]:
        """The products a search or recommendation returned, with the items it listed for each."""
        ids = [f["product_id"] for f in found]
        views = {p.id: p for p in self.shop.catalog.products(self.owner.account, ids)}
        out = []
        for f in found:
            product = views[f["product_id"]]
            listed = {item["item_id"] for item in f["items"]}
            out.append(
                (product, [v for v in product.product.variants if v.id in listed] or product.in_stock())
            )
        return out

    def _details(self, plan: Plan) -> str:
        product = self.find.product(plan)
        if product is None:
            return self._which_product()
        self._call("get_product", product_id=product.id)  # also records the customer's interest
        text = reply.product_details(self.table, product)
        wanted = self.find.wanted(product, plan)
        if wanted:
            asked = ", ".join(wanted.values())
            fits = self.find.fitting(product.in_stock(), wanted)
            text += f"\nIn {asked}: in stock." if fits else f"\nIn {asked}: not in stock."
        return text

    # --- the cart ----------------------------------------------------------------------------------------

    def _cart(self, plan: Plan) -> str:
        return reply.cart_text(self.table)

    def _add(self, plan: Plan) -> str:
        product = self.find.product(plan)
        if product is None:
            return self._which_product()
        chosen = self.find.variant(product, plan)
        if isinstance(chosen, str):
            return chosen
        quantity = self.find.quantity(plan)
        self._call("add_to_cart", item_id=chosen.id, quantity=quantity)
        self._reread()
        options = options_text(chosen)
        return (
            f"Added **{product.product.name}**{f' ({options})' if options else ''} x{quantity} to your "
            f"cart, {self.table.money(chosen.price)} each.\n{reply.cart_text(self.table)}"
        )

    def _cart_line(self, plan: Plan) -> CartLine | str:
        """The line of the cart the customer means (the only one, or by its words)."""
        if not self.table.cart:
            return "Your cart is empty."
        if len(self.table.cart) == 1:
            return self.table.cart[0]
        for text in (f"{plan.product} {plan.items}", self.said):
            wanted = words(text)
            scored = [
                (len(wanted & words(f"{c.product.product.name} {options_text(c.variant)}")), c)
                for c in self.table.cart
            ]
            best = max(s for s, _ in scored)
            if best:
                return next(c for s, c in scored if s == best)
        return "Which item of your cart?\n" + reply.cart_text(self.table)

    def _remove(self, plan: Plan) -> str:
        if not self.table.cart:
            return "Your cart is empty."
        every = re.search(r"\b(empty|clear|everything|all of it|all items|all the items)\b", self.said, re.I)
        lines = list(self.table.cart) if every else [self._cart_line(plan)]
        if isinstance(lines[0], str):
            return lines[0]
        for line in lines:
            assert isinstance(line, CartLine)
            self._call("remove_from_cart", item_id=line.variant.id)
        self._reread()
        names = ", ".join(f"**{c.product.product.name}**" for c in lines if isinstance(c, CartLine))
        return f"Removed {names} from your cart.\n{reply.cart_text(self.table)}"

    def _update_cart(self, plan: Plan) -> str:
        line = self._cart_line(plan)
        if isinstance(line, str):
            return line
        quantity = self.find.quantity(replace(plan, quantity=line.quantity))
        target: Variant | str = line.variant
        if self.find.wanted(line.product, plan):
            target = self.find.variant(line.product, plan, keep=dict(line.variant.options))
        if isinstance(target, str):
            return target
        if target.id == line.variant.id and quantity == line.quantity:
            return f"That is what your cart holds already.\n{reply.cart_text(self.table)}"
        if target.id != line.variant.id:
            self._call("remove_from_cart", item_id=line.variant.id)
            self._call("add_to_cart", item_id=target.id, quantity=quantity)
        else:
            self.shop.carts.set_quantity(self.owner, target.id, quantity)
        self._reread()
        return f"Updated your cart.\n{reply.cart_text(self.table)}"

    def _checkout(self, plan: Plan) -> str:
        added = ""
        in_cart = {line.product.id for line in self.table.cart}
        if plan.product or not self.table.cart:  # "buy this one": into the cart first, then the proposal
            product = self.find.product(plan)
            if product is not None and product.id not in in_cart:
                added = self._add(plan)
                if product.id not in {line.product.id for line in self.table.cart}:
                    return added  # a question (which size?) or why it could not be added
        if not self.table.cart:
            return "Your cart is empty: there is nothing to check out yet. What would you like to buy?"
        address = self.find.address(plan.address)
        method = self.find.method(plan.payment)
        if address is None or method is None:
            return "You have no saved address or payment method yet, so I cannot prepare the order."
        rules = self.shop.pricing.rules(self.owner.account)
        lines = [(line.variant.id, line.quantity) for line in self.table.cart]
        open_to = self.shop.pricing.price(self.owner.account, lines, (), address.country).shipping_options
        self._call(
            "checkout",
            address_id=address.id,
            payment_method_id=method.id,
            discount_codes=offers.codes_in([*self.before, self.said], rules),
            shipping_option=offers.shipping_in(self.said, open_to) or "",
        )
        lead = f"{added.splitlines()[0]}\nI've prepared your order:" if added else "I've prepared your order:"
        return reply.proposal_text(self._proposed(), lead)

    # --- orders ------------------------------------------------------------------------------------------

    def _orders(self, plan: Plan) -> str:
        named = self.find.named_orders()
        if isinstance(named, str):
            return named
        if named:
            return "\n\n".join(reply.order_text(o) for o in named)
        by_items = self.find.orders_with_items(plan)
        if by_items:
            return "\n\n".join(reply.order_text(o) for o in by_items)
        if re.search(r"\b(last|latest|most recent|newest|recent)\b", self.said, re.I) and self.table.orders:
            return reply.order_text(self.table.orders[0])
        if not self.table.orders:
            return "You have no orders yet."
        return "Your orders, newest first:\n" + "\n".join(reply.order_line(o) for o in self.table.orders)

    def _cancel(self, plan: Plan) -> str:
        order = self.find.order(plan, ("pending",), "cancel")
        if isinstance(order, str):
            return order
        self._call("cancel_order", order_id=order["id"], reason=plan.reason or self.said)
        return reply.proposal_text(
            self._proposed(), f"I've prepared the cancellation of order {order['id']}:"
        )

    def _return(self, plan: Plan) -> str:
        order = self.find.order(plan, ("delivered",), "return")
        if isinstance(order, str):
            return order
        lines = self.find.order_lines(order, plan, every=True)
        if isinstance(lines, str):
            return lines
        seqs = [line["seq"] for line in lines]
        self._call("return_items", order_id=order["id"], item_numbers=seqs, reason=plan.reason or self.said)
        return reply.proposal_text(self._proposed(), f"I've prepared a return for order {order['id']}:")

    def _exchange(self, plan: Plan) -> str:
        return self._swap(plan)

    def _change_item(self, plan: Plan) -> str:
        return self._swap(plan)

    def _swap(self, plan: Plan) -> str:
        """Another size or colour of an item: a change of a pending order, an exchange of a delivered one
        (whichever the customer's order is in)."""
        order = self.find.order(plan, ("pending", "delivered"), "change")
        if isinstance(order, str):
            return order
        lines = self.find.order_lines(order, plan, every=False)
        if isinstance(lines, str):
            return lines
        line = lines[0]
        product = self.shop.catalog.product(self.owner.account, line["product_id"])
        chosen = self.find.variant(product, plan, keep=dict(line["options"]))
        if isinstance(chosen, str):
            return chosen
        method = self.find.method(plan.payment, default=order["payment_method_id"])
        exchange = order["status"] != "pending"
        self._call(
            "exchange_items" if exchange else "modify_order_items",
            order_id=order["id"],
            item_numbers=[line["seq"]],
            new_item_ids=[chosen.id],
            payment_method_id=method.id if method else order["payment_method_id"],
        )
        what = "an exchange" if exchange else "a change"
        return reply.proposal_text(self._proposed(), f"I've prepared {what} for order {order['id']}:")

    def _change_address(self, plan: Plan) -> str:
        order = self.find.order(plan, ("pending",), "change the address of")
        if isinstance(order, str):
            return order
        new = self.find.new_address()
        saved = None if new is not None else self.find.address(plan.address, default=False)
        if saved is not None:
            self._call("change_order_address", order_id=order["id"], address_id=saved.id)
        elif new is not None:
            self._call("change_order_address", order_id=order["id"], **new)
        else:
            return (
                f"Where should order {order['id']} go instead? Name a saved address "
                f"({', '.join(a.id for a in self.table.addresses)}) or give the street, city and postal code."
            )
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

    # --- helpers -----------------------------------------------------------------------------------------

    def _which_product(self) -> str:
        if self.table.shown:
            names = "\n".join(
                reply.product_line(self.table, i, p, p.in_stock() or p.product.variants)
                for i, p in enumerate(self.table.shown, 1)
            )
            return f"Which product do you mean?\n{names}"
        return "Which product do you mean? Tell me its name, or what you are looking for and I'll search."

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

    def _reread(self) -> None:
        """The table (and the resolver's) with the cart as it is now."""
        self.table = self.find.table = replace(self.table, cart=read_cart(self.shop, self.owner))


def _scored(
    listed: list[tuple[ProductView, list[Variant]]], query: str, categories: dict[str, str]
) -> list[tuple[ProductView, list[Variant], int]]:
    """The products with the number of the query's words (singular or plural) their text shares, their
    category's name included ("tops" are in "Shirts & Tops")."""
    wanted = words(query)  # singular already
    return [
        (p, v, len(wanted & words(product_text(p.product, categories.get(p.product.category, "")))))
        for p, v in listed
    ]


_COUNT = re.compile(
    r"\b(one|two|three|four|five|[1-5])\s+(?:\w+\s+)?(?:products|ideas|items|options|things|suggestions|pieces)",
    re.IGNORECASE,
)
_FOR_SOMEONE_ELSE = re.compile(  # "a gift for my dad", "something for a friend who cooks"
    r"\b(gifts?|presents?)\b|\bfor (?:my|a|an|our|his|her|their) (?:\w+ ){0,2}?(?:friend|mom|mum|mother|dad"
    r"|father|wife|husband|partner|sister|brother|son|daughter|kids?|child|children|boss|colleague"
    r"|co-?worker|niece|nephew|aunt|uncle|grand\w+|girlfriend|boyfriend|neighbou?r|cousin|teacher|host)s?\b",
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

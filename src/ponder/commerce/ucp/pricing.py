"""A UCP checkout priced now: its lines from the catalog, what an order would buy, what blocks completing,
and the checkout document that says so.

Not here: storing it (sessions.py), its status machine (checkouts.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ponder.commerce.checkout import MAX_QUANTITY, LineItem
from ponder.commerce.inventory import read_variants
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.pricing import (
    SHIPPING,
    Priced,
    PriceLine,
    PricingRules,
    ShippingQuote,
    price_order,
    shipping_quotes,
    ucp_error_code,
)
from ponder.commerce.shop import Shop
from ponder.commerce.store_pricing import read_pricing_rules
from ponder.commerce.ucp import document as doc
from ponder.commerce.ucp.document import FROZEN, INCOMPLETE, PACKAGE, READY, SHIPPING_METHOD, STANDARD
from ponder.commerce.ucp.requests import content_id
from ponder.commerce.ucp.sessions import Session

__all__ = ["LINE_PROBLEMS", "Evaluation", "PricedLines", "evaluate", "price_lines", "render"]

# The codes of a line that cannot be bought as asked (price_lines): 2026-01-11 refuses such a request.
LINE_PROBLEMS = frozenset({"not_found", "item_unavailable", "out_of_stock", "quantity_limit"})


@dataclass
class Evaluation:
    """A live checkout priced now: its lines, what an order would buy, and what is missing or wrong; with
    the store's pricing rules, the cart priced (codes applied, shipping to the destination, the option)."""

    line_items: list[dict[str, Any]]
    items: list[LineItem]
    subtotal: int
    messages: list[dict[str, Any]]
    destinations: list[Address]
    destination: Address | None
    methods: list[PaymentMethod]
    codes: list[str] = field(default_factory=list)  # as the platform sent them (echoed back)
    cart: Priced | None = None  # None: the store has no pricing rules (free shipping, no codes)
    positions: list[int] = field(default_factory=list)  # each item's index among line_items

    @property
    def applied_codes(self) -> list[str]:
        """The codes that apply, in order: what the order is placed with."""
        return [d.code for d in self.cart.discounts if d.code] if self.cart else []

    @property
    def shipping_option(self) -> str | None:
        return self.cart.shipping.id if self.cart and self.cart.shipping else None

    @property
    def ready(self) -> bool:
        return bool(self.items) and not any(m["type"] == "error" for m in self.messages)


@dataclass
class PricedLines:
    """The lines as the catalog prices them now: UCP line items, what an order would buy (with each one's
    price and its index among the line items), and why a line cannot be bought."""

    line_items: list[dict[str, Any]]
    items: list[LineItem]
    subtotal: int
    messages: list[dict[str, Any]]
    prices: list[PriceLine] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


def price_lines(shop: Shop, account: str, lines: list[dict[str, Any]]) -> PricedLines:
    """Price ``lines`` (``{"id", "item_id", "quantity"}``) from the catalog now and check each variant's
    availability and stock, through the store's one price/stock reader (``inventory.read_variants``);
    each line's problem becomes a UCP message instead of an error."""
    with shop.db.reading() as db:
        variants = read_variants(db, account, [line["item_id"] for line in lines])
    priced = PricedLines([], [], 0, [])
    for line in lines:
        variant = variants.get(line["item_id"])
        if variant is None:
            text = f"Item '{line['item_id']}' not found in this store: left out."
            priced.messages.append(doc.error("not_found", text))  # no line of the answer to point at
            continue
        path, quantity = f"$.line_items[{len(priced.line_items)}]", line["quantity"]
        item: dict[str, Any] = {"id": variant.variant_id, "title": doc.title(variant.name, variant.options)}
        item["price"] = variant.price
        if doc.is_url(variant.image_url):
            item["image_url"] = variant.image_url
        amount = variant.price * quantity
        totals = [{"type": "subtotal", "amount": amount}, {"type": "total", "amount": amount}]
        priced.line_items.append({"id": line["id"], "item": item, "quantity": quantity, "totals": totals})
        priced.subtotal += amount
        if not variant.available:
            text = f"'{item['title']}' is not available."
            priced.messages.append(doc.error("item_unavailable", text, path))
        elif not variant.covers(quantity):
            text = f"Insufficient stock: '{item['title']}' has only {variant.left} left, not {quantity}."
            priced.messages.append(doc.error("out_of_stock", text, path + ".quantity"))
        elif quantity > MAX_QUANTITY:
            text = f"At most {MAX_QUANTITY} of '{item['title']}' in one order, not {quantity}."
            priced.messages.append(doc.error("quantity_limit", text, path + ".quantity"))
        else:
            priced.items.append(LineItem(variant.variant_id, quantity))
            priced.prices.append(PriceLine(variant.variant_id, variant.price, quantity, variant.product_id))
            priced.positions.append(len(priced.line_items) - 1)
    return priced


def evaluate(shop: Shop, session: Session) -> Evaluation:
    """Price the lines from the catalog now and list what blocks completing."""
    state, owner = session.state, session.owner
    messages: list[dict[str, Any]] = list(state["notes"])
    if not state["lines"]:
        messages.append(doc.error("missing", "Add at least one line item.", "$.line_items"))
    priced = price_lines(shop, session.account, state["lines"])
    messages.extend(priced.messages)
    email = state["buyer"].get("email")
    if not email:
        messages.append(doc.error("missing", "The buyer's email is required.", "$.buyer.email"))
    elif owner is None:
        messages.append(doc.error("invalid", "The buyer's email is not a usable address.", "$.buyer.email"))
    saved = owner if session.agent_key is None else None  # an agent never sees the buyer's saved data
    destinations = {a.id: a for a in (shop.customers.addresses(saved) if saved else [])}
    known = {_where_to(a): a.id for a in destinations.values()}
    selected = state["selected_destination"]
    for data in state["destinations"]:
        given = Address(**data)
        same = known.get(_where_to(given))  # a saved address sent again is that address, by its id
        if same is None and given.id in destinations:  # an id of a saved address for another place
            renamed = replace(given, id=content_id({k: v for k, v in data.items() if k != "id"}))
            selected = renamed.id if selected == given.id else selected
            given = renamed
        if same is not None and selected == given.id:
            selected = same
        if same is None:
            destinations.setdefault(given.id, given)
    if selected is None and len(destinations) == 1:
        selected = next(iter(destinations))
    where = "$.fulfillment.methods[0]"
    if selected is None:
        messages.append(
            doc.error("missing", "Choose a shipping address.", where + ".selected_destination_id")
        )
    elif selected not in destinations:
        text = f"No shipping address '{selected}'."
        messages.append(doc.error("not_found", text, where + ".selected_destination_id"))
        selected = None
    destination = destinations[selected] if selected else None
    if destination is not None and not (destination.line1 and destination.city):
        # Enough to quote shipping (the country), not to ship: the order needs a street and a city.
        text = "The shipping address needs street_address and address_locality before the order is placed."
        messages.append(doc.error("missing", text, where + ".destinations"))
    with shop.db.reading() as db:
        rules = read_pricing_rules(db, session.account)
    codes = list(state.get("codes") or [])
    cart = None
    if rules.shipping_options or rules.discount_codes or rules.promotions or codes:
        cart = _priced(priced, codes, destination, rules, state["selected_option"], messages, where)
    elif state["selected_option"] not in (None, STANDARD):
        text = f"No fulfillment option '{state['selected_option']}': the one option is '{STANDARD}'."
        messages.append(doc.error("not_found", text, where + ".groups[0].selected_option_id"))
    if state.get("outcome"):
        messages.append(state["outcome"])
    methods = shop.customers.payment_methods(saved) if saved else []
    return Evaluation(
        priced.line_items,
        priced.items,
        priced.subtotal,
        messages,
        list(destinations.values()),
        destination,
        methods,
        codes,
        cart,
        priced.positions,
    )


def _where_to(address: Address) -> tuple[str, ...]:
    """What makes two addresses the same place to ship to (not their ids or recipient), compared loosely:
    case and spacing do not count."""
    fields = (address.line1, address.line2, address.city, address.state, address.zip, address.country)
    return tuple(" ".join(f.split()).casefold() for f in fields)


def _priced(
    priced: PricedLines,
    codes: list[str],
    destination: Address | None,
    rules: PricingRules,
    option: str | None,
    messages: list[dict[str, Any]],
    where: str,
) -> Priced:
    """The priceable lines with the store's rules: a code not applied is a warning (UCP's discount
    extension), a shipping option not open to the destination an error, and none chosen the cheapest."""
    country = destination.country if destination else None
    open_ids = {q.id for q in shipping_quotes(country, 0, rules)} if country else set()
    if option is not None and option not in open_ids:
        if destination is not None:
            text = f"No shipping option '{option}' to {country}: choose one of the options offered."
            messages.append(doc.error("not_found", text, where + ".groups[0].selected_option_id"))
        option = None
    cart = price_order(priced.prices, codes, country, rules, now=time.time(), shipping_option=option)
    for rejected in cart.rejected:
        path = f"$.discounts.codes[{codes.index(rejected.code)}]"
        messages.append(
            {
                "type": "warning",
                "code": ucp_error_code(rejected.reason),
                "path": path,
                "content": rejected.message,
            }
        )
    if destination is not None and rules.shipping_options and cart.shipping is None:
        text = f"This store does not ship to {country}: choose another address."
        messages.append(doc.error("unsupported_destination", text, where + ".selected_destination_id"))
    return cart


def render(shop: Shop, session: Session, evaluation: Evaluation) -> dict[str, Any]:
    """The checkout as priced now: in ``session.status`` if that is set by what happened (escalation,
    cancel), else ``ready_for_complete`` or ``incomplete`` by what is missing now."""
    state = session.state
    status = session.status if session.status in FROZEN else READY if evaluation.ready else INCOMPLETE
    currency = shop.catalog.store_info(session.account)["currency"]
    line_ids = [line["id"] for line in evaluation.line_items]
    cart = evaluation.cart
    group: dict[str, Any] = {"id": PACKAGE, "line_item_ids": line_ids}
    if cart is None:  # a store without pricing rules: one free option
        free = {"id": STANDARD, "title": "Standard shipping", "totals": [{"type": "total", "amount": 0}]}
        group |= {"options": [free], "selected_option_id": STANDARD}
    else:
        group["options"] = [
            {"id": q.id, "title": _option_title(q), "totals": [{"type": "total", "amount": q.amount}]}
            for q in cart.shipping_options
        ]
        if cart.shipping is not None:
            group["selected_option_id"] = cart.shipping.id
    method: dict[str, Any] = {
        "id": SHIPPING_METHOD,
        "type": "shipping",
        "line_item_ids": line_ids,
        "destinations": [doc.destination(a) for a in evaluation.destinations],
        "groups": [group],
    }
    if evaluation.destination is not None:
        method["selected_destination_id"] = evaluation.destination.id
    body: dict[str, Any] = {
        "ucp": doc.envelope(shop.handlers),
        "id": session.id,
        "status": status,
        "currency": currency,
        "line_items": _discounted(evaluation),
        "totals": _totals(evaluation),
        "links": [],
        "expires_at": datetime.fromtimestamp(session.expires_at, UTC).isoformat(),
        "fulfillment": {"methods": [method]},
    }
    if state["buyer"]:
        consent = state.get("consent") or {}
        body["buyer"] = state["buyer"] | ({"consent": doc.consent(consent)} if consent else {})
    if evaluation.messages:
        body["messages"] = evaluation.messages
    chosen = state.get("instrument")
    instruments = [chosen | {"selected": True}] if chosen else []
    for saved in evaluation.methods:
        if saved.id != state.get("payment_method_id"):
            instruments.append(doc.offered(saved, shop.handlers[0].id))  # the store's own handler
    if instruments:
        body["payment"] = {"instruments": instruments}
    if cart is not None:
        body["discounts"] = _discounts(evaluation, cart)
    return doc.checked(body)


def _option_title(quote: ShippingQuote) -> str:
    """A shipping option's title; a free one says which promotion made it free."""
    return f"{quote.title} ({quote.free_title})" if quote.free_title and quote.price else quote.title


def _totals(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The checkout's totals: the items, what the codes took off them (negative, as 2026-08-25 signs
    discounts), the shipping chosen, and what the order would cost."""
    cart = evaluation.cart
    if cart is None:
        return [
            {"type": "subtotal", "amount": evaluation.subtotal},
            {"type": "total", "amount": evaluation.subtotal},
        ]
    totals = [{"type": "subtotal", "amount": cart.subtotal}]
    if cart.items_discount:
        totals.append({"type": "items_discount", "amount": -cart.items_discount})
    if cart.shipping is not None:
        totals.append(
            {"type": "fulfillment", "display_text": cart.shipping.title, "amount": cart.shipping.amount}
        )
    return [*totals, {"type": "total", "amount": cart.total}]


def _discounted(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The line items, each with its share of the codes' discounts in its totals."""
    cart = evaluation.cart
    if cart is None:
        return evaluation.line_items
    share = [0] * len(evaluation.line_items)
    for target, off in enumerate(cart.line_discounts(len(evaluation.positions))):
        share[evaluation.positions[target]] = off  # priced lines are some of the line items, in order
    lines = []
    for line, off in zip(evaluation.line_items, share, strict=True):
        amount = line["item"]["price"] * line["quantity"]
        totals = [{"type": "subtotal", "amount": amount}]
        if off:
            totals.append({"type": "items_discount", "amount": -off})
        lines.append(line | {"totals": [*totals, {"type": "total", "amount": amount - off}]})
    return lines


def _discounts(evaluation: Evaluation, cart: Priced) -> dict[str, Any]:
    """UCP's ``discounts``: the codes as sent, and every discount applied (codes in order, then an
    automatic free shipping) with where it landed."""
    applied = []
    for priority, discount in enumerate(cart.discounts, start=1):
        entry: dict[str, Any] = {"title": discount.title, "amount": discount.amount, "method": "across"}
        entry |= {"code": discount.code} if discount.code else {"automatic": True}
        entry["priority"] = priority
        entry["allocations"] = [
            {
                "path": "$.fulfillment.methods[0].groups[0]"
                if a.target == SHIPPING
                else f"$.line_items[{evaluation.positions[a.target]}]",
                "amount": a.amount,
            }
            for a in discount.allocations
            if a.amount
        ]
        applied.append(entry)
    return {"codes": evaluation.codes, "applied": applied}

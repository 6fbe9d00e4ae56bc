"""A UCP checkout priced now: its lines from the catalog, what an order would buy, what blocks completing,
and the checkout document that says so.

Not here: storing it (sessions.py), its status machine (checkouts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ponder.commerce.checkout import LineItem
from ponder.commerce.inventory import read_variants
from ponder.commerce.model import Address, PaymentMethod
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import document as doc
from ponder.commerce.ucp.document import FROZEN, INCOMPLETE, PACKAGE, READY, SHIPPING_METHOD, STANDARD
from ponder.commerce.ucp.sessions import Session

__all__ = ["Evaluation", "PricedLines", "evaluate", "price_lines", "render"]


@dataclass
class Evaluation:
    """A live checkout priced now: its lines, what an order would buy, and what is missing or wrong."""

    line_items: list[dict[str, Any]]
    items: list[LineItem]
    subtotal: int
    messages: list[dict[str, Any]]
    destinations: list[Address]
    destination: Address | None
    methods: list[PaymentMethod]

    @property
    def ready(self) -> bool:
        return bool(self.items) and not any(m["type"] == "error" for m in self.messages)


@dataclass
class PricedLines:
    """The lines as the catalog prices them now: UCP line items, what an order would buy, and why a line
    cannot be bought."""

    line_items: list[dict[str, Any]]
    items: list[LineItem]
    subtotal: int
    messages: list[dict[str, Any]]


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
            text = f"No item '{line['item_id']}' in this store: left out."
            priced.messages.append(doc.error("not_found", text))
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
            text = f"'{item['title']}' has only {variant.left} in stock."
            priced.messages.append(doc.error("out_of_stock", text, path + ".quantity"))
        else:
            priced.items.append(LineItem(variant.variant_id, quantity))
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
    for data in state["destinations"]:
        destinations.setdefault(data["id"], Address(**data))
    selected = state["selected_destination"]
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
    if state["selected_option"] not in (None, STANDARD):
        text = f"No fulfillment option '{state['selected_option']}': the one option is '{STANDARD}'."
        messages.append(doc.error("not_found", text, where + ".groups[0].selected_option_id"))
    if state.get("outcome"):
        messages.append(state["outcome"])
    methods = shop.customers.payment_methods(saved) if saved else []
    destination = destinations[selected] if selected else None
    return Evaluation(
        priced.line_items,
        priced.items,
        priced.subtotal,
        messages,
        list(destinations.values()),
        destination,
        methods,
    )


def render(shop: Shop, session: Session, evaluation: Evaluation) -> dict[str, Any]:
    """The checkout as priced now: in ``session.status`` if that is set by what happened (escalation,
    cancel), else ``ready_for_complete`` or ``incomplete`` by what is missing now."""
    state = session.state
    status = session.status if session.status in FROZEN else READY if evaluation.ready else INCOMPLETE
    currency = shop.catalog.store_info(session.account)["currency"]
    line_ids = [line["id"] for line in evaluation.line_items]
    method: dict[str, Any] = {
        "id": SHIPPING_METHOD,
        "type": "shipping",
        "line_item_ids": line_ids,
        "destinations": [doc.destination(a) for a in evaluation.destinations],
        "groups": [
            {
                "id": PACKAGE,
                "line_item_ids": line_ids,
                "options": [
                    {
                        "id": STANDARD,
                        "title": "Standard shipping",
                        "totals": [{"type": "total", "amount": 0}],
                    }
                ],
                "selected_option_id": STANDARD,
            }
        ],
    }
    if evaluation.destination is not None:
        method["selected_destination_id"] = evaluation.destination.id
    body: dict[str, Any] = {
        "ucp": doc.envelope(shop.provider.name),
        "id": session.id,
        "status": status,
        "currency": currency,
        "line_items": evaluation.line_items,
        "totals": [
            {"type": "subtotal", "amount": evaluation.subtotal},
            {"type": "total", "amount": evaluation.subtotal},
        ],
        "links": [],
        "expires_at": datetime.fromtimestamp(session.expires_at, UTC).isoformat(),
        "fulfillment": {"methods": [method]},
    }
    if state["buyer"]:
        body["buyer"] = state["buyer"]
    if evaluation.messages:
        body["messages"] = evaluation.messages
    chosen = state.get("instrument")
    instruments = [chosen | {"selected": True}] if chosen else []
    for saved in evaluation.methods:
        if saved.id != state.get("payment_method_id"):
            instruments.append(doc.offered(saved, doc.handler(shop.provider.name)["id"]))
    if instruments:
        body["payment"] = {"instruments": instruments}
    return doc.checked(body)

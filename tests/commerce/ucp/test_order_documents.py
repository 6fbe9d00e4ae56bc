"""UCP's order capability: the order a checkout became, read by the caller that drove the checkout, as the
store moves it (shipped with a carrier and tracking number, delivered) and as money moves back (a return);
in 2026-08-25's shapes and rewritten for 2026-01-11, each checked by that version's models."""

from __future__ import annotations

from typing import Any

import pytest
from tests.commerce.ucp.test_checkouts import AGENT, ANN, APP, SHOP, STORE, VISA
from ucp_sdk.models.schemas.shopping.checkout_complete_request import (  # type: ignore[import-untyped]
    CheckoutCompleteRequest,
)
from ucp_sdk.models.schemas.shopping.checkout_create_request import (  # type: ignore[import-untyped]
    CheckoutCreateRequest,
)

from ponder.commerce.checkout import LineItem
from ponder.commerce.shop import Shop
from ponder.commerce.ucp import UcpCheckouts
from ponder.commerce.ucp import shapes_2026_01_11 as released
from ponder.commerce.ucp.errors import OrderNotFound
from ponder.memory.owner import Owner

OWNER = Owner(SHOP, ANN)


@pytest.fixture
def checkouts(shop: Shop) -> UcpCheckouts:
    shop.catalog.import_store(SHOP, STORE)
    return UcpCheckouts(shop.db, lambda: shop)


def bought(checkouts: UcpCheckouts) -> tuple[str, str]:
    """A checkout of Ann's app for two umbrellas, confirmed by her: (checkout id, order id)."""
    body = {"line_items": [{"item": {"id": "umb"}, "quantity": 2}], "buyer": {"email": ANN}}
    checkout = checkouts.create(APP, CheckoutCreateRequest.model_validate(body)).body
    complete = CheckoutCompleteRequest.model_validate({"payment": {"instruments": [VISA]}})
    token = checkouts.complete(APP, checkout["id"], complete).body["continue_url"].split("#token=")[1]
    checkouts.decide(checkout["id"], token, True, APP.base_url)
    done = checkouts.get(APP, checkout["id"]).body
    return checkout["id"], done["order"]["id"]


def read(checkouts: UcpCheckouts, order_id: str) -> dict[str, Any]:
    return checkouts.order(APP, order_id).body


def test_the_order_shows_its_lines_shipment_and_totals_then_its_shipping_events(checkouts, shop) -> None:
    checkout_id, order_id = bought(checkouts)
    order = read(checkouts, order_id)
    assert order["checkout_id"] == checkout_id and order["currency"] == "EUR"
    [line] = order["line_items"]
    assert line["item"]["id"] == "umb" and line["quantity"] == {"total": 2, "fulfilled": 0}
    assert line["status"] == "processing"
    [expected] = order["fulfillment"]["expectations"]
    assert expected["destination"]["address_locality"] == "Porto" and expected["line_items"] == [
        {"id": line["id"], "quantity": 2}
    ]
    assert order["fulfillment"]["events"] == [] and order["totals"][-1] == {"type": "total", "amount": 5000}

    shop.orders.advance(SHOP, order_id, "processed", carrier="CTT", tracking_number="RR123456785PT")
    [shipped] = read(checkouts, order_id)["fulfillment"]["events"]
    assert (shipped["type"], shipped["carrier"], shipped["tracking_number"]) == (
        "shipped",
        "CTT",
        "RR123456785PT",
    )
    shop.orders.advance(SHOP, order_id, "delivered")
    delivered = read(checkouts, order_id)
    assert [e["type"] for e in delivered["fulfillment"]["events"]] == ["shipped", "delivered"]
    assert delivered["line_items"][0]["quantity"]["fulfilled"] == 2
    assert delivered["line_items"][0]["status"] == "fulfilled"


def test_a_return_shows_as_a_removed_line_and_a_refund_and_2026_01_11_reads_it(checkouts, shop) -> None:
    _, order_id = bought(checkouts)
    shop.orders.advance(SHOP, order_id, "delivered")
    shop.orders.return_items(OWNER, order_id, [0], "too big")
    order = read(checkouts, order_id)
    assert order["line_items"][0]["status"] == "removed"
    [refund] = order["adjustments"]
    assert refund["type"] == "refund" and refund["totals"] == [{"type": "total", "amount": 5000}]
    old = released.order(order)  # validated by the 2026-01-11 order model
    assert old["ucp"]["capabilities"] == [{"name": "dev.ucp.shopping.order", "version": "2026-01-11"}]
    assert old["line_items"] == [] and old["adjustments"][0]["amount"] == 5000


def test_only_the_caller_that_drove_the_checkout_reads_its_order(checkouts, shop) -> None:
    _, order_id = bought(checkouts)
    with pytest.raises(OrderNotFound):
        checkouts.order(AGENT, order_id)  # another caller: as if there were no such order
    placed = shop.checkout.place_order(
        OWNER, [LineItem("umb", 1)], address_id="home", payment_method_id="visa", idempotency_key="chat-1"
    )
    with pytest.raises(OrderNotFound):  # an order of the chat's, not of a UCP checkout
        checkouts.order(APP, placed["id"])

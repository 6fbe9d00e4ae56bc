"""Returns and exchanges in a store whose money moves when it has the items back
(``StoreRules.money_moves = "at_received"``, tau2's policy): the person's confirmation records the request,
nothing is refunded or charged, and the store's "received" step settles it once, crash or not."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import SimulatedCrash, arm, disarm
from ponder.commerce.model import StoreRules
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

from .conftest import ANN, SHOP, store_data


@pytest.fixture
def shop(database_url: str) -> Shop:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    shop = Shop(db, HashingEmbedder(), provider)
    shop.catalog.import_store(
        SHOP, dataclasses.replace(store_data(provider), rules=StoreRules(money_moves="at_received"))
    )
    with db.transaction() as conn:  # a dearer size in stock, for an exchange that charges a difference
        conn.execute(
            sql("UPDATE variants SET price = 5000, stock = 3 WHERE account = :a AND id = 'shirt-l'"),
            {"a": SHOP},
        )
    return shop


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    yield
    disarm()


def ledger(shop: Shop) -> TestPaymentProvider:
    assert isinstance(shop.provider, TestPaymentProvider)
    return shop.provider


def gift_balance(shop: Shop) -> int | None:
    with shop.db.reading() as db:
        return shop.customers.payment_method(ANN, "gift", db).balance


def delivered_card_order(shop: Shop) -> str:
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa", idempotency_key="k"
    )
    shop.orders.advance(SHOP, order["id"], "delivered")
    return str(order["id"])


def test_a_return_is_refunded_when_the_store_receives_the_items_not_before(shop: Shop) -> None:
    before = gift_balance(shop)
    action, token = shop.actions.propose_return(ANN, "#W1", [0], "too big")  # paid with the gift card
    shop.actions.confirm(ANN, action.id, token)
    asked = shop.orders.get(ANN, "#W1")
    assert asked["status"] == "return requested" and asked["waiting"] == {
        "kind": "return",
        "items": [0],
        "method_id": "gift",
    }
    assert [p["kind"] for p in asked["payments"]] == ["charge"] and gift_balance(shop) == before
    assert asked["items"][0]["state"] == "ordered"

    received = shop.orders.advance(SHOP, "#W1", "received")
    assert received["waiting"] is None and received["items"][0]["state"] == "returned"
    assert [(p["kind"], p["amount"]) for p in received["payments"]] == [("charge", 7500), ("refund", 4500)]
    assert gift_balance(shop) == (before or 0) + 4500
    again = shop.orders.advance(SHOP, "#W1", "received")  # a retry of the store's step: nothing more moves
    assert again["payments"] == received["payments"] and gift_balance(shop) == (before or 0) + 4500
    nothing_asked = delivered_card_order(shop)
    with pytest.raises(ConflictError, match=f"Nothing of order {nothing_asked} waits"):
        shop.orders.advance(SHOP, nothing_asked, "received")


def test_an_exchange_is_charged_and_made_when_the_items_are_received(shop: Shop) -> None:
    order_id = delivered_card_order(shop)
    action, token = shop.actions.propose_exchange(ANN, order_id, [(0, "shirt-l")], "visa")
    shop.actions.confirm(ANN, action.id, token)
    asked = shop.orders.get(ANN, order_id)
    assert asked["status"] == "exchange requested" and asked["waiting"] == {
        "kind": "exchange",
        "swaps": [[0, "shirt-l"]],
        "method_id": "visa",
        "difference": 500,
    }
    assert len(ledger(shop).charges()) == 1 and [i["variant_id"] for i in asked["items"]] == ["shirt-m"]

    done = shop.orders.advance(SHOP, order_id, "received")
    assert done["waiting"] is None
    assert [(i["variant_id"], i["state"]) for i in done["items"]] == [
        ("shirt-m", "exchanged"),
        ("shirt-l", "ordered"),
    ]
    assert [c.amount for c in ledger(shop).charges()] == [4500, 500]


@pytest.mark.parametrize("step", ["before_charge", "after_charge", "after_write"])
def test_a_received_step_that_crashed_is_finished_once_when_taken_again(shop: Shop, step: str) -> None:
    order_id = delivered_card_order(shop)
    action, token = shop.actions.propose_exchange(ANN, order_id, [(0, "shirt-l")], "visa")
    shop.actions.confirm(ANN, action.id, token)
    arm(step)  # type: ignore[arg-type]
    with pytest.raises(SimulatedCrash):
        shop.orders.advance(SHOP, order_id, "received")
    disarm()
    done = shop.orders.advance(SHOP, order_id, "received")  # the store's system tries again
    assert done["waiting"] is None and [c.amount for c in ledger(shop).charges()] == [4500, 500]
    assert [p["amount"] for p in done["payments"] if p["kind"] == "charge"] == [4500, 500]
    assert sum(1 for i in done["items"] if i["state"] == "exchanged") == 1

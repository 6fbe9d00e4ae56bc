"""Checkout, orders and payments on a small store: once per idempotency key, whatever happens in between."""

from __future__ import annotations

import json
import threading

import pytest

from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.idempotency import IdempotencyKeys, Outcome
from ponder.commerce.orders import OrderBook, UnknownOrderError
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, PaymentProviderError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

SHOP = "shop"  # the store tests/commerce/conftest.py builds, and its customers
ANN, BOB = Owner(SHOP, "ann"), Owner(SHOP, "bob")


def place(checkout: Checkout, key: str, method: str = "visa", owner: Owner = ANN, **more: object) -> dict:
    items = more.pop("items", [LineItem("shirt-m", 2)])
    return checkout.place_order(
        owner,
        items,
        address_id="home",
        payment_method_id=method,
        idempotency_key=key,  # type: ignore[arg-type]
    )


def test_an_order_is_placed_paid_and_replayed_for_the_same_key(shop_parts) -> None:
    db, provider, checkout = shop_parts
    order = place(checkout, "k1")
    assert order["status"] == "pending" and order["total"] == 9000
    assert [p["kind"] for p in order["payments"]] == ["charge"] and order["items"][0]["quantity"] == 2
    assert place(checkout, "k1") == order  # the same answer, not a second order
    assert len(provider.charges()) == 1
    assert Catalog(db, HashingEmbedder()).variant(SHOP, "shirt-m")[1].stock == 3
    with pytest.raises(ConflictError, match="different request"):
        place(checkout, "k1", items=[LineItem("shirt-m", 1)])


def test_the_key_keeps_a_domain_outcome_and_records_stored_before_stay_readable(shop_parts) -> None:
    db, provider, checkout = shop_parts
    order = place(checkout, "k-outcome")
    assert "object" not in order  # the domain's view of the order: the wire shape is the server's

    def record(key: str) -> tuple[str, dict]:
        with db.reading() as conn:
            row = (
                conn.execute(
                    sql("SELECT state, response FROM idempotency_keys WHERE user_id = 'ann' AND key = :key"),
                    {"key": key},
                )
                .mappings()
                .one()
            )
        return row["state"], json.loads(row["response"])

    assert record("k-outcome") == ("done", {"order_id": order["id"]})  # no HTTP status, no body
    with pytest.raises(PaymentDeclinedError):
        place(checkout, "k-declined", "declined")
    state, failed = record("k-declined")
    assert state == "failed" and failed["error"] == "declined" and failed["code"] == "card_declined"
    with db.transaction() as conn:  # a record as stored before: the whole order, with its wire marker
        conn.execute(
            sql("UPDATE idempotency_keys SET response = :value WHERE user_id = 'ann' AND key = 'k-outcome'"),
            {"value": json.dumps({"object": "order", **order})},
        )
    assert place(checkout, "k-outcome") == order  # replayed as the order, not placed again
    assert len(provider.charges()) == 1


def test_concurrent_identical_requests_make_one_order_and_one_charge(shop_parts) -> None:
    db, provider, checkout = shop_parts
    results: list[dict] = []
    errors: list[Exception] = []

    def go() -> None:
        try:
            results.append(place(checkout, "same", items=[LineItem("umb", 1)]))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 20
    assert len({r["id"] for r in results}) == 1 and len(provider.charges()) == 1
    assert len(OrderBook(db, provider).list_orders(ANN)) == 2  # the imported one and this one


def test_a_lost_provider_response_is_retried_with_the_same_key_without_a_second_charge(shop_parts) -> None:
    _, provider, checkout = shop_parts
    with pytest.raises(PaymentProviderError, match="did not answer"):
        place(checkout, "k-lost", method="lost")
    assert len(provider.charges()) == 1  # charged, but the answer never came
    order = place(checkout, "k-lost", method="lost")
    assert len(provider.charges()) == 1 and order["payments"][0]["reference"]


def test_a_crashed_checkout_is_taken_over_when_its_lease_ends(shop_parts) -> None:
    db, provider, checkout = shop_parts
    keys = checkout.keys
    claim = keys.claim(ANN, "k-crash", {"items": [["umb", 1]], "address": "home", "payment_method": "visa"})
    assert claim.plan is None  # type: ignore[union-attr] - a fresh claim; its owner "dies" here
    with pytest.raises(ConflictError, match="in progress") as waited:
        IdempotencyKeys(db, lease_s=0.5, wait_s=0).claim(
            ANN, "k-crash", {"items": [["umb", 1]], "address": "home", "payment_method": "visa"}
        )
    assert waited.value.retry_after is not None
    place(checkout, "k-crash", items=[LineItem("umb", 1)])  # waits out the lease, takes over
    assert len(provider.charges()) == 1


def test_declines_are_final_answers_and_provider_errors_are_not(shop_parts) -> None:
    _, provider, checkout = shop_parts
    with pytest.raises(PaymentDeclinedError, match="declined") as declined:
        place(checkout, "k-declined", method="declined")
    assert declined.value.code == "card_declined"
    with pytest.raises(PaymentDeclinedError, match="declined") as again:  # the stored outcome, not a retry
        place(checkout, "k-declined", method="declined")
    assert again.value.code == "card_declined"
    request = {"items": [["shirt-m", 2]], "address": "home", "payment_method": "declined"}
    stored = checkout.keys.claim(ANN, "k-declined", request)
    assert isinstance(stored, Outcome) and stored.state == "failed"  # a domain outcome, not an HTTP answer
    assert stored.value == {"error": "declined", "message": "The card was declined.", "code": "card_declined"}
    with pytest.raises(PaymentProviderError, match="processing error"):
        place(checkout, "k-broken", method="broken")
    with pytest.raises(PaymentProviderError):  # released: the retry really runs (and fails again)
        place(checkout, "k-broken", method="broken")
    assert provider.charges() == []


def test_stock_gift_cards_and_bad_requests(shop_parts) -> None:
    _, _, checkout = shop_parts
    with pytest.raises(ConflictError, match="only 0 in stock"):
        place(checkout, "k-l", items=[LineItem("shirt-l", 1)])
    order = place(checkout, "k-gift", method="gift", items=[LineItem("esp-40", 1)])
    assert order["payments"][0]["reference"] == ""
    with pytest.raises(PaymentDeclinedError, match="gift card"):
        place(checkout, "k-gift-2", method="gift", items=[LineItem("shirt-m", 1)])  # 4500 > 2000 left
    with pytest.raises(NotFoundError):
        place(checkout, "k-x", items=[LineItem("nope", 1)])
    with pytest.raises(UserError, match="quantity"):
        place(checkout, "k-q", items=[LineItem("umb", 0)])
    with pytest.raises(NotFoundError, match="payment method"):
        place(checkout, "k-m", method="someone-elses")
    with pytest.raises(UserError, match="idempotency key"):
        place(checkout, "")


def test_cancel_refunds_and_restocks_once(shop_parts) -> None:
    db, provider, checkout = shop_parts
    order = place(checkout, "k-c")
    book = OrderBook(db, provider)
    cancelled = book.cancel(ANN, order["id"], "changed my mind")
    assert cancelled["status"] == "cancelled" and [p["kind"] for p in cancelled["payments"]] == [
        "charge",
        "refund",
    ]
    assert [h["status"] for h in cancelled["history"]] == ["pending", "cancelled"]
    assert len(provider.refunds()) == 1 and provider.refunds()[0].amount == 9000
    assert Catalog(db, HashingEmbedder()).variant(SHOP, "shirt-m")[1].stock == 5
    with pytest.raises(ConflictError, match="only a pending order"):
        book.cancel(ANN, order["id"], "again")
    with pytest.raises(UnknownOrderError):
        book.cancel(BOB, order["id"], "not his")


def test_returning_delivered_items_refunds_the_gift_card(shop_parts) -> None:
    db, provider, _ = shop_parts
    book = OrderBook(db, provider)
    with pytest.raises(UserError, match="no returnable item 7"):
        book.return_items(ANN, "#W1", [7])
    returned = book.return_items(ANN, "#W1", [1], "too small")
    assert returned["status"] == "return requested" and returned["items"][1]["state"] == "returned"
    assert returned["payments"][-1] == returned["payments"][-1] | {"kind": "refund", "amount": 3000}
    with pytest.raises(ConflictError, match="only delivered items"):
        book.return_items(ANN, "#W1", [0])  # no longer "delivered"

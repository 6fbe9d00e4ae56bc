"""The store moving orders forward (``OrderBook.advance``): pending -> processed -> delivered, never back."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.orders import UnknownOrderError
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError, UserError

from .conftest import ANN, SHOP


def _place(shop: Shop, key: str) -> str:
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa", idempotency_key=key
    )
    return str(order["id"])


def test_an_order_moves_forward_and_the_history_says_so(shop: Shop) -> None:
    order_id = _place(shop, "k1")
    processed = shop.orders.advance(SHOP, order_id, "processed")
    assert processed["status"] == "processed"
    delivered = shop.orders.advance(SHOP, order_id, "delivered", "signed for by  the neighbour")
    assert delivered["status"] == "delivered"
    assert [(e["status"], e["note"]) for e in delivered["history"]] == [
        ("pending", "placed"),
        ("processed", "processed by the store"),
        ("delivered", "signed for by the neighbour"),
    ]
    assert shop.orders.get(ANN, order_id)["status"] == "delivered"  # the customer sees it


def test_a_step_may_be_skipped_but_never_taken_back(shop: Shop) -> None:
    order_id = _place(shop, "k2")
    assert shop.orders.advance(SHOP, order_id, "delivered")["status"] == "delivered"
    with pytest.raises(ConflictError, match="is delivered: it cannot be moved to processed"):
        shop.orders.advance(SHOP, order_id, "processed")
    with pytest.raises(ConflictError, match="forward only"):
        shop.orders.advance(SHOP, order_id, "delivered")
    assert len(shop.orders.get(ANN, order_id)["history"]) == 2  # the refusals wrote nothing


def test_a_processed_order_can_no_longer_be_cancelled(shop: Shop) -> None:
    order_id = _place(shop, "k3")
    shop.orders.advance(SHOP, order_id, "processed")
    with pytest.raises(ConflictError, match="only a pending order can be cancelled"):
        shop.orders.cancel(ANN, order_id, "changed my mind")


def test_cancelled_and_returned_orders_do_not_move(shop: Shop) -> None:
    order_id = _place(shop, "k4")
    shop.orders.cancel(ANN, order_id, "changed my mind")
    with pytest.raises(ConflictError, match="is cancelled"):
        shop.orders.advance(SHOP, order_id, "delivered")
    shop.orders.return_items(ANN, "#W1", [0], "too small")  # imported as delivered
    with pytest.raises(ConflictError, match="is return requested"):
        shop.orders.advance(SHOP, "#W1", "delivered")


@pytest.mark.parametrize("status", ["pending", "cancelled", "return requested", "shipped", ""])
def test_only_processed_and_delivered_are_accepted(shop: Shop, status: str) -> None:
    order_id = _place(shop, f"k-{status}")
    with pytest.raises(UserError, match="can be moved to processed or delivered"):
        shop.orders.advance(SHOP, order_id, status)


def test_an_unknown_order_or_another_store_is_not_found(shop: Shop) -> None:
    order_id = _place(shop, "k5")
    with pytest.raises(UnknownOrderError, match="No order #nope"):
        shop.orders.advance(SHOP, "#nope", "processed")
    with pytest.raises(UnknownOrderError):
        shop.orders.advance("another-store", order_id, "processed")


def _race(shop: Shop, order_id: str) -> dict[str, str]:
    outcomes: dict[str, str] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        try:
            call()
            outcomes[name] = "won"
        except ConflictError:
            outcomes[name] = "refused"

    threads = [
        threading.Thread(target=run, args=("cancel", lambda: shop.orders.cancel(ANN, order_id, "race"))),
        threading.Thread(
            target=run, args=("advance", lambda: shop.orders.advance(SHOP, order_id, "processed"))
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_cancel_and_advance_racing_cannot_both_win(shop: Shop) -> None:
    for attempt in range(5):
        order_id = _place(shop, f"race-{attempt}")
        outcomes = _race(shop, order_id)
        assert sorted(outcomes.values()) == ["refused", "won"]
        final = shop.orders.get(ANN, order_id)
        assert final["status"] == ("cancelled" if outcomes["cancel"] == "won" else "processed")


def test_an_item_named_twice_is_not_returned_twice(shop: Shop) -> None:
    with pytest.raises(UserError, match="Item 0 of the order is named twice"):
        shop.orders.return_items(ANN, "#W1", [0, 0], "too small")
    assert shop.orders.get(ANN, "#W1")["status"] == "delivered"

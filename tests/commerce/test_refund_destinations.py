"""Where money given back may go, as a store's rules say (issue 21 item 2): a return's refund to a method the
customer names (``StoreRules.return_refunds_to``), and a price difference in the customer's favour
(``difference_refunds_to``), to a method that paid the order, a gift card, or any saved method. A card that
never paid the order is paid by the provider's ``credit``, booked first and sent after, so a crash between
the two sends it once when the confirmation is retried."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import SimulatedCrash, arm, disarm
from ponder.commerce.formats.tau2_dump import tau2_document
from ponder.commerce.model import StoreRules
from ponder.commerce.payments import Charge, Refund, TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.store_export import export_store
from ponder.errors import ConflictError, UserError
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

from .conftest import ANN, SHOP, store_data

ANYWHERE = StoreRules(difference_refunds_to=("any_method",), return_refunds_to=("paying_method", "gift_card"))


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    yield
    disarm()


class NoCredits:
    """A provider that charges and refunds but pays no credits, as many do."""

    def __init__(self, inner: TestPaymentProvider) -> None:
        self.inner, self.name = inner, "plain"

    def charge(self, **kw: object) -> Charge:
        return self.inner.charge(**kw)  # type: ignore[arg-type]

    def refund(self, **kw: object) -> Refund:
        return self.inner.refund(**kw)  # type: ignore[arg-type]


def shop_with(database_url: str, rules: StoreRules, *, credits: bool = True) -> Shop:
    """Ann's store with ``rules``, a cheaper size L of the shirt in stock, and a second good card
    ("master", which pays nothing below unless named); ``credits=False``: a provider that pays none."""
    ledger = TestPaymentProvider()
    db = open_database(database_url)
    shop = Shop(db, HashingEmbedder(), ledger if credits else NoCredits(ledger))
    shop.catalog.import_store(SHOP, dataclasses.replace(store_data(ledger), rules=rules))
    master, _, _ = ledger.tokenize("5555 5555 5555 4444")
    with db.transaction() as conn:
        conn.execute(
            sql("UPDATE variants SET price = 3000, stock = 3 WHERE account = :a AND id = 'shirt-l'"),
            {"a": SHOP},
        )
        conn.execute(
            sql(
                "INSERT INTO payment_methods (account, user_id, id, kind, token, brand, last4, balance) "
                "VALUES (:a, 'ann', 'master', 'card', :token, 'mastercard', '4444', NULL)"
            ),
            {"a": SHOP, "token": master},
        )
    return shop


def ledger(shop: Shop) -> TestPaymentProvider:
    provider = shop.provider.inner if isinstance(shop.provider, NoCredits) else shop.provider
    assert isinstance(provider, TestPaymentProvider)
    return provider


def paid_with_visa(shop: Shop, *, delivered: bool = False) -> str:
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa", idempotency_key="k"
    )
    if delivered:
        shop.orders.advance(SHOP, order["id"], "delivered")
    return str(order["id"])


def balance(shop: Shop, method: str) -> int | None:
    with shop.db.reading() as db:
        return shop.customers.payment_method(ANN, method, db).balance


def test_by_default_a_difference_goes_back_to_what_paid_or_a_gift_card_never_another_card(
    database_url: str,
) -> None:
    shop = shop_with(database_url, StoreRules())
    order_id = paid_with_visa(shop)
    with pytest.raises(UserError, match=r"can go back to a gift card, or to a payment method that paid"):
        shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "master")
    action, token = shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "gift")
    shop.actions.confirm(ANN, action.id, token)
    assert balance(shop, "gift") == 5000 + 1500 and ledger(shop).credits() == []


def test_a_store_that_allows_any_method_has_the_provider_pay_a_card_that_never_paid(
    database_url: str,
) -> None:
    shop = shop_with(database_url, ANYWHERE)
    order_id = paid_with_visa(shop)
    action, token = shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "master")
    shop.actions.confirm(ANN, action.id, token)
    order = shop.orders.get(ANN, order_id)
    credit = order["payments"][-1]
    assert (credit["kind"], credit["amount"], credit["method_id"]) == ("credit", 1500, "master")
    assert credit["reference"].startswith("cr_")
    [(paid, token_paid)] = ledger(shop).credits()
    assert paid.amount == 1500 and paid.id == credit["reference"]
    with shop.db.reading() as db:
        assert token_paid == shop.customers.payment_method(ANN, "master", db).token
    assert ledger(shop).refunds() == []  # the visa charge is untouched
    assert tau2_document(export_store(shop.db, SHOP))["orders"][order_id]["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 15.0,
        "payment_method_id": "master",
    }


@pytest.mark.parametrize("step", ["after_write", "before_answer"])
def test_a_credit_booked_before_a_crash_is_paid_once_when_the_confirmation_is_retried(
    database_url: str, step: str
) -> None:
    shop = shop_with(database_url, ANYWHERE)
    order_id = paid_with_visa(shop)
    action, token = shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "master")
    arm(step)  # type: ignore[arg-type]
    with pytest.raises(SimulatedCrash):
        shop.actions.confirm(ANN, action.id, token)
    disarm()
    for _ in range(2):  # the person's client tries again: it finishes the action, or it was done
        with contextlib.suppress(ConflictError):
            shop.actions.confirm(ANN, action.id, token)
    assert shop.actions.get(ANN, action.id).status == "done"
    assert [c.amount for c, _ in ledger(shop).credits()] == [1500]
    payments = shop.orders.get(ANN, order_id)["payments"]
    assert [(p["kind"], p["amount"]) for p in payments] == [("charge", 4500), ("credit", 1500)]
    assert all(p["reference"] for p in payments)


def test_any_method_needs_a_provider_that_pays_credits(database_url: str) -> None:
    shop = shop_with(database_url, ANYWHERE, credits=False)
    order_id = paid_with_visa(shop)
    with pytest.raises(UserError, match="payment provider can pay"):
        shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "master")
    action, token = shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "visa")  # what paid: fine
    assert shop.actions.confirm(ANN, action.id, token).status == "done"


def test_by_default_a_return_goes_back_to_what_paid_whatever_the_customer_names(database_url: str) -> None:
    strict = shop_with(database_url, StoreRules())
    order_id = paid_with_visa(strict, delivered=True)
    with pytest.raises(UserError, match="can go back to a payment method that paid"):
        strict.actions.propose_return(ANN, order_id, [0], "too small", "gift")
    action, _token = strict.actions.propose_return(ANN, order_id, [0], "too small", "visa")  # what paid
    assert "goes back to visa" in action.summary


def test_a_return_goes_to_a_gift_card_the_customer_names_where_the_store_allows_it(database_url: str) -> None:
    shop = shop_with(database_url, ANYWHERE)
    order_id = paid_with_visa(shop, delivered=True)
    with pytest.raises(UserError, match="a gift card, or to a payment method that paid"):
        shop.actions.propose_return(ANN, order_id, [0], "too small", "master")
    action, token = shop.actions.propose_return(ANN, order_id, [0], "too small", "gift")
    assert "goes back to gift" in action.summary
    shop.actions.confirm(ANN, action.id, token)
    assert balance(shop, "gift") == 5000 + 4500
    assert ledger(shop).refunds() == [] and ledger(shop).credits() == []


def test_a_waiting_return_keeps_where_its_refund_goes_until_the_items_are_received(database_url: str) -> None:
    shop = shop_with(database_url, dataclasses.replace(ANYWHERE, money_moves="at_received"))
    order_id = paid_with_visa(shop, delivered=True)
    action, token = shop.actions.propose_return(ANN, order_id, [0], "too small", "gift")
    shop.actions.confirm(ANN, action.id, token)
    assert shop.orders.get(ANN, order_id)["waiting"]["method_id"] == "gift"
    assert balance(shop, "gift") == 5000
    written = tau2_document(export_store(shop.db, SHOP))["orders"][order_id]
    assert written["return_payment_method_id"] == "gift"
    shop.orders.advance(SHOP, order_id, "received")
    assert balance(shop, "gift") == 5000 + 4500 and ledger(shop).refunds() == []

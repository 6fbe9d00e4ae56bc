"""A pending order paid with another of the customer's methods: proposed, confirmed by the person, the new
method charged and the old one refunded, with the books agreeing; and every refusal leaving the order as
it was. Crashes at each step are tests/commerce/test_crashpoints.py's."""

from __future__ import annotations

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.customers import write_customers
from ponder.commerce.model import Customer, PaymentMethod
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError, PaymentDeclinedError, PaymentProviderError, UserError

from .conftest import ANN, BOB, SHOP


def ledger(shop: Shop) -> TestPaymentProvider:
    assert isinstance(shop.provider, TestPaymentProvider)
    return shop.provider


def pending_order(shop: Shop, method: str = "visa") -> str:
    """Ann's pending order of one shirt (45.00), paid with ``method``."""
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id=method, idempotency_key=method
    )
    return str(order["id"])


def gift_balance(shop: Shop) -> int | None:
    with shop.db.reading() as db:
        return shop.customers.payment_method(ANN, "gift", db).balance


def add_mastercard(shop: Shop) -> None:
    token, _, _ = ledger(shop).tokenize("5555 5555 5555 4444")
    with shop.db.transaction() as db:
        card = PaymentMethod("mc", "card", token, "mastercard", "4444")
        write_customers(db, SHOP, [Customer("ann", payment_methods=(card,))], 0.0)


def test_the_person_confirms_and_the_new_card_pays_while_the_old_one_is_refunded(shop: Shop) -> None:
    add_mastercard(shop)
    order_id = pending_order(shop)
    action, token = shop.actions.propose_change_payment(ANN, order_id, "mc")
    assert action.kind == "change_payment" and action.amount == 4500 and action.status == "pending"
    assert "card mc (mastercard ending 4444) instead of visa" in action.summary
    assert "tok_" not in action.summary  # a token is never shown
    assert shop.orders.get(ANN, order_id)["payments"][-1]["method_id"] == "visa"  # nothing moved yet

    done = shop.actions.confirm(ANN, action.id, token)
    assert done.status == "done"
    order = shop.orders.get(ANN, order_id)
    assert [(p["kind"], p["method_id"], p["amount"]) for p in order["payments"]] == [
        ("charge", "visa", 4500),
        ("charge", "mc", 4500),
        ("refund", "visa", 4500),
    ]
    assert order["status"] == "pending" and order["history"][-1]["note"].startswith("payment changed")
    first, second = ledger(shop).charges()
    assert ledger(shop).charge_token(second.id) != ledger(shop).charge_token(first.id)
    assert [(r.charge_id, r.amount) for r in ledger(shop).refunds()] == [(first.id, 4500)]
    # Cancelled afterwards, the refund goes to the card that now pays for it.
    cancel, cancel_token = shop.actions.propose_cancel(ANN, order_id, "no longer needed")
    shop.actions.confirm(ANN, cancel.id, cancel_token)
    assert [(r.charge_id, r.amount) for r in ledger(shop).refunds()][-1] == (second.id, 4500)


def test_a_gift_card_pays_from_its_balance_and_a_gift_card_paid_order_is_credited_back(shop: Shop) -> None:
    order_id = pending_order(shop)
    action, token = shop.actions.propose_change_payment(ANN, order_id, "gift")
    shop.actions.confirm(ANN, action.id, token)
    assert gift_balance(shop) == 5000 - 4500
    back, back_token = shop.actions.propose_change_payment(ANN, order_id, "visa")
    shop.actions.confirm(ANN, back.id, back_token)
    assert gift_balance(shop) == 5000  # credited when it stopped paying
    paid = [(p["kind"], p["method_id"]) for p in shop.orders.get(ANN, order_id)["payments"]]
    assert paid[-2:] == [("charge", "visa"), ("refund", "gift")]


def test_refusals_leave_the_order_as_it_was(shop: Shop) -> None:
    order_id = pending_order(shop)
    before = shop.orders.get(ANN, order_id)
    with pytest.raises(UserError, match="already paid with visa"):
        shop.actions.propose_change_payment(ANN, order_id, "visa")
    with pytest.raises(PaymentDeclinedError, match="gift card"):  # 50.00 left covers 45.00 once, not 90.00
        big = shop.checkout.place_order(
            ANN, [LineItem("shirt-m", 2)], address_id="home", payment_method_id="visa", idempotency_key="big"
        )
        shop.actions.propose_change_payment(ANN, str(big["id"]), "gift")
    with pytest.raises(UserError):  # not one of Ann's methods
        shop.actions.propose_change_payment(ANN, order_id, "nope")
    with pytest.raises(ConflictError, match="only a pending order"):
        shop.actions.propose_change_payment(ANN, "#W1", "visa")  # delivered
    with pytest.raises(UserError):  # another customer's order is no order of Bob's
        shop.actions.propose_change_payment(BOB, order_id, "visa")
    assert shop.orders.get(ANN, order_id) == before


def test_a_declined_card_changes_nothing_and_the_action_fails(shop: Shop) -> None:
    order_id = pending_order(shop)
    action, token = shop.actions.propose_change_payment(ANN, order_id, "declined")
    with pytest.raises(PaymentDeclinedError):
        shop.actions.confirm(ANN, action.id, token)
    assert shop.actions.get(ANN, action.id).status == "failed"
    order = shop.orders.get(ANN, order_id)
    assert [(p["kind"], p["method_id"]) for p in order["payments"]] == [("charge", "visa")]
    assert ledger(shop).refunds() == []


def test_an_order_that_changed_after_the_proposal_is_not_changed(shop: Shop) -> None:
    add_mastercard(shop)
    order_id = pending_order(shop)
    action, token = shop.actions.propose_change_payment(ANN, order_id, "mc")
    shop.orders.advance(SHOP, order_id, "processed")  # shipped meanwhile
    with pytest.raises(ConflictError):
        shop.actions.confirm(ANN, action.id, token)
    assert len(ledger(shop).charges()) == 1 and ledger(shop).refunds() == []


def test_a_charge_the_provider_never_answered_is_refunded_when_the_retry_is_refused(shop: Shop) -> None:
    order_id = pending_order(shop)
    action, token = shop.actions.propose_change_payment(ANN, order_id, "lost")  # charges, loses the answer
    with pytest.raises(PaymentProviderError):
        shop.actions.confirm(ANN, action.id, token)
    assert shop.actions.get(ANN, action.id).status == "confirmed"  # no answer is no final answer
    shop.orders.advance(SHOP, order_id, "processed")  # shipped meanwhile: the change can no longer be made
    with pytest.raises(ConflictError):
        shop.actions.confirm(ANN, action.id, token)
    assert shop.actions.get(ANN, action.id).status == "failed"
    charges = ledger(shop).charges()
    lost = [c for c in charges if ledger(shop).charge_token(c.id) != ledger(shop).charge_token(charges[0].id)]
    assert [(r.charge_id, r.amount) for r in ledger(shop).refunds()] == [(lost[0].id, 4500)]
    order = shop.orders.get(ANN, order_id)
    assert [(p["kind"], p["method_id"]) for p in order["payments"]] == [("charge", "visa")]
    assert "charged and refunded" in order["history"][-1]["note"]

"""Issue 16: every consequential action, crashed at every step it passes, then confirmed again at once and
later, or left to the sweeper, ends with exactly one effect, the right status, and money that reconciles.

A crash is ``crashpoints.arm``: the confirmation raises ``SimulatedCrash`` at that step, with what was
committed before it kept and nothing after it done (bench/crash.py does the same with kill -9 on a real
server). Time is a clock the test moves, so "later" (past the checkout's lease, past the sweeper's delay)
needs no sleep. One trial per (action, step, recovery), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ponder.commerce.actions import SETTLE_ACTION, PendingAction
from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import SimulatedCrash, arm, disarm
from ponder.commerce.customers import write_customers
from ponder.commerce.idempotency import IdempotencyKeys
from ponder.commerce.model import Address, Customer, PaymentMethod
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.store.jobs import JobQueue, JobWorker

ANN = Owner("shop", "ann")
LATER = 3600.0  # past every lease and the sweeper's delay
STEPS: dict[str, tuple[str, ...]] = {  # the steps each kind passes (crashpoints.POINTS)
    "place_order": ("before_charge", "after_charge", "after_write", "before_answer"),
    "cancel_order": ("after_write", "before_answer"),
    "return_items": ("after_write", "before_answer"),
    "modify_items": ("before_charge", "after_charge", "after_write", "before_answer"),
    "exchange_items": ("before_charge", "after_charge", "after_write", "before_answer"),
    "change_address": ("after_write", "before_answer"),
    "change_payment": ("before_charge", "after_charge", "after_write", "before_answer"),
}
CASES = [(kind, step) for kind, steps in STEPS.items() for step in steps]


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    yield
    disarm()


def ledger(shop: Shop) -> TestPaymentProvider:
    assert isinstance(shop.provider, TestPaymentProvider)
    return shop.provider


def crashable(shop: Shop) -> Clock:
    """The shop with its idempotency keys and jobs on a clock the test moves; a retry never waits."""
    clock = Clock()
    shop.checkout.keys = IdempotencyKeys(shop.db, lease_s=30, wait_s=0, clock=clock)
    shop.actions.jobs = JobQueue(shop.db, clock=clock)
    with shop.db.transaction() as db:  # a dearer size in stock, for changes that charge a difference
        db.execute(
            sql("UPDATE variants SET price = 5000, stock = 3 WHERE account = 'shop' AND id = 'shirt-l'")
        )
    mastercard, _, _ = ledger(shop).tokenize("5555 5555 5555 4444")  # a second card, to pay with instead
    with shop.db.transaction() as db:
        card = PaymentMethod("mc", "card", mastercard, "mastercard", "4444")
        write_customers(db, "shop", [Customer("ann", payment_methods=(card,))], clock.now)
    return clock


def an_order(shop: Shop, status: str) -> str:
    """A card-paid order of one shirt (45.00), moved to ``status`` by the store."""
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa", idempotency_key="setup"
    )
    if status != "pending":
        shop.orders.advance("shop", order["id"], status)
    return str(order["id"])


def propose(shop: Shop, kind: str) -> tuple[PendingAction, str, str]:
    """The action of ``kind`` proposed, with its token and the order it is about ("" until placed)."""
    desk = shop.actions
    if kind == "place_order":
        action, token = desk.propose_checkout(
            ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
        )
        return action, token, ""
    order_id = an_order(shop, "delivered" if kind in ("return_items", "exchange_items") else "pending")
    if kind == "cancel_order":
        action, token = desk.propose_cancel(ANN, order_id, "changed my mind")
    elif kind == "return_items":
        action, token = desk.propose_return(ANN, order_id, [0], "too big")
    elif kind == "modify_items":
        action, token = desk.propose_modify(ANN, order_id, [(0, "shirt-l")], "visa")
    elif kind == "exchange_items":
        action, token = desk.propose_exchange(ANN, order_id, [(0, "shirt-l")], "visa")
    elif kind == "change_payment":
        action, token = desk.propose_change_payment(ANN, order_id, "mc")
    else:
        action, token = desk.propose_change_address(
            ANN, order_id, address=Address("", "2 Hill Street", "Lisbon", "PT", zip="1100")
        )
    return action, token, order_id


def confirm_again(shop: Shop, action: PendingAction, token: str) -> PendingAction:
    """Confirm; an action the crashed attempt had already recorded done is "already done", and read."""
    try:
        return shop.actions.confirm(ANN, action.id, token)
    except ConflictError as refused:
        if "already done" not in str(refused):
            raise
        return shop.actions.get(ANN, action.id)


def confirm_until_done(shop: Shop, clock: Clock, action: PendingAction, token: str) -> PendingAction:
    """The person's client: confirm again at once; if still in flight (409 with retry_after: not a final
    answer, the action stays confirmed), again once the lease has passed."""
    try:
        return confirm_again(shop, action, token)
    except ConflictError as busy:
        assert busy.retry_after is not None, f"a retry after a crash was refused: {busy}"
        assert shop.actions.get(ANN, action.id).status == "confirmed"
    clock.now += LATER
    return confirm_again(shop, action, token)


def sweep(shop: Shop, clock: Clock, action: PendingAction, token: str) -> PendingAction:
    """Nobody confirms again: the sweeper finishes it."""
    clock.now += LATER
    JobWorker(shop.actions.jobs, {SETTLE_ACTION: shop.actions.settle_job}).run_due()
    return shop.actions.get(ANN, action.id)


@pytest.mark.parametrize("recovery", [confirm_until_done, sweep], ids=["retried", "swept"])
@pytest.mark.parametrize(("kind", "step"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_a_crash_at_any_step_ends_with_one_effect_and_the_books_reconciled(
    shop: Shop, kind: str, step: str, recovery: Callable[..., PendingAction]
) -> None:
    clock = crashable(shop)
    action, token, order_id = propose(shop, kind)
    before = _effects(shop, order_id)
    arm(step)  # type: ignore[arg-type]
    with pytest.raises(SimulatedCrash):
        shop.actions.confirm(ANN, action.id, token)
    done = recovery(shop, clock, action, token)
    assert done.status == "done" and done.result is not None, f"{kind} after {step}: {done.status}"
    order_id = order_id or str(done.result["id"])
    with pytest.raises(ConflictError, match="already done"):  # and once more, very late: nothing new
        shop.actions.confirm(ANN, action.id, token)
    clock.now += LATER
    JobWorker(shop.actions.jobs, {SETTLE_ACTION: shop.actions.settle_job}).run_due()  # the sweeper: nothing
    assert shop.actions.get(ANN, action.id).result == done.result
    _check_one_effect(shop, kind, order_id, before)
    _check_money(shop, order_id)


def test_an_immediate_retry_after_a_charge_leaves_the_checkout_retryable_not_failed(shop: Shop) -> None:
    """The reported bug: killed after the provider charged, the person's client confirmed again at once;
    the retry met the dead request's lease (409 "still in progress") and the action was stored as failed,
    so every later confirmation got "already failed" and the charge stayed, with no order and no refund."""
    clock = crashable(shop)
    action, token, _ = propose(shop, "place_order")
    arm("after_charge")
    with pytest.raises(SimulatedCrash):
        shop.actions.confirm(ANN, action.id, token)
    with pytest.raises(ConflictError, match="still in progress") as busy:
        shop.actions.confirm(ANN, action.id, token)
    assert busy.value.retry_after is not None
    assert shop.actions.get(ANN, action.id).status == "confirmed"  # not failed: in flight is no answer
    clock.now += LATER
    done = shop.actions.confirm(ANN, action.id, token)
    assert done.status == "done" and done.result is not None
    [charge] = ledger(shop).charges()
    assert [p["reference"] for p in done.result["payments"]] == [charge.id]


def test_a_charge_whose_order_can_never_be_written_is_refunded_by_the_sweeper(shop: Shop) -> None:
    """Killed after the charge; meanwhile the last item sells out, and nobody confirms again: the sweeper
    takes the checkout over, cannot write the order, and refunds the charge by itself."""
    clock = crashable(shop)
    action, token, _ = propose(shop, "place_order")
    arm("after_charge")
    with pytest.raises(SimulatedCrash):
        shop.actions.confirm(ANN, action.id, token)
    with shop.db.transaction() as db:
        db.execute(sql("UPDATE variants SET available = FALSE WHERE account = 'shop' AND id = 'umb'"))
    clock.now += LATER
    JobWorker(shop.actions.jobs, {SETTLE_ACTION: shop.actions.settle_job}).run_due()
    assert shop.actions.get(ANN, action.id).status == "failed"
    [charge] = ledger(shop).charges()
    assert [(r.charge_id, r.amount) for r in ledger(shop).refunds()] == [(charge.id, charge.amount)]
    assert [o["id"] for o in shop.orders.list_orders(ANN)] == ["#W1"]


def test_an_order_with_a_given_address_and_card_crashed_after_the_charge_is_finished_once(shop: Shop) -> None:
    """An outside agent's destination and card (never saved): killed after the charge, the sweeper finishes
    the one order on that card and address, from what the action holds."""
    clock = crashable(shop)
    saved = shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)
    pier = Address("dest_pier", "9 Pier Lane", "Faro", "PT")
    card = PaymentMethod("pm_agent", "card", "tok_test_agent_card", "visa", "1881")
    action, token = shop.actions.propose_checkout(ANN, items=[LineItem("umb", 1)], address=pier, method=card)
    arm("after_charge")
    with pytest.raises(SimulatedCrash):
        shop.actions.confirm(ANN, action.id, token)
    clock.now += LATER
    JobWorker(shop.actions.jobs, {SETTLE_ACTION: shop.actions.settle_job}).run_due()
    done = shop.actions.get(ANN, action.id)
    assert done.status == "done" and done.result is not None
    assert done.result["address"]["line1"] == "9 Pier Lane"
    [charge] = ledger(shop).charges()
    assert ledger(shop).charge_token(charge.id) == "tok_test_agent_card" and ledger(shop).refunds() == []
    assert [p["reference"] for p in done.result["payments"]] == [charge.id]
    assert (shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)) == saved


# --- the checks ---------------------------------------------------------------------------------------


def _effects(shop: Shop, order_id: str) -> dict[str, Any]:
    return {
        "orders": len(shop.orders.list_orders(ANN)),
        "events": len(shop.orders.get(ANN, order_id)["history"]) if order_id else 0,
        "umb": shop.catalog.variant("shop", "umb")[1].stock,
    }


def _check_one_effect(shop: Shop, kind: str, order_id: str, before: dict[str, Any]) -> None:
    order = shop.orders.get(ANN, order_id)
    notes = [h["note"] for h in order["history"]]
    if kind == "place_order":
        assert len(shop.orders.list_orders(ANN)) == before["orders"] + 1 and notes == ["placed"]
        return
    assert len(notes) == before["events"] + 1, f"{kind} made {len(notes) - before['events']} changes"
    expected = {
        "cancel_order": "cancelled",
        "return_items": "return requested",
        "modify_items": "pending",
        "exchange_items": "exchange requested",
        "change_address": "pending",
        "change_payment": "pending",
    }[kind]
    assert order["status"] == expected


def _check_money(shop: Shop, order_id: str) -> None:
    """The provider's ledger and the order's payments agree charge by charge; every refund is sent."""
    provider = ledger(shop)
    order = shop.orders.get(ANN, order_id)
    booked = {p["reference"]: p for p in order["payments"]}
    assert all(booked), f"a refund of {order_id} was never sent: {order['payments']}"
    for charge in provider.charges():
        assert charge.id in booked and booked[charge.id]["amount"] == charge.amount, charge
    for refund in provider.refunds():
        assert refund.id in booked and booked[refund.id]["amount"] == refund.amount, refund
    held = sum(c.amount for c in provider.charges()) - sum(r.amount for r in provider.refunds())
    net = sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in order["payments"])
    assert held == net, f"the provider holds {held}, the order {net}"

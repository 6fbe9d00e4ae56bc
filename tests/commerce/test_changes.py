"""Changing orders after checkout: items of a pending order (once), its address, exchanges of delivered items.

Every change is checked for its money (charges minus refunds equal the order's total, in Ponder's books and
in the test provider's ledger), its stock, and its status history; and, as a pending action, for waiting on
the person's token, once, for exactly the order the person saw.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.model import Address
from ponder.commerce.orders import UnknownOrderError
from ponder.commerce.payments import Charge, Refund, TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, shopping_toolset
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, PaymentProviderError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.tools.base import ToolContext, ToolError

SHOP = "shop"  # the store tests/commerce/conftest.py builds, and its customers
ANN, BOB = Owner(SHOP, "ann"), Owner(SHOP, "bob")
LISBON = Address("", "2 Hill Street", "Lisbon", "PT", zip="1100")


@pytest.fixture
def store(shop: Shop) -> Shop:
    """The conftest store, with more sizes of the linen shirt: M 45.00 (5), L 50.00 (3), S 40.00 (2),
    XL 55.00 (not available)."""
    with shop.db.transaction() as db:
        db.execute(
            sql("UPDATE variants SET price = 5000, stock = 3 WHERE account = :account AND id = 'shirt-l'"),
            {"account": SHOP},
        )
        db.execute(
            sql(
                "INSERT INTO variants (account, id, product_id, options, price, stock, available) "
                "VALUES ('shop', :id, 'linen-shirt', :options, :price, :stock, :available)"
            ),
            [
                {"id": "shirt-s", "options": '{"size": "S"}', "price": 4000, "stock": 2, "available": True},
                {
                    "id": "shirt-xl",
                    "options": '{"size": "XL"}',
                    "price": 5500,
                    "stock": 9,
                    "available": False,
                },
            ],
        )
    return shop


def ledger(shop: Shop) -> TestPaymentProvider:
    provider = shop.provider
    assert isinstance(provider, TestPaymentProvider)
    return provider


def place(shop: Shop, key: str, *items: LineItem, method: str = "visa") -> dict[str, Any]:
    order = shop.checkout.place_order(
        ANN,
        list(items) or [LineItem("shirt-m", 2)],
        address_id="home",
        payment_method_id=method,
        idempotency_key=key,
    )
    return order


def deliver(shop: Shop, order_id: str) -> None:
    """What the store does when the parcel arrives."""
    shop.orders.advance(SHOP, order_id, "delivered", "parcel signed for")


def stock(shop: Shop, variant_id: str) -> int | None:
    return shop.catalog.variant(SHOP, variant_id)[1].stock


def balance(shop: Shop, method_id: str) -> int | None:
    return next(m.balance for m in shop.customers.payment_methods(ANN) if m.id == method_id)


def assert_money_conserved(shop: Shop, order: dict[str, Any]) -> None:
    """Charges minus refunds equal the order's total, in the order's payments and at the provider: every
    provider charge and refund of the order is in its payments, and what is not the provider's is a
    gift card's (or imported history)."""
    payments = order["payments"]
    net = sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in payments)
    assert net == order["total"]
    charges: dict[str, Charge] = {c.id: c for c in ledger(shop).charges()}
    ours = {p["reference"] for p in payments if p["kind"] == "charge" and p["reference"]}
    refunds: list[Refund] = [r for r in ledger(shop).refunds() if r.charge_id in ours]
    assert {p["reference"] for p in payments if p["kind"] == "refund" and p["reference"]} == {
        r.id for r in refunds
    }
    at_provider = sum(charges[c].amount for c in ours) - sum(r.amount for r in refunds)
    store_money = sum(
        p["amount"] if p["kind"] == "charge" else -p["amount"] for p in payments if not p["reference"]
    )
    assert at_provider + store_money == order["total"]
    for reference in ours:  # and per charge, as the provider keeps it: never more refunded than charged
        assert sum(r.amount for r in refunds if r.charge_id == reference) <= charges[reference].amount


# --- changing the items of a pending order ------------------------------------------------------------------


def test_modifying_items_charges_the_difference_moves_stock_and_happens_once(store: Shop) -> None:
    order = place(store, "k1")  # 2 × shirt M at 45.00, paid 90.00 by card
    assert (stock(store, "shirt-m"), stock(store, "shirt-l")) == (3, 3)
    changed = store.orders.modify_items(ANN, order["id"], [(0, "shirt-l")], "visa")
    assert changed["status"] == "pending" and changed["total"] == 10000
    assert (
        changed["items"][0] | {"variant_id": "shirt-l", "options": {"size": "L"}, "price": 5000}
        == changed["items"][0]
    )
    assert changed["items"][0]["quantity"] == 2 and changed["items"][0]["state"] == "ordered"
    assert (stock(store, "shirt-m"), stock(store, "shirt-l")) == (5, 1)  # two back, two taken
    assert [(p["kind"], p["amount"], p["method_id"]) for p in changed["payments"]] == [
        ("charge", 9000, "visa"),
        ("charge", 1000, "visa"),
    ]
    assert changed["history"][-1]["status"] == "pending"
    assert changed["history"][-1]["note"].startswith("items modified: item 0 shirt-m -> shirt-l")
    assert_money_conserved(store, changed)

    with pytest.raises(ConflictError, match="already changed once"):
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    assert len(ledger(store).charges()) == 2

    cancelled = store.orders.cancel(ANN, order["id"], "no longer needed")  # both charges come back
    assert sorted(r.amount for r in ledger(store).refunds()) == [1000, 9000]
    assert (stock(store, "shirt-m"), stock(store, "shirt-l")) == (5, 3)
    assert sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in cancelled["payments"]) == 0


def test_a_cheaper_variant_refunds_the_difference_to_the_card_that_paid_or_a_gift_card(store: Shop) -> None:
    order = place(store, "k1", LineItem("shirt-m", 1))
    with pytest.raises(UserError, match="gift card, or to a payment method that paid"):
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "declined")  # never paid this order
    changed = store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    assert changed["total"] == 4000 and changed["payments"][-1]["kind"] == "refund"
    [refund] = ledger(store).refunds()
    assert refund.amount == 500 and refund.charge_id == changed["payments"][0]["reference"]
    assert changed["payments"][-1]["reference"] == refund.id
    assert (stock(store, "shirt-m"), stock(store, "shirt-s")) == (5, 1)
    assert_money_conserved(store, changed)

    other = place(store, "k2", LineItem("shirt-m", 1))
    before = balance(store, "gift")
    changed = store.orders.modify_items(ANN, other["id"], [(0, "shirt-s")], "gift")
    assert balance(store, "gift") == (before or 0) + 500 and len(ledger(store).refunds()) == 1
    assert (
        changed["payments"][-1] | {"kind": "refund", "amount": 500, "method_id": "gift"}
        == changed["payments"][-1]
    )
    assert_money_conserved(store, changed)


def test_a_gift_card_pays_a_difference_only_if_it_covers_it(store: Shop) -> None:
    order = place(store, "k1")  # 2 × M: to L is 10.00 more, to XL would be 20.00 (not available)
    with store.db.transaction() as db:
        db.execute(
            sql("UPDATE payment_methods SET balance = 900 WHERE account = :account AND id = 'gift'"),
            {"account": SHOP},
        )
    with pytest.raises(PaymentDeclinedError, match="less than the difference") as declined:
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-l")], "gift")
    assert declined.value.code == "insufficient_funds"
    with store.db.transaction() as db:
        db.execute(
            sql("UPDATE payment_methods SET balance = 1500 WHERE account = :account AND id = 'gift'"),
            {"account": SHOP},
        )
    changed = store.orders.modify_items(ANN, order["id"], [(0, "shirt-l")], "gift")
    assert balance(store, "gift") == 500 and len(ledger(store).charges()) == 1  # no provider charge
    assert changed["payments"][-1] == changed["payments"][-1] | {
        "kind": "charge",
        "amount": 1000,
        "method_id": "gift",
        "reference": "",
    }
    assert_money_conserved(store, changed)


def test_swapping_two_items_variants_needs_no_spare_stock(store: Shop) -> None:
    with store.db.transaction() as db:
        db.execute(
            sql("UPDATE variants SET stock = 1 WHERE account = :account AND id = 'shirt-l'"),
            {"account": SHOP},
        )
    order = place(store, "k1", LineItem("shirt-m", 1), LineItem("shirt-l", 1))
    assert stock(store, "shirt-l") == 0
    seq = {i["variant_id"]: i["seq"] for i in order["items"]}
    changed = store.orders.modify_items(
        ANN, order["id"], [(seq["shirt-m"], "shirt-l"), (seq["shirt-l"], "shirt-m")], "visa"
    )
    assert {i["variant_id"] for i in changed["items"]} == {"shirt-m", "shirt-l"}
    assert changed["total"] == order["total"] and len(changed["payments"]) == 1  # 45 + 50 either way
    assert (stock(store, "shirt-m"), stock(store, "shirt-l")) == (4, 0)
    assert changed["history"][-1]["note"].endswith("no price difference")
    assert_money_conserved(store, changed)


def test_bad_swaps_wrong_statuses_and_other_users_change_nothing(store: Shop) -> None:
    order = place(store, "k1")
    oid = order["id"]
    cases: list[tuple[type[Exception], str, Any]] = [
        (NotFoundError, "No item 'nope'", lambda: store.orders.modify_items(ANN, oid, [(0, "nope")], "visa")),
        (UserError, "same product", lambda: store.orders.modify_items(ANN, oid, [(0, "esp-40")], "visa")),
        (
            UserError,
            "already is 'shirt-m'",
            lambda: store.orders.modify_items(ANN, oid, [(0, "shirt-m")], "visa"),
        ),
        (
            UserError,
            "no item 7 to change",
            lambda: store.orders.modify_items(ANN, oid, [(7, "shirt-l")], "visa"),
        ),
        (
            UserError,
            "named twice",
            lambda: store.orders.modify_items(ANN, oid, [(0, "shirt-l"), (0, "shirt-s")], "visa"),
        ),
        (UserError, "at least one item", lambda: store.orders.modify_items(ANN, oid, [], "visa")),
        (
            ConflictError,
            "'Linen shirt' \\(shirt-xl\\) is not available",  # not sold now: no stock count to state
            lambda: store.orders.modify_items(ANN, oid, [(0, "shirt-xl")], "visa"),
        ),
        (
            NotFoundError,
            "payment method",
            lambda: store.orders.modify_items(ANN, oid, [(0, "shirt-l")], "nope"),
        ),
        (
            UnknownOrderError,
            "No order",
            lambda: store.orders.modify_items(BOB, oid, [(0, "shirt-l")], "visa"),
        ),
        (
            UnknownOrderError,
            "No order",
            lambda: store.orders.modify_items(ANN, "ord_nope", [(0, "shirt-l")], "visa"),
        ),
        (
            ConflictError,
            "only a pending order's items",
            lambda: store.orders.modify_items(ANN, "#W1", [(0, "shirt-l")], "gift"),
        ),
        (
            ConflictError,
            "only delivered items can be exchanged",
            lambda: store.orders.exchange_items(ANN, oid, [(0, "shirt-l")], "visa"),
        ),
        (
            UnknownOrderError,
            "No order",
            lambda: store.orders.exchange_items(BOB, "#W1", [(0, "shirt-l")], "visa"),
        ),
        (UnknownOrderError, "No order", lambda: store.orders.change_address(BOB, oid, LISBON)),
        (
            ConflictError,
            "only a pending order's address",
            lambda: store.orders.change_address(ANN, "#W1", LISBON),
        ),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()
    after = store.orders.get(ANN, oid)
    assert after == order and len(ledger(store).charges()) == 1 and ledger(store).refunds() == []
    assert (stock(store, "shirt-m"), stock(store, "shirt-l"), stock(store, "shirt-s")) == (3, 3, 2)


def test_more_than_in_stock_is_refused(store: Shop) -> None:
    order = place(store, "k1", LineItem("shirt-m", 3))  # S has 2
    with pytest.raises(ConflictError, match="only 2 in stock"):
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    assert store.orders.get(ANN, order["id"]) == order


# --- exchanging delivered items -----------------------------------------------------------------------------


def test_exchanging_delivered_items_adds_the_new_ones_and_marks_the_old(store: Shop) -> None:
    before = balance(store, "gift")  # #W1: shirt M 45.00 + espadrilles 30.00, paid by gift card, delivered
    exchanged = store.orders.exchange_items(ANN, "#W1", [(0, "shirt-l")], "gift")
    assert exchanged["status"] == "exchange requested" and exchanged["total"] == 8000
    items = [(i["seq"], i["variant_id"], i["state"], i["price"]) for i in exchanged["items"]]
    assert items == [
        (0, "shirt-m", "exchanged", 4500),
        (1, "esp-40", "ordered", 3000),
        (2, "shirt-l", "ordered", 5000),
    ]
    assert balance(store, "gift") == (before or 0) - 500 and ledger(store).charges() == []
    assert (stock(store, "shirt-m"), stock(store, "shirt-l")) == (5, 2)  # the old one is not back yet
    assert [h["status"] for h in exchanged["history"]] == ["delivered", "exchange requested"]
    assert "item 0 shirt-m -> shirt-l (now item 2)" in exchanged["history"][-1]["note"]
    assert_money_conserved(store, exchanged)
    with pytest.raises(ConflictError, match="only delivered items can be exchanged"):
        store.orders.exchange_items(ANN, "#W1", [(1, "esp-40")], "gift")  # once
    with pytest.raises(ConflictError, match="only delivered items can be returned"):
        store.orders.return_items(ANN, "#W1", [1])


def test_an_exchange_refunds_a_cheaper_item_to_the_card_and_replaces_like_for_like(store: Shop) -> None:
    order = place(store, "k1", LineItem("shirt-m", 1), LineItem("esp-40", 1))
    deliver(store, order["id"])
    seq = {i["variant_id"]: i["seq"] for i in order["items"]}
    swaps = [(seq["shirt-m"], "shirt-s"), (seq["esp-40"], "esp-40")]  # a smaller shirt; the same shoes again
    exchanged = store.orders.exchange_items(ANN, order["id"], swaps, "visa")
    assert exchanged["total"] == 7000 and [r.amount for r in ledger(store).refunds()] == [500]
    assert [i["state"] for i in exchanged["items"]] == ["exchanged", "exchanged", "ordered", "ordered"]
    assert (stock(store, "shirt-s"), stock(store, "esp-40")) == (1, 0)
    assert_money_conserved(store, exchanged)


# --- the shipping address -----------------------------------------------------------------------------------


def test_the_address_of_a_pending_order_changes_with_a_note(store: Shop) -> None:
    order = place(store, "k1")
    with pytest.raises(UserError, match="street line, a city and a country"):
        store.orders.change_address(ANN, order["id"], Address("", "", "Lisbon", "PT"))
    with pytest.raises(UserError, match="already ships to 1 Sea Road"):
        store.orders.change_address(
            ANN, order["id"], Address("other-id", "1 Sea Road", "Porto", "PT", zip="4000")
        )
    changed = store.orders.change_address(ANN, order["id"], LISBON)
    assert changed["address"]["line1"] == "2 Hill Street" and changed["status"] == "pending"
    assert changed["history"][-1]["note"] == (
        "address changed to 2 Hill Street, Lisbon, 1100, PT (was 1 Sea Road, Porto, 4000, PT)"
    )
    assert changed["payments"] == order["payments"] and changed["total"] == order["total"]


# --- failures between charging and writing ------------------------------------------------------------------


class SoldOutWhileCharging:
    """A provider whose charge lets another buyer take the last of a variant before the change is written."""

    def __init__(self, shop: Shop, variant_id: str) -> None:
        self.inner, self.shop, self.variant_id = ledger(shop), shop, variant_id
        self.name = "test"

    def charge(self, **kwargs: Any) -> Charge:
        charge = self.inner.charge(**kwargs)
        with self.shop.db.transaction() as db:
            db.execute(
                sql("UPDATE variants SET stock = 0 WHERE account = :account AND id = :id"),
                {"account": SHOP, "id": self.variant_id},
            )
        return charge

    def refund(self, **kwargs: Any) -> Refund:
        return self.inner.refund(**kwargs)


class RefundsFailOnce:
    """A provider that does not answer the first refund asked of it."""

    def __init__(self, shop: Shop) -> None:
        self.inner, self.failed, self.name = ledger(shop), False, "test"

    def charge(self, **kwargs: Any) -> Charge:
        return self.inner.charge(**kwargs)

    def refund(self, **kwargs: Any) -> Refund:
        if not self.failed:
            self.failed = True
            raise PaymentProviderError("The payment provider did not answer in time.")
        return self.inner.refund(**kwargs)


def test_a_difference_charged_for_a_change_that_cannot_be_written_is_refunded(store: Shop) -> None:
    order = place(store, "k1")
    store.orders.provider = SoldOutWhileCharging(store, "shirt-l")
    with pytest.raises(ConflictError, match="only 0 in stock"):
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-l")], "visa")
    after = store.orders.get(ANN, order["id"])
    assert (
        after["items"] == order["items"] and after["total"] == 9000 and after["payments"] == order["payments"]
    )
    [_, extra] = ledger(store).charges()
    assert [(r.charge_id, r.amount) for r in ledger(store).refunds()] == [(extra.id, 1000)]
    assert "not made" in after["history"][-1]["note"] and extra.id in after["history"][-1]["note"]
    assert_money_conserved(store, after)
    store.orders.provider = ledger(store)  # and the order may still be changed, once
    changed = store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    assert changed["total"] == 8000
    assert_money_conserved(store, changed)


def test_a_refund_the_provider_did_not_answer_is_settled_later_once(store: Shop) -> None:
    order = place(store, "k1", LineItem("shirt-m", 1))
    store.orders.provider = RefundsFailOnce(store)
    with pytest.raises(PaymentProviderError):
        store.orders.modify_items(ANN, order["id"], [(0, "shirt-s")], "visa")
    booked = store.orders.get(ANN, order["id"])
    assert booked["total"] == 4000 and booked["payments"][-1] == booked["payments"][-1] | {
        "kind": "refund",
        "amount": 500,
        "reference": "",
    }
    assert ledger(store).refunds() == []
    settled = store.orders.settle_refunds(ANN, order["id"])
    assert settled["payments"][-1]["reference"] == ledger(store).refunds()[0].id
    assert store.orders.settle_refunds(ANN, order["id"]) == settled and len(ledger(store).refunds()) == 1
    assert_money_conserved(store, settled)
    cancelled = store.orders.cancel(ANN, order["id"], "ordered by mistake")  # the rest: 40.00
    assert sorted(r.amount for r in ledger(store).refunds()) == [500, 4000]
    assert sum(p["amount"] if p["kind"] == "charge" else -p["amount"] for p in cancelled["payments"]) == 0


def test_concurrent_changes_of_one_order_make_one_change_and_keep_the_books(store: Shop) -> None:
    order = place(store, "k1")
    errors: list[Exception] = []

    def change(variant_id: str) -> None:
        try:
            store.orders.modify_items(ANN, order["id"], [(0, variant_id)], "visa")
        except ConflictError as error:
            errors.append(error)

    threads = [
        threading.Thread(target=change, args=(v,)) for v in ("shirt-l", "shirt-l", "shirt-s", "shirt-s")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = store.orders.get(ANN, order["id"])
    assert len(errors) == 3 and sum(h["note"].startswith("items modified") for h in after["history"]) == 1
    assert after["total"] in (10000, 8000)
    assert_money_conserved(store, after)
    size = after["items"][0]["variant_id"]
    assert (stock(store, "shirt-m"), stock(store, "shirt-l"), stock(store, "shirt-s")) == (
        5,
        1 if size == "shirt-l" else 3,
        0 if size == "shirt-s" else 2,
    )


# --- as pending actions -------------------------------------------------------------------------------------


def test_a_change_of_items_waits_for_the_token_and_runs_once(store: Shop) -> None:
    order = place(store, "k1")
    action, token = store.actions.propose_modify(ANN, order["id"], [(0, "shirt-l")], "visa")
    assert action.kind == "modify_items" and action.amount == 1000 and action.target == order["id"]
    assert (
        "item 0, 2 × Linen shirt (size M) at 45.00 EUR → Linen shirt (size L) at 50.00 EUR" in action.summary
    )
    assert (
        "10.00 EUR, is charged to card visa" in action.summary
        and "New order total 100.00 EUR" in action.summary
    )
    assert token not in json.dumps(action.for_model())
    assert store.orders.get(ANN, order["id"]) == order and len(ledger(store).charges()) == 1
    with pytest.raises(UserError, match="not this action's"):
        store.actions.confirm(ANN, action.id, token[::-1])
    done = store.actions.confirm(ANN, action.id, token)
    assert done.status == "done" and done.result is not None and done.result["total"] == 10000
    with pytest.raises(ConflictError, match="already done"):
        store.actions.confirm(ANN, action.id, token)
    assert len(ledger(store).charges()) == 2
    assert_money_conserved(store, store.orders.get(ANN, order["id"]))


def test_an_order_that_changed_after_the_proposal_is_not_changed(store: Shop) -> None:
    order = place(store, "k1")
    modify, modify_token = store.actions.propose_modify(ANN, order["id"], [(0, "shirt-l")], "visa")
    address, address_token = store.actions.propose_change_address(ANN, order["id"], address=LISBON)
    assert address.kind == "change_address" and address.amount == 0
    assert address.summary.endswith(
        "instead of 1 Sea Road, Porto, 4000, PT. No money moves.\n"
        "New address (as written in the chat, check it): 2 Hill Street, Lisbon, 1100, PT"
    )
    assert store.actions.confirm(ANN, address.id, address_token).status == "done"
    with pytest.raises(ConflictError, match="changed after this change was proposed"):
        store.actions.confirm(ANN, modify.id, modify_token)  # the order the person saw shipped to Porto
    assert store.actions.get(ANN, modify.id).status == "failed"
    assert len(ledger(store).charges()) == 1

    again, again_token = store.actions.propose_modify(ANN, order["id"], [(0, "shirt-l")], "visa")
    with store.db.transaction() as db:  # the store raises the price of L meanwhile
        db.execute(
            sql("UPDATE variants SET price = 6000 WHERE account = :account AND id = 'shirt-l'"),
            {"account": SHOP},
        )
    with pytest.raises(ConflictError, match="difference is now 30.00 EUR, not the 10.00 EUR confirmed"):
        store.actions.confirm(ANN, again.id, again_token)
    assert len(ledger(store).charges()) == 1

    exchange, exchange_token = store.actions.propose_exchange(ANN, "#W1", [(1, "esp-40")], "gift")
    store.orders.return_items(ANN, "#W1", [0])
    with pytest.raises(ConflictError, match="now return requested"):
        store.actions.confirm(ANN, exchange.id, exchange_token)


def test_exchange_and_address_actions_for_their_own_user_only(store: Shop) -> None:
    with pytest.raises(UnknownOrderError):
        store.actions.propose_exchange(BOB, "#W1", [(0, "shirt-l")], "visa")
    action, token = store.actions.propose_exchange(ANN, "#W1", [(0, "shirt-s")], "gift")
    assert action.amount == 500 and "goes back to gift card gift" in action.summary
    assert '"exchange requested"' in action.summary
    with pytest.raises(NotFoundError, match="No pending action"):
        store.actions.confirm(BOB, action.id, token)
    done = store.actions.confirm(ANN, action.id, token)
    assert done.result is not None and done.result["status"] == "exchange requested"
    with pytest.raises(ConflictError, match="already done"):
        store.actions.confirm(ANN, action.id, token)
    order = place(store, "k1")
    with pytest.raises(UserError, match="not both"):
        store.actions.propose_change_address(ANN, order["id"], address_id="home", address=LISBON)
    with pytest.raises(UserError, match="already ships to"):
        store.actions.propose_change_address(ANN, order["id"], address_id="home")
    with pytest.raises(NotFoundError, match="No address"):
        store.actions.propose_change_address(ANN, order["id"], address_id="nowhere")
    assert store.actions.list_actions(ANN) == []


def test_the_tools_only_propose(store: Shop) -> None:
    order = place(store, "k1")
    proposals: list[Proposal] = []
    tools = {t.name: t for t in shopping_toolset(store, ANN, proposals).tools}

    def call(name: str, **arguments: Any) -> Any:
        assert tools[name].invoke is not None
        return asyncio.run(tools[name].invoke(ToolContext(), arguments))

    seen = call(
        "modify_order_items",
        order_id=order["id"],
        item_numbers=[0],
        new_item_ids=["shirt-l"],
        payment_method_id="visa",
    )
    assert seen["kind"] == "modify_items" and "token" not in json.dumps(seen)
    seen = call(
        "change_order_address", order_id=order["id"], line1="2 Hill Street", city="Lisbon", country="PT"
    )
    assert seen["kind"] == "change_address"
    seen = call(
        "exchange_items", order_id="#W1", item_numbers=[0], new_item_ids=["shirt-l"], payment_method_id="gift"
    )
    assert seen["kind"] == "exchange_items"
    assert [p.action.kind for p in proposals] == ["modify_items", "change_address", "exchange_items"]
    assert all(p.token not in json.dumps(p.action.for_model()) for p in proposals)
    assert (
        store.orders.get(ANN, order["id"]) == order and store.orders.get(ANN, "#W1")["status"] == "delivered"
    )
    with pytest.raises(ToolError, match="one new item id for each"):
        call(
            "exchange_items",
            order_id="#W1",
            item_numbers=[0, 1],
            new_item_ids=["shirt-l"],
            payment_method_id="gift",
        )
    with pytest.raises(ToolError, match="only a pending order's items"):
        call(
            "modify_order_items",
            order_id="#W1",
            item_numbers=[0],
            new_item_ids=["shirt-l"],
            payment_method_id="gift",
        )
    with pytest.raises(ToolError, match="not both"):
        call("change_order_address", order_id=order["id"], address_id="home", city="Lisbon")

"""Pending actions: the model proposes, the person confirms with a token the model never sees, once."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.commerce.payments import Charge, Refund, TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.errors import ConflictError, PaymentProviderError, UserError
from ponder.memory.owner import Owner

SHOP = "shop"
ANN, BOB = Owner(SHOP, "ann"), Owner(SHOP, "bob")


def test_a_checkout_waits_for_the_token_and_runs_once(shop: Shop) -> None:
    shop.carts.add(ANN, "shirt-m", 2)
    action, token = shop.actions.propose_checkout(ANN, address_id="home", payment_method_id="visa")
    assert action.status == "pending" and action.amount == 9000
    assert "2 × Linen shirt (size M)" in action.summary and "90.00 EUR" in action.summary
    seen = str(action.for_model())
    assert token not in seen and "pending_action" in seen
    assert shop.orders.list_orders(ANN)[0]["id"] == "#W1"  # nothing bought yet
    with pytest.raises(UserError, match="not this action's"):
        shop.actions.confirm(ANN, action.id, "guessed-" + token[8:])
    done = shop.actions.confirm(ANN, action.id, token)
    assert done.status == "done" and done.result is not None and done.result["total"] == 9000
    assert shop.carts.lines(ANN) == [] and len(shop.provider.charges()) == 1  # type: ignore[attr-defined]
    with pytest.raises(ConflictError, match="already done"):
        shop.actions.confirm(ANN, action.id, token)  # consumed once
    assert len(shop.provider.charges()) == 1  # type: ignore[attr-defined]


def test_a_cart_changed_after_the_proposal_is_not_bought(shop: Shop) -> None:
    shop.carts.add(ANN, "umb")
    action, token = shop.actions.propose_checkout(ANN, address_id="home", payment_method_id="visa")
    shop.carts.add(ANN, "esp-40")  # e.g. an injected "add this too" after the person was asked
    with pytest.raises(ConflictError, match="cart changed"):
        shop.actions.confirm(ANN, action.id, token)
    assert shop.actions.get(ANN, action.id).status == "failed"
    assert shop.provider.charges() == []  # type: ignore[attr-defined]


def test_only_its_user_can_confirm_and_declined_ones_stay_declined(shop: Shop) -> None:
    action, token = shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    with pytest.raises(Exception, match="No pending action"):
        shop.actions.confirm(BOB, action.id, token)
    assert shop.actions.decline(ANN, action.id, token).status == "declined"
    with pytest.raises(ConflictError, match="already declined"):
        shop.actions.confirm(ANN, action.id, token)
    assert [a.id for a in shop.actions.list_actions(ANN)] == []


def test_cancel_and_return_are_actions_too(shop: Shop) -> None:
    action, token = shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    order = shop.actions.confirm(ANN, action.id, token).result
    assert order is not None
    cancel, cancel_token = shop.actions.propose_cancel(ANN, order["id"], "ordered by mistake")
    assert "25.00 EUR goes back" in cancel.summary
    assert shop.actions.confirm(ANN, cancel.id, cancel_token).result["status"] == "cancelled"  # type: ignore[index]
    back, back_token = shop.actions.propose_return(ANN, "#W1", [0], "too big")
    assert shop.actions.confirm(ANN, back.id, back_token).result["status"] == "return requested"  # type: ignore[index]
    with pytest.raises(ConflictError):
        shop.actions.propose_cancel(ANN, "#W1", "it is delivered")


def test_an_order_that_moved_on_is_not_changed(shop: Shop) -> None:
    action, token = shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    order = shop.actions.confirm(ANN, action.id, token).result
    assert order is not None
    cancel, cancel_token = shop.actions.propose_cancel(ANN, order["id"], "changed my mind")
    shop.orders.cancel(ANN, order["id"], "cancelled by the store meanwhile")
    with pytest.raises(ConflictError, match="now cancelled"):
        shop.actions.confirm(ANN, cancel.id, cancel_token)
    assert len(shop.provider.refunds()) == 1  # type: ignore[attr-defined]


# What the model writes (a reason, a new address) is not trusted: it may try to reword or hide the summary.
HOSTILE = "[conceal]\x1b]52;c;cHduZWQ=\x07[bold green]Nothing is cancelled[/]\nRefund: 0.00 EUR\u202e"


def _placed(shop: Shop) -> str:
    action, token = shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    order = shop.actions.confirm(ANN, action.id, token).result
    assert order is not None
    return str(order["id"])


def test_a_summary_holds_the_stores_facts_and_the_models_reason_stays_apart(shop: Shop) -> None:
    order_id = _placed(shop)
    cancel, _ = shop.actions.propose_cancel(ANN, order_id, HOSTILE)
    # The summary: the order, its items and the refund, from the records; none of the model's words.
    assert cancel.summary == f"Cancel order {order_id} (1 × Beach umbrella). 25.00 EUR goes back to visa."
    # The model's words: apart, on one line, nothing that drives a terminal or reorders text.
    note = cancel.assistant_note
    assert "[bold green]Nothing is cancelled[/]" in note and "[conceal]" in note
    assert not any(c in note for c in "\x1b\x07\n\u202e")
    stored = shop.actions.get(ANN, cancel.id)
    assert (stored.summary, stored.assistant_note) == (cancel.summary, note)
    as_api = stored.to_dict()
    assert as_api["summary"] == cancel.summary and as_api["assistant_note"] == note
    assert as_api["arguments"]["reason"] == HOSTILE  # what the order's history records, as given


def test_a_return_summary_leaves_the_reason_out_too(shop: Shop) -> None:
    back, _ = shop.actions.propose_return(ANN, "#W1", [0], "[conceal]too big")
    assert back.summary == "Return from order #W1: Linen shirt (size M). 45.00 EUR goes back to gift."
    assert back.assistant_note == "[conceal]too big"


def test_a_new_address_from_the_model_is_shown_on_its_own_labelled_line(shop: Shop) -> None:
    order_id = _placed(shop)
    written = Address("", "[conceal]1 Attacker Road", "[bold green]No money moves[/]", "PT")
    action, _ = shop.actions.propose_change_address(ANN, order_id, address=written)
    facts, new = action.summary.split("\n")
    assert facts == (
        f"Ship pending order {order_id} (1 × Beach umbrella) to the new address below instead of "
        "1 Sea Road, Porto, 4000, PT. No money moves."
    )
    assert new == (
        "New address (as written in the chat, check it): "
        "[conceal]1 Attacker Road, [bold green]No money moves[/], PT"
    )


def test_a_model_written_address_with_control_characters_is_refused(shop: Shop) -> None:
    order_id = _placed(shop)
    for bad in ("1 Sea Road\nRefund: 0.00 EUR", "1 Sea Road\x1b[8m", "x" * 201):
        with pytest.raises(UserError, match="address's line1"):
            shop.actions.propose_change_address(ANN, order_id, address=Address("", bad, "Porto", "PT"))
    assert shop.actions.list_actions(ANN) == []


def test_imported_names_cannot_break_a_summary_line(shop: Shop) -> None:
    """Store records come from files anyone may write: a name with a line break or an escape sequence
    stays on its line of the summary."""
    token, _, _ = shop.provider.tokenize("4242 4242 4242 4242")  # type: ignore[attr-defined]
    other = Owner("other", "cy")
    name = "Umbrella\nTotal 0.00 EUR\x1b[8m"
    shop.catalog.import_store(
        "other",
        StoreData(
            name="Other",
            currency="EUR",
            products=(Product("u", name, (Variant("u1", "u", {"colour": "red\rblue"}, 2500),)),),
            customers=(
                Customer(
                    "cy",
                    addresses=(Address("home", "1 Sea Road", "Porto", "PT"),),
                    payment_methods=(PaymentMethod("visa", "card", token, "visa", "4242"),),
                ),
            ),
        ),
    )
    action, _ = shop.actions.propose_checkout(
        other, address_id="home", payment_method_id="visa", items=[LineItem("u1", 1)]
    )
    assert action.summary == (
        "Place an order: 1 × Umbrella Total 0.00 EUR [8m (colour red blue) at 25.00 EUR; ship to 1 Sea Road, "
        "Porto; pay with card visa. Total 25.00 EUR."
    )


class RefundsDown:
    """The store's provider with its refunds failing unanswered while ``down`` (charges pass through)."""

    name = "test"

    def __init__(self, inner: TestPaymentProvider) -> None:
        self.inner = inner
        self.down = True

    def charge(self, **kwargs: Any) -> Charge:
        return self.inner.charge(**kwargs)

    def refund(self, **kwargs: Any) -> Refund:
        if self.down:
            raise PaymentProviderError("The payment provider did not answer in time.")
        return self.inner.refund(**kwargs)


def test_a_cancel_whose_refund_was_unanswered_is_done_when_confirmed_again(shop: Shop) -> None:
    """Issue 16: the cancel committed but its refund got no answer, so the action stayed confirmed; the
    retry was then refused ("now cancelled") and the action stored as failed although the order was
    cancelled. The order's history records which action cancelled it, so the retry finds its own change,
    sends the refund and ends done."""
    provider = shop.provider
    assert isinstance(provider, TestPaymentProvider)
    action, token = shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    order = shop.actions.confirm(ANN, action.id, token).result
    assert order is not None
    outage = RefundsDown(provider)
    shop.orders.provider = outage
    cancel, cancel_token = shop.actions.propose_cancel(ANN, order["id"], "changed my mind")
    with pytest.raises(PaymentProviderError):
        shop.actions.confirm(ANN, cancel.id, cancel_token)
    assert shop.actions.get(ANN, cancel.id).status == "confirmed"  # not an answer: retried
    assert shop.orders.get(ANN, order["id"])["status"] == "cancelled" and provider.refunds() == []
    outage.down = False
    done = shop.actions.confirm(ANN, cancel.id, cancel_token)
    assert done.status == "done" and done.result is not None and done.result["status"] == "cancelled"
    [refund] = provider.refunds()
    assert refund.amount == 2500 and [p["reference"] for p in done.result["payments"]][1] == refund.id
    with pytest.raises(ConflictError, match="already done"):
        shop.actions.confirm(ANN, cancel.id, cancel_token)
    assert len(provider.refunds()) == 1


PIER = Address("dest_pier", "9 Pier Lane", "Faro", "PT")
AGENTS_CARD = PaymentMethod("pm_agent", "card", "tok_test_agent_card", "visa", "1881")


def test_an_address_and_card_given_for_one_order_are_never_saved(shop: Shop) -> None:
    """An outside shopping agent's destination and provider token: kept in the action, recorded on the order
    and charged once the person confirms, and never added to the buyer's saved addresses or methods."""
    saved = shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)
    action, token = shop.actions.propose_checkout(
        ANN, items=[LineItem("umb", 1)], address=PIER, method=AGENTS_CARD
    )
    assert "9 Pier Lane" in action.summary and "pm_agent" in action.summary
    assert "tok_test_agent_card" not in str(action.to_dict()) and "tok_test" not in str(action.for_model())
    assert (shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)) == saved
    done = shop.actions.confirm(ANN, action.id, token)
    assert done.status == "done" and done.result is not None
    assert done.result["address"]["line1"] == "9 Pier Lane" and done.result["payment_method_id"] == "pm_agent"
    provider = shop.provider
    assert isinstance(provider, TestPaymentProvider)
    [charge] = provider.charges()
    assert provider.charge_token(charge.id) == "tok_test_agent_card"
    assert (shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)) == saved
    declined, other = shop.actions.propose_checkout(
        ANN, items=[LineItem("umb", 1)], address=PIER, method=AGENTS_CARD
    )
    shop.actions.decline(ANN, declined.id, other)
    assert (shop.customers.addresses(ANN), shop.customers.payment_methods(ANN)) == saved


def test_a_given_payment_method_is_a_token_never_a_gift_card_and_one_of_each_is_named(shop: Shop) -> None:
    gift = PaymentMethod("gc_agent", "gift_card", "", balance=10**6)
    for where, match in (
        ({"address": PIER, "method": gift}, "not a gift card"),
        ({"address": PIER, "method": AGENTS_CARD, "payment_method_id": "visa"}, "payment method"),
        ({"address_id": "home", "address": PIER, "method": AGENTS_CARD}, "address"),
        ({"address": Address("x", "", "Faro", "PT"), "method": AGENTS_CARD}, "street line"),
    ):
        with pytest.raises(UserError, match=match):
            shop.actions.propose_checkout(ANN, items=[LineItem("umb", 1)], **where)  # type: ignore[arg-type]
    assert shop.actions.list_actions(ANN) == []

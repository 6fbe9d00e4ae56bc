"""Customers are the account's users: forget-me removes their store data; orders stay, without an address."""

from __future__ import annotations

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.model import Address
from ponder.commerce.shop import Shop
from ponder.errors import UserError
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore

ANN, BOB = Owner("shop", "ann"), Owner("shop", "bob")


def test_forgetting_a_customer_removes_their_store_data_and_keeps_the_books(shop: Shop) -> None:
    shop.carts.add(ANN, "umb")
    shop.actions.propose_checkout(
        ANN, address_id="home", payment_method_id="visa", items=[LineItem("umb", 1)]
    )
    shop.support.open_ticket(ANN, "wants a person", "Ann asked about a refund.")
    deleted = UserStore(shop.db).forget(ANN)
    for table in (
        "addresses",
        "payment_methods",
        "cart_items",
        "pending_actions",
        "support_tickets",
        "users",
    ):
        assert deleted[table] >= 1, table
    assert deleted["order addresses"] == 1
    assert shop.customers.addresses(ANN) == [] and shop.customers.payment_methods(ANN) == []
    assert shop.carts.lines(ANN) == [] and shop.support.list_tickets("shop") == []
    [order] = shop.orders.list_orders(ANN)  # the store's record of the sale stays, without where it went
    assert order["id"] == "#W1" and order["address"] is None
    assert len(shop.customers.addresses(BOB)) == 1


def test_addresses_and_cards(shop: Shop) -> None:
    added = shop.customers.add_address(BOB, Address("", "2 Hill St", "Braga", "PT"))
    assert added.id.startswith("addr_") and len(shop.customers.addresses(BOB)) == 2
    with pytest.raises(UserError, match="street line"):
        shop.customers.add_address(BOB, Address("", " ", "Braga", "PT"))
    card = shop.customers.add_card(BOB, shop.provider, "5555 5555 5555 4444")
    assert (card.brand, card.last4) == ("mastercard", "4444") and card.token.startswith("tok_")
    assert "5555555555554444" not in str(shop.customers.payment_methods(BOB))
    with pytest.raises(UserError, match="not a valid card number"):
        shop.customers.add_card(BOB, shop.provider, "4242 4242 4242 4241")

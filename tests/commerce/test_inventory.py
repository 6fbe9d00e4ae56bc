"""The one inventory: pricing lines, taking and giving back stock, and gift-card balances, on a real store."""

from __future__ import annotations

import pytest

from ponder.commerce.catalog import Catalog
from ponder.commerce.customers import CustomerStore
from ponder.commerce.inventory import (
    credit_gift_card,
    debit_gift_card,
    give_back_stock,
    price_lines,
    read_variants,
    take_stock,
)
from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError
from ponder.memory.owner import Owner
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

SHOP = "shop"  # the store tests/commerce/conftest.py builds
ANN = Owner(SHOP, "ann")


def stock(db, variant_id: str) -> int | None:
    return Catalog(db, HashingEmbedder()).variant(SHOP, variant_id)[1].stock


def test_lines_are_priced_from_the_catalog_and_refused_past_the_stock(shop_parts) -> None:
    db, _, _ = shop_parts
    with db.reading() as conn:
        shirt, umbrella = price_lines(conn, SHOP, [("shirt-m", 5), ("umb", 40)])
        assert (shirt.name, shirt.product_id, shirt.options, shirt.price) == (
            "Linen shirt",
            "linen-shirt",
            {"size": "M"},
            4500,
        )
        assert umbrella.left is None and umbrella.covers(1000)  # untracked: no limit
        with pytest.raises(ConflictError, match=r"'Linen shirt' \(shirt-m\) has only 5 in stock"):
            price_lines(conn, SHOP, [("shirt-m", 6)])
        with pytest.raises(ConflictError, match="has only 0 in stock"):
            price_lines(conn, SHOP, [("shirt-l", 1)])
        with pytest.raises(NotFoundError, match="No item 'nope'"):
            price_lines(conn, SHOP, [("umb", 1), ("nope", 1)])


def test_a_variant_not_sold_now_is_refused_as_not_available_whether_or_not_its_stock_counts(
    shop_parts,
) -> None:
    db, _, _ = shop_parts
    with db.transaction() as conn:  # the umbrella's stock is not tracked
        conn.execute(
            sql("UPDATE variants SET available = FALSE WHERE account = :a AND id = 'umb'"), {"a": SHOP}
        )
    with (
        db.reading() as conn,
        pytest.raises(ConflictError, match=r"'Beach umbrella' \(umb\) is not available\.$"),
    ):
        price_lines(conn, SHOP, [("umb", 1)])


def test_read_variants_leaves_out_unknown_items_and_refuses_none(shop_parts) -> None:
    db, _, _ = shop_parts
    with db.reading() as conn:
        found = read_variants(conn, SHOP, ["shirt-l", "nope", "shirt-l", "esp-40"])
    assert sorted(found) == ["esp-40", "shirt-l"]
    sold_out = found["shirt-l"]
    assert sold_out.left == 0 and not sold_out.covers(1)
    assert sold_out.covers(1, returned=1)  # a pending order swapping its own item back in


def test_stock_is_taken_with_one_guarded_update_and_untracked_stock_stays_untracked(shop_parts) -> None:
    db, _, _ = shop_parts
    with db.transaction() as conn:
        take_stock(conn, SHOP, "shirt-m", "Linen shirt", 5)
        take_stock(conn, SHOP, "umb", "Beach umbrella", 3)
    assert stock(db, "shirt-m") == 0 and stock(db, "umb") is None
    with pytest.raises(ConflictError, match="sold out meanwhile"), db.transaction() as conn:
        take_stock(conn, SHOP, "shirt-m", "Linen shirt", 1)
    assert stock(db, "shirt-m") == 0  # nothing taken
    with db.transaction() as conn:
        give_back_stock(conn, SHOP, "shirt-m", 2)
        give_back_stock(conn, SHOP, "umb", 2)
    assert stock(db, "shirt-m") == 2 and stock(db, "umb") is None


def test_a_gift_card_is_debited_only_while_it_covers_the_amount(shop_parts) -> None:
    db, _, _ = shop_parts
    customers = CustomerStore(db)

    def balance() -> int | None:
        with db.reading() as conn:
            return customers.payment_method(ANN, "gift", conn).balance

    with db.transaction() as conn:
        debit_gift_card(conn, ANN, "gift", 4000, "EUR")
    assert balance() == 1000
    with (
        pytest.raises(PaymentDeclinedError, match=r"no longer covers 10\.01 EUR"),
        db.transaction() as conn,
    ):
        debit_gift_card(conn, ANN, "gift", 1001, "EUR")
    assert balance() == 1000  # nothing taken
    with db.transaction() as conn:
        assert credit_gift_card(conn, ANN, "gift", 500)
        assert not credit_gift_card(conn, ANN, "visa", 500)  # not a gift card: nothing written
    assert balance() == 1500

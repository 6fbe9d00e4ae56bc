"""A store exported from the database is the store that was imported, and importing an export gives the same
export again: the demo store, a store with pricing rules, and orders placed at checkout with discount codes,
a shipping option, a carrier's tracking number, a return and an item change."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.commerce.conftest import ANN, SHOP, store_data
from tests.commerce.test_checkout_pricing import RULES, buy

from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.formats import demo_store_path, dump_ponder, load_store
from ponder.commerce.model import (
    Category,
    Customer,
    OrderDiscount,
    OrderEvent,
    PaymentRecord,
    StoreData,
    Variant,
)
from ponder.commerce.orders import OrderBook
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.store_export import export_store
from ponder.errors import NotFoundError
from ponder.memory.owner import Owner
from ponder.memory.users import UserStore
from ponder.store import open_database
from ponder.store.database import Database
from ponder.testing import HashingEmbedder

AGAIN = "again"  # the account an export is imported into
T = TypeVar("T")


def in_database_order(store: StoreData) -> StoreData:
    """``store`` in the order an export gives it: what the database keeps no order of, sorted by id."""
    return dataclasses.replace(
        store,
        categories=by(store.categories, lambda c: c.id),
        products=by(
            (dataclasses.replace(p, variants=by(p.variants, lambda v: v.id)) for p in store.products),
            lambda p: p.id,
        ),
        customers=by(
            (
                dataclasses.replace(
                    c,
                    addresses=by(c.addresses, lambda a: a.id),
                    payment_methods=by(c.payment_methods, lambda m: m.id),
                )
                for c in store.customers
            ),
            lambda c: c.user_id,
        ),
        orders=by(store.orders, lambda o: (o.created_at or 0.0, o.id)),
    )


def by(items: Iterable[T], key: Callable[[T], Any]) -> tuple[T, ...]:
    return tuple(sorted(items, key=key))


def reimported(db: Database, exported: StoreData, tmp_path: Path) -> StoreData:
    """``exported`` written to a store file, loaded, imported into another account and exported again."""
    loaded = load_store(dump_ponder(exported, tmp_path / "store.json"))
    assert loaded == exported
    Catalog(db, HashingEmbedder()).import_store(AGAIN, loaded)
    return export_store(db, AGAIN)


def priced_store(provider: TestPaymentProvider) -> StoreData:
    """The test store with its pricing rules, its umbrella's category, and a cheap shirt to change to."""
    base = store_data(provider)
    cheap = Variant("shirt-s", "linen-shirt", {"size": "S"}, 300, stock=5)
    return dataclasses.replace(
        base,
        categories=(*base.categories, Category("outdoor", "Outdoor")),
        products=tuple(
            dataclasses.replace(p, variants=(*p.variants, cheap)) if p.id == "linen-shirt" else p
            for p in base.products
        ),
        **RULES,
    )


def priced_shop(database_url: str) -> tuple[Database, Checkout, TestPaymentProvider, OrderBook]:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    Catalog(db, HashingEmbedder()).import_store(SHOP, priced_store(provider))
    return db, Checkout(db, provider), provider, OrderBook(db, provider)


def test_the_demo_store_comes_back_out_as_it_went_in(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    demo = load_store(demo_store_path())
    Catalog(db, HashingEmbedder()).import_store(SHOP, demo)
    exported = export_store(db, SHOP)
    assert exported == in_database_order(demo)
    assert reimported(db, exported, tmp_path) == exported


def test_a_store_with_pricing_rules_comes_back_out_as_it_went_in(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url)
    store = priced_store(TestPaymentProvider())
    Catalog(db, HashingEmbedder()).import_store(SHOP, store)
    exported = export_store(db, SHOP)
    assert exported.discount_codes == RULES["discount_codes"]  # in the file's order
    assert exported.shipping_options == RULES["shipping_options"]
    (order,) = exported.orders
    assert order.created_at is not None  # the file had none: the import's time
    placed = dataclasses.replace(store.orders[0], created_at=order.created_at)
    assert exported == in_database_order(dataclasses.replace(store, orders=(placed,)))
    assert reimported(db, exported, tmp_path) == exported


def test_an_order_placed_at_checkout_keeps_its_discounts_shipping_and_history(
    database_url: str, tmp_path: Path
) -> None:
    db, checkout, provider, book = priced_shop(database_url)
    shirt_and_shoes = (LineItem("shirt-m", 1), LineItem("esp-40", 1))
    placed = buy(checkout, "k1", *shirt_and_shoes, codes=["TENOFF"], shipping_option="exp")
    book.advance(SHOP, placed["id"], "processed", carrier="DHL", tracking_number="JD014600003")

    exported = export_store(db, SHOP)
    order = next(o for o in exported.orders if o.id == placed["id"])
    assert (order.shipping, order.shipping_option) == (1500, "exp")
    [discount] = placed["discounts"]
    assert order.discounts == (OrderDiscount(discount["title"], 750, "TENOFF"),)
    assert [(i.variant_id, i.discount) for i in order.items] == [
        (i["variant_id"], i["discount"]) for i in placed["items"]
    ]
    assert sum(i.discount for i in order.items) == 750
    assert [(e.status, e.carrier, e.tracking_number) for e in order.history] == [
        ("pending", "", ""),
        ("processed", "DHL", "JD014600003"),
    ]
    [charge] = provider.charges()
    assert order.payments == (PaymentRecord("charge", 7500 - 750 + 1500, "visa", charge.id),)
    assert order.total is None  # what it was charged

    assert reimported(db, exported, tmp_path) == exported
    # Imported again, the order is the same to its customer and to the store, history and all.
    assert book.get(Owner(AGAIN, "ann"), order.id) == book.get(ANN, order.id)


def test_orders_changed_after_checkout_keep_item_states_refunds_and_their_total(
    database_url: str, tmp_path: Path
) -> None:
    db, checkout, _, book = priced_shop(database_url)
    returned = buy(checkout, "k1", LineItem("shirt-m", 1), LineItem("esp-40", 1), codes=["TENOFF"])
    book.advance(SHOP, returned["id"], "delivered", note="left at the door")
    book.return_items(ANN, returned["id"], [0], "too small")
    changed = buy(checkout, "k2", codes=["FIVE"])
    book.modify_items(ANN, changed["id"], [(0, "shirt-s")], "visa")  # cheaper: part of it refunded

    exported = export_store(db, SHOP)
    orders = {o.id: o for o in exported.orders}
    back = orders[returned["id"]]
    assert back.status == "return requested"
    assert [i.state for i in back.items] == ["returned", "ordered"]
    assert [(p.kind, bool(p.reference), p.at is None) for p in back.payments] == [
        ("charge", True, True),  # made when the order was
        ("refund", True, False),
    ]
    assert back.history[1] == OrderEvent("delivered", back.history[1].at, "left at the door")
    assert orders[changed["id"]].total == 400  # no longer what was charged: the shipping alone is left

    assert reimported(db, exported, tmp_path) == exported
    for order_id in (returned["id"], changed["id"]):
        assert book.get(Owner(AGAIN, "ann"), order_id) == book.get(ANN, order_id)


def test_a_card_order_imported_again_is_refunded_through_the_charge_it_was_paid_with(
    database_url: str, tmp_path: Path
) -> None:
    db, checkout, provider, book = priced_shop(database_url)
    placed = buy(checkout, "k1")
    reimported(db, export_store(db, SHOP), tmp_path)
    book.cancel(Owner(AGAIN, "ann"), placed["id"], "changed my mind")
    [refund] = provider.refunds()
    assert (refund.charge_id, refund.amount) == (provider.charges()[0].id, placed["total"])


def test_a_forgotten_customer_keeps_their_orders_and_stays_forgotten(
    database_url: str, tmp_path: Path
) -> None:
    db, checkout, _, _ = priced_shop(database_url)
    placed = buy(checkout, "k1")
    UserStore(db).forget(ANN)

    exported = export_store(db, SHOP)
    assert Customer("ann", forgotten=True) in exported.customers
    orders = {o.id: o for o in exported.orders}
    assert orders[placed["id"]].address is None and orders["#W1"].payments[0].method_id == "gift"
    assert reimported(db, exported, tmp_path) == exported  # it loads: the methods it names are gone
    assert not UserStore(db).exists(Owner(AGAIN, "ann"))


def test_an_account_without_a_store_has_nothing_to_export(database_url: str) -> None:
    with pytest.raises(NotFoundError, match="no store to export"):
        export_store(open_database(database_url), "nobody")

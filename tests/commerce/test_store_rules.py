"""A store's rules as data (issue 21 item 2): kept by its file, its import and its export, set to tau2's
policy by a tau2 import, and enforced by the operations: cancel reasons, items changed once or more, a
cancel after a change, changes of payment method."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ponder.commerce.checkout import LineItem
from ponder.commerce.formats import dump_ponder, load_store
from ponder.commerce.formats.tau2 import TAU2_RULES
from ponder.commerce.model import StoreData, StoreRules
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.store_export import export_store
from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

from .conftest import ANN, SHOP, store_data

TAU2_SAMPLE = Path(__file__).parent / "data" / "tau2_retail_sample.json"
STRICT = StoreRules(
    cancel_reasons=("no longer needed", "ordered by mistake"),
    item_changes="once",
    cancel_after_change=False,
    payment_changes=False,
    identify_by=("email",),
    return_refunds_to=("paying_method", "gift_card"),
    difference_refunds_to=("any_method",),
)


def shop_with(database_url: str, rules: StoreRules) -> Shop:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    shop = Shop(db, HashingEmbedder(), provider)
    shop.catalog.import_store(SHOP, dataclasses.replace(store_data(provider), rules=rules))
    with db.transaction() as conn:  # another size in stock, to change an item to
        conn.execute(sql("UPDATE variants SET stock = 3 WHERE account = :a AND id = 'shirt-l'"), {"a": SHOP})
    return shop


def pending(shop: Shop, key: str = "k") -> str:
    order = shop.checkout.place_order(
        ANN, [LineItem("shirt-m", 1)], address_id="home", payment_method_id="visa", idempotency_key=key
    )
    return str(order["id"])


def test_rules_survive_the_store_file_the_import_and_the_export(database_url: str, tmp_path: Path) -> None:
    shop = shop_with(database_url, STRICT)
    assert shop.rules(SHOP) == STRICT
    exported = export_store(shop.db, SHOP)
    assert exported.rules == STRICT
    written = dump_ponder(StoreData("Rules", rules=exported.rules), tmp_path / "store.json")
    assert load_store(written).rules == STRICT
    assert shop_with(database_url, StoreRules()).rules(SHOP) == StoreRules()  # the defaults: nothing stored


def test_a_cancel_is_taken_for_the_stores_reasons_only_spelled_its_way(database_url: str) -> None:
    shop = shop_with(database_url, STRICT)
    order_id = pending(shop)
    with pytest.raises(UserError, match="'no longer needed', 'ordered by mistake'"):
        shop.actions.propose_cancel(ANN, order_id, "found it cheaper")
    action, token = shop.actions.propose_cancel(ANN, order_id, "  No longer   NEEDED ")
    shop.actions.confirm(ANN, action.id, token)
    assert shop.orders.get(ANN, order_id)["history"][-1]["note"] == "cancelled: no longer needed"


def test_items_change_once_and_then_the_order_is_not_cancelled_where_the_store_says_so(database_url) -> None:
    shop = shop_with(database_url, STRICT)
    order_id = pending(shop)
    action, token = shop.actions.propose_modify(ANN, order_id, [(0, "shirt-l")], "visa")
    shop.actions.confirm(ANN, action.id, token)
    with pytest.raises(ConflictError, match="only once in this store"):
        shop.actions.propose_modify(ANN, order_id, [(0, "shirt-m")], "visa")
    with pytest.raises(ConflictError, match="does not cancel an order after that"):
        shop.actions.propose_cancel(ANN, order_id, "no longer needed")
    with pytest.raises(UserError, match="does not change the payment method"):
        shop.actions.propose_change_payment(ANN, order_id, "gift")


def test_a_store_that_allows_it_changes_items_again_and_cancels_after(database_url: str) -> None:
    shop = shop_with(database_url, StoreRules(item_changes="many"))
    order_id = pending(shop)
    for size in ("shirt-l", "shirt-m"):
        action, token = shop.actions.propose_modify(ANN, order_id, [(0, size)], "visa")
        shop.actions.confirm(ANN, action.id, token)
    action, token = shop.actions.propose_cancel(ANN, order_id, "any reason at all")
    assert shop.actions.confirm(ANN, action.id, token).status == "done"


def test_a_tau2_import_keeps_its_policy_and_what_pending_item_modified_means(database_url: str) -> None:
    db = open_database(database_url)
    shop = Shop(db, HashingEmbedder(), TestPaymentProvider())
    shop.catalog.import_store("t", load_store(TAU2_SAMPLE))
    assert shop.rules("t") == TAU2_RULES
    mia = Owner("t", "mia_garcia_4516")
    with pytest.raises(ConflictError, match="already changed once"):
        shop.actions.propose_modify(mia, "#W5490111", [(0, "7199146548")], "gift_card_7713497")
    with pytest.raises(ConflictError, match="does not cancel"):
        shop.actions.propose_cancel(mia, "#W5490111", "no longer needed")
    cancelled = shop.orders.get(Owner("t", "noah_brown_6181"), "#W4197894")
    assert cancelled["history"][-1]["note"].startswith("cancelled: ")

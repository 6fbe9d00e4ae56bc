"""tau2-bench retail databases load into the model (cents, statuses, payment methods, categories), and
bad ones are refused with their place."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ponder.commerce.formats import load_store, load_tau2
from ponder.commerce.model import ORDER_STATUSES

from .conftest import TAU2_SAMPLE, Doc, refusal, set_at, tau2_doc, write


def test_tau2_sample_loads_with_cents_statuses_payment_methods_and_categories() -> None:
    store = load_store(TAU2_SAMPLE)

    assert (len(store.products), len(store.customers), len(store.orders)) == (4, 2, 4)
    assert sum(len(p.variants) for p in store.products) == 7
    assert store.currency == "USD"
    # One category per distinct product name, its id a slug; every product is in its own.
    assert [(c.id, c.name) for c in store.categories] == [
        ("t-shirt", "T-Shirt"),
        ("running-shoes", "Running Shoes"),
        ("notebook", "Notebook"),
        ("water-bottle", "Water Bottle"),
    ]
    assert {p.name: p.category for p in store.products}["Running Shoes"] == "running-shoes"

    variants = {v.id: v for p in store.products for v in p.variants}
    # Floats whose naive *100 truncates wrongly (28.59 * 100 = 2858.99...) come out exact.
    assert variants["9799386954"].price == 2859
    assert variants["7199146548"].price == 2015
    assert variants["9612497925"].price == 5088
    assert variants["5047954489"].available is False
    assert variants["9612497925"].options == {
        "color": "blue",
        "size": "M",
        "material": "cotton",
        "style": "crew neck",
    }
    assert variants["9612497925"].product_id == "9523456873"

    noah, mia = store.customers
    assert (noah.user_id, noah.name, noah.email) == (
        "noah_brown_6181",
        "Noah Brown",
        "noah.brown7922@example.com",
    )
    (home,) = noah.addresses
    assert (home.id, home.line1, home.line2, home.city, home.state, home.zip, home.country) == (
        "default",
        "986 Sunset Drive",
        "Suite 259",
        "Denver",
        "CO",
        "80279",
        "USA",
    )
    card, paypal = noah.payment_methods
    assert (card.kind, card.token, card.brand, card.last4, card.balance) == (
        "card",
        "tok_test_credit_card_7815826",
        "visa",
        "3209",
        None,
    )
    assert (paypal.kind, paypal.token) == ("paypal", "tok_test_paypal_5727330")
    gift = mia.payment_methods[0]
    assert (gift.id, gift.kind, gift.balance, gift.token) == ("gift_card_7713497", "gift_card", 5360, "")

    orders = {o.id: o for o in store.orders}
    assert {o.id: o.status for o in store.orders} == {
        "#W7678072": "delivered",
        "#W4197894": "cancelled",
        "#W5490111": "pending",  # "pending (item modified)"
        "#W2611340": "exchange requested",
    }
    assert all(o.status in ORDER_STATUSES for o in store.orders)
    delivered = orders["#W7678072"]
    # Repeated lines stay separate items of quantity 1.
    assert [(i.variant_id, i.price, i.quantity) for i in delivered.items] == [
        ("9612497925", 5088, 1),
        ("9799386954", 2859, 1),
        ("9799386954", 2859, 1),
    ]
    assert [(p.kind, p.amount, p.method_id) for p in delivered.payments] == [
        ("charge", 10806, "credit_card_7815826")
    ]
    assert [p.kind for p in orders["#W4197894"].payments] == ["charge", "refund"]
    # An order shipped to the user's address reuses it; one shipped elsewhere has its own.
    assert delivered.address == home
    elsewhere = orders["#W5490111"].address
    assert elsewhere is not None and (elsewhere.id, elsewhere.line1, elsewhere.name) == (
        "shipping",
        "101 Willow Lane",
        "Mia Garcia",
    )
    # tau2 keeps no times: each user's list of orders is kept as their order, a second apart.
    mias = [o for o in store.orders if o.user_id == "mia_garcia_4516"]
    assert all(o.created_at is not None for o in mias)
    assert [o.id for o in sorted(mias, key=lambda o: o.created_at or 0)] == ["#W5490111", "#W2611340"]


def test_tau2_dollars_round_half_even_to_the_cent(tmp_path: Path) -> None:
    doc = tau2_doc()
    variants = doc["products"]["8310926033"]["variants"]
    variants["6777246137"]["price"] = 0.125
    variants["7199146548"]["price"] = 2.675  # 267.49999999999997 as a float times 100
    doc["products"]["2892623495"]["variants"]["9799386954"]["price"] = 19
    store = load_store(write(tmp_path / "db.json", doc))
    prices = {v.id: v.price for p in store.products for v in p.variants}
    assert prices["6777246137"] == 12  # half to even, not up
    assert prices["7199146548"] == 268
    assert prices["9799386954"] == 1900


def test_tau2_directory_reads_db_json_and_its_policy(tmp_path: Path) -> None:
    shutil.copy(TAU2_SAMPLE, tmp_path / "db.json")
    (tmp_path / "policy.md").write_text("# Retail agent policy\n\nBe kind.\n", encoding="utf-8")
    assert load_store(tmp_path).policy == "# Retail agent policy\n\nBe kind."
    assert load_tau2(tmp_path / "db.json", name="Shop", policy="Mine").policy == "Mine"
    assert load_tau2(tmp_path, name="Shop").name == "Shop"


def test_tau2_category_slugs_stay_unique(tmp_path: Path) -> None:
    doc = tau2_doc()
    doc["products"]["2892623495"]["name"] = "T Shirt"  # slugs like "T-Shirt"
    store = load_store(write(tmp_path / "db.json", doc))
    assert [c.id for c in store.categories] == ["t-shirt", "running-shoes", "t-shirt-2", "water-bottle"]


TAU2_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    (
        "negative price",
        set_at("products.9523456873.variants.9612497925.price", -1.5),
        'products["9523456873"].variants["9612497925"].price: Input should be greater than or equal to 0',
    ),
    (
        "no variants",
        set_at("products.2892623495.variants", {}),
        'products["2892623495"].variants: a product needs at least one variant',
    ),
    (
        "key mismatch",
        set_at("products.2892623495.product_id", "1"),
        "products[\"2892623495\"].product_id: '1' is not the key it is filed under",
    ),
    (
        "duplicate item",
        lambda d: d["products"]["2892623495"]["variants"].update(
            {"9612497925": {"item_id": "9612497925", "options": {}, "available": True, "price": 1.0}}
        ),
        'products["2892623495"].variants["9612497925"].item_id: duplicate item id',
    ),
    (
        "unknown user",
        set_at("orders.#W7678072.user_id", "ghost_1"),
        'orders["#W7678072"].user_id: unknown user',
    ),
    (
        "unknown item",
        set_at("orders.#W7678072.items.1.item_id", "123"),
        "orders[\"#W7678072\"].items[1].item_id: unknown item '123'",
    ),
    (
        "item of another product",
        set_at("orders.#W7678072.items.0.product_id", "6938111410"),
        "orders[\"#W7678072\"].items[0].product_id: item '9612497925' is of product '9523456873'",
    ),
    (
        "unknown payment method",
        set_at("orders.#W4197894.payment_history.0.payment_method_id", "gift_card_1"),
        "orders[\"#W4197894\"].payment_history[0].payment_method_id: 'noah_brown_6181' has no payment method",
    ),
    (
        "unknown payment source",
        set_at("users.noah_brown_6181.payment_methods.paypal_5727330.source", "certificate"),
        'users["noah_brown_6181"].payment_methods["paypal_5727330"].source: Input should be',
    ),
    ("status", set_at("orders.#W7678072.status", "shipped"), 'orders["#W7678072"].status: Input should be'),
    (
        "price as text",
        set_at("orders.#W7678072.items.0.price", "50.88"),
        'orders["#W7678072"].items[0].price: Input should be a valid number (got "50.88")',
    ),
    ("missing orders", lambda d: d.pop("orders"), "unknown store format"),
    (
        "price past the limit",
        set_at("products.9523456873.variants.9612497925.price", 1e40),
        'products["9523456873"].variants["9612497925"].price: Input should be less than or equal to 1000000',
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in TAU2_CASES], ids=[c[0] for c in TAU2_CASES])
def test_bad_tau2_db_names_the_place(tmp_path: Path, mutate: Callable[[Doc], None], expected: str) -> None:
    doc = tau2_doc()
    mutate(doc)
    message = refusal(write(tmp_path / "db.json", doc))
    assert expected in message
    if expected != "unknown store format":
        assert f"db.json: {expected}" in message

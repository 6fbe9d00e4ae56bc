"""Ponder stores load into the model and survive a round trip, the shipped demo store is sane, and bad
stores (inline or with a products JSONL file) are refused with their file and place."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.commerce.formats import StoreFormatError, demo_store_path, dump_ponder, load_ponder, load_store
from ponder.commerce.model import Customer, OrderDiscount, OrderEvent, PaymentRecord, StoreData

from .conftest import TAU2_SAMPLE, Doc, ponder_doc, refusal, set_at, write


def test_ponder_store_loads_with_defaults_from_the_catalog(tmp_path: Path) -> None:
    store = load_store(write(tmp_path / "store.json", ponder_doc()))

    assert (store.name, store.currency, store.policy) == ("Test shop", "EUR", "Returns within 30 days.")
    tee = store.products[0]
    assert tee.attributes == {"material": "cotton", "weight_g": 180, "organic": True, "rating": 4.5}
    assert [(v.id, v.product_id, v.price, v.stock, v.available) for v in tee.variants] == [
        ("tee-red-m", "tee", 1999, 3, True),
        ("tee-red-l", "tee", 1999, None, False),
    ]
    (order,) = store.orders
    (item,) = order.items
    # Product, name and options come from the variant; the price is what was paid.
    assert (item.product_id, item.name, item.options, item.price, item.quantity) == (
        "tee",
        "Tee",
        {"color": "red", "size": "M"},
        1799,
        2,
    )
    assert order.address == store.customers[0].addresses[0]
    assert order.created_at == 1746100800.0


def test_ponder_round_trip_gives_an_equal_store(tmp_path: Path) -> None:
    for source in (write(tmp_path / "in.json", ponder_doc()), TAU2_SAMPLE, demo_store_path()):
        store = load_store(source)
        out = tmp_path / source.stem
        out.mkdir()
        written = dump_ponder(store, out)
        assert written == out / "store.json"
        assert load_store(out) == store
        assert load_ponder(written) == store


def test_ponder_round_trip_with_products_in_jsonl(tmp_path: Path) -> None:
    store = load_store(demo_store_path())
    written = dump_ponder(store, tmp_path / "shop.json", products_file="catalog.jsonl")
    doc = json.loads(written.read_text(encoding="utf-8"))
    assert "products" not in doc and doc["products_file"] == "catalog.jsonl"
    lines = (tmp_path / "catalog.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(store.products)
    assert load_store(written) == store


def test_round_trip_keeps_an_order_item_that_differs_from_the_catalog(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["orders"][0]["items"][0].update(name="Tee (old name)", options={"colour": "rouge"})
    store = load_store(write(tmp_path / "in.json", doc))
    assert store.orders[0].items[0].name == "Tee (old name)"
    assert load_store(dump_ponder(store, tmp_path / "out.json")) == store


PRICING_RULES: Doc = {
    "discount_codes": [
        {"code": "WELCOME10", "kind": "percentage", "value": 10, "title": "Welcome, 10% off"},
        {
            "code": "SPRING5",
            "kind": "fixed_amount",
            "value": 500,
            "min_subtotal": 3000,
            "expires_at": "2026-06-01T00:00:00+00:00",
        },
        {"code": "OLD", "kind": "percentage", "value": 50, "active": False},
    ],
    "shipping_options": [
        {
            "id": "eu",
            "title": "EU standard",
            "price": 490,
            "countries": ["FR", "DE"],
            "service_level": "standard",
        },
        {"id": "world", "title": "Worldwide", "price": 1990},
    ],
    "promotions": [
        {
            "id": "free-eu",
            "kind": "free_shipping",
            "title": "Free EU shipping",
            "min_subtotal": 5000,
            "shipping_options": ["eu"],
        },
        {"id": "roses-ship-free", "kind": "free_shipping", "title": "Roses ship free", "items": ["roses"]},
    ],
}


def test_discount_codes_shipping_options_and_promotions_load_and_round_trip(tmp_path: Path) -> None:
    store = load_store(write(tmp_path / "in.json", ponder_doc() | PRICING_RULES))
    assert [
        (c.code, c.kind, c.value, c.min_subtotal, c.expires_at, c.active) for c in store.discount_codes
    ] == [
        ("WELCOME10", "percentage", 10, None, None, True),
        ("SPRING5", "fixed_amount", 500, 3000, 1780272000.0, True),
        ("OLD", "percentage", 50, None, None, False),
    ]
    assert [(o.id, o.price, o.countries, o.service_level) for o in store.shipping_options] == [
        ("eu", 490, ("FR", "DE"), "standard"),
        ("world", 1990, (), ""),
    ]
    promotion, roses = store.promotions
    assert (promotion.kind, promotion.min_subtotal, promotion.shipping_options, promotion.items) == (
        "free_shipping",
        5000,
        ("eu",),
        (),
    )
    assert roses.items == ("roses",) and roses.min_subtotal == 0
    written = dump_ponder(store, tmp_path / "out.json")
    doc = json.loads(written.read_text(encoding="utf-8"))
    assert [c["code"] for c in doc["discount_codes"]] == ["WELCOME10", "SPRING5", "OLD"]
    assert doc["shipping_options"][1] == {"id": "world", "title": "Worldwide", "price": 1990}
    assert load_store(written) == store


def test_an_older_store_file_without_pricing_rules_loads_with_none(tmp_path: Path) -> None:
    store = load_store(write(tmp_path / "store.json", ponder_doc()))
    assert (store.discount_codes, store.shipping_options, store.promotions) == ((), (), ())
    doc = json.loads(dump_ponder(store, tmp_path / "out.json").read_text(encoding="utf-8"))
    assert not {"discount_codes", "shipping_options", "promotions"} & doc.keys()


# An order as checkout placed it and an export writes it: discounts, shipping, a return, refunds with the
# provider's references, and its history; and one paid with a card given for that order alone.
CHECKOUT_ORDERS: list[Doc] = [
    {
        "id": "o2",
        "user_id": "ann",
        "status": "return requested",
        "items": [
            {"variant_id": "tee-red-m", "price": 1999, "discount": 199, "state": "returned"},
            {"variant_id": "clog-40", "price": 4500, "discount": 450},
        ],
        "address": {"id": "home", "line1": "1 Quay", "city": "Brest", "country": "FR"},
        "payments": [
            {"kind": "charge", "amount": 6340, "method_id": "visa", "reference": "ch_1"},
            {"kind": "refund", "amount": 1800, "method_id": "visa", "reference": "re_1", "at": 1750000000},
        ],
        "created_at": 1746100800,
        "shipping": 490,
        "shipping_option": "eu",
        "discounts": [{"title": "Welcome, 10% off", "amount": 649, "code": "WELCOME10"}],
        "history": [
            {"status": "pending", "at": 1746100800, "note": "placed"},
            {"status": "processed", "at": 1746200000, "carrier": "DHL", "tracking_number": "JD0146"},
            {"status": "delivered", "at": 1746400000},
            {"status": "return requested", "at": 1750000000, "note": "returned 1 item"},
        ],
    },
    {
        "id": "o3",
        "user_id": "ann",
        "status": "pending",
        "items": [{"variant_id": "clog-40", "price": 4500}],
        "address": {"line1": "9 Pier", "city": "Brest", "country": "FR"},  # given for this order: no id
        "payments": [{"kind": "charge", "amount": 4500, "method_id": "agent-card", "reference": "ch_2"}],
        "total": 4000,
    },
]


def test_an_order_with_what_checkout_priced_and_its_history_loads_and_round_trips(tmp_path: Path) -> None:
    doc = ponder_doc() | PRICING_RULES
    doc["orders"] += CHECKOUT_ORDERS
    store = load_store(write(tmp_path / "in.json", doc))
    imported, returned, given = store.orders
    assert (imported.shipping, imported.discounts, imported.history, imported.total) == (0, (), (), None)
    assert [(i.discount, i.state) for i in returned.items] == [(199, "returned"), (450, "ordered")]
    assert (returned.shipping, returned.shipping_option) == (490, "eu")
    assert returned.discounts == (OrderDiscount("Welcome, 10% off", 649, "WELCOME10"),)
    assert returned.payments[1] == PaymentRecord("refund", 1800, "visa", "re_1", 1750000000.0)
    assert returned.history[1] == OrderEvent("processed", 1746200000.0, "", "DHL", "JD0146")
    assert (given.address and given.address.id, given.total) == ("", 4000)
    assert load_store(dump_ponder(store, tmp_path / "out.json")) == store


def test_a_forgotten_customer_has_only_an_id_and_their_orders_name_methods_that_are_gone(
    tmp_path: Path,
) -> None:
    doc = ponder_doc()
    doc["customers"] = [{"user_id": "ann", "forgotten": True}]
    doc["orders"][0].pop("address_id")
    store = load_store(write(tmp_path / "in.json", doc))
    assert store.customers == (Customer("ann", forgotten=True),)
    assert store.orders[0].payments[0].method_id == "visa"
    assert load_store(dump_ponder(store, tmp_path / "out.json")) == store


def test_dump_refuses_a_products_file_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file name"):
        dump_ponder(StoreData(name="x"), tmp_path / "store.json", products_file="../p.jsonl")


def test_demo_store_is_sane() -> None:
    path = demo_store_path()
    assert path.stat().st_size < 250_000
    store = load_store(path)

    assert 60 <= len(store.products) <= 80
    used = {p.category for p in store.products}
    assert len(used) >= 8 and used <= {c.id for c in store.categories}
    assert len({p.id for p in store.products}) == len(store.products)
    for product in store.products:
        assert 1 <= len(product.variants) <= 6, product.id
        assert product.description and product.attributes, product.id
        for v in product.variants:
            assert v.price > 0 and v.product_id == product.id, v.id
    variants = {v.id: v for p in store.products for v in p.variants}
    assert any(v.stock == 0 for v in variants.values())
    assert any(not v.available for v in variants.values())
    assert any(p.reviews for p in store.products)

    customers = {c.user_id: c for c in store.customers}
    assert 3 <= len(customers) <= 4
    for c in customers.values():
        assert c.addresses and c.payment_methods
        for m in c.payment_methods:
            assert m.kind == "gift_card" or m.token.startswith("tok_test_"), m.id
    assert sum(m.kind == "gift_card" for c in customers.values() for m in c.payment_methods) == 1
    assert len({o.status for o in store.orders}) >= 4
    for order in store.orders:
        customer = customers[order.user_id]
        assert order.address in customer.addresses
        for item in order.items:
            assert variants[item.variant_id].product_id == item.product_id
        charged = sum(p.amount for p in order.payments if p.kind == "charge")
        assert charged == sum(i.price * i.quantity for i in order.items), order.id
        assert {p.method_id for p in order.payments} <= {m.id for m in customer.payment_methods}
    assert "30 days" in store.policy


def test_demo_store_dresses_a_coastal_wedding() -> None:
    store = load_store(demo_store_path())
    for_weddings = [
        p.name.lower() for p in store.products if "wedding" in str(p.attributes.get("occasion", ""))
    ]
    for wanted in ("linen suit", "sundress", "espadrille"):
        assert any(wanted in name for name in for_weddings), wanted


PONDER_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    (
        "no variants",
        set_at("products.1.variants", []),
        "products[1].variants: a product needs at least one variant",
    ),
    (
        "negative price",
        set_at("products.0.variants.1.price", -100),
        "products[0].variants[1].price: Input should be greater than or equal to 0",
    ),
    (
        "dollars, not cents",
        set_at("products.1.variants.0.price", 45.5),
        "products[1].variants[0].price: Input should be a valid integer (got 45.5); money is an integer",
    ),
    (
        "variant of another product",
        set_at("products.1.variants.0.product_id", "boot"),
        "products[1].variants[0].product_id: names product 'boot' but is listed under 'clog'",
    ),
    ("duplicate product", set_at("products.1.id", "tee"), "products[1].id: duplicate product id 'tee'"),
    (
        "duplicate variant",
        set_at("products.1.variants.0.id", "tee-red-m"),
        "products[1].variants[0].id: duplicate",
    ),
    (
        "unknown category",
        set_at("products.1.category", "boots"),
        "products[1].category: unknown category 'boots'",
    ),
    (
        "category cycle",
        set_at("categories.0.parent", "shoes"),
        "categories[0].parent: category 'clothing' is its own",
    ),
    (
        "attribute list",
        set_at("products.0.attributes.sizes", ["S", "M"]),
        'products[0].attributes["sizes"]: must be a string, a number or true/false, not a list',
    ),
    ("typo", set_at("products.0.varients", []), "products[0].varients: Extra inputs are not permitted"),
    (
        "rating",
        set_at("products.0.reviews.0.rating", 6),
        "products[0].reviews[0].rating: Input should be less than",
    ),
    ("unknown user", set_at("orders.0.user_id", "bob"), "orders[0].user_id: unknown user 'bob'"),
    (
        "unknown variant",
        set_at("orders.0.items.0.variant_id", "tee-blue-s"),
        "orders[0].items[0].variant_id: unknown variant 'tee-blue-s'",
    ),
    (
        "item of another product",
        set_at("orders.0.items.0.product_id", "clog"),
        "orders[0].items[0].product_id: variant 'tee-red-m' is of product 'tee', not 'clog'",
    ),
    ("status", set_at("orders.0.status", "shipped"), "orders[0].status: Input should be 'pending'"),
    ("no items", set_at("orders.0.items", []), "orders[0].items: an order needs at least one item"),
    (
        "unknown address",
        set_at("orders.0.address_id", "work"),
        "orders[0].address_id: 'ann' has no address 'work'",
    ),
    (
        "unknown payment method",
        set_at("orders.0.payments.0.method_id", "amex"),
        "orders[0].payments[0].method_id: 'ann' has no payment method 'amex'",
    ),
    (
        "naive time",
        set_at("orders.0.created_at", "2025-05-01T12:00:00"),
        "orders[0].created_at: '2025-05-01T12:00:00'",
    ),
    (
        "a discount above its line",
        set_at("orders.0.items.0.discount", 5000),
        "orders[0].items[0].discount: 5000 is more than the line's 3598 (price times quantity)",
    ),
    (
        "an unknown item state",
        set_at("orders.0.items.0.state", "lost"),
        "orders[0].items[0].state: Input should be 'ordered', 'returned' or 'exchanged'",
    ),
    (
        "a history row without its time",
        set_at("orders.0.history", [{"status": "delivered", "at": None}]),
        "orders[0].history[0].at: a row of the history needs its time",
    ),
    (
        "a payment reference on two lines",
        set_at("orders.0.payments.0.reference", "ch_1\nch_2"),
        "orders[0].payments[0].reference: Value error, a name is one line",
    ),
    (
        "a refund to a method neither saved nor charged through the provider",
        lambda d: d["orders"][0]["payments"].append(
            {"kind": "refund", "amount": 1, "method_id": "agent-card"}
        ),
        "orders[0].payments[1].method_id: 'ann' has no payment method 'agent-card'",
    ),
    (
        "a forgotten customer with a name",
        lambda d: d["customers"][0].update(forgotten=True),
        "customers[0]: a forgotten customer has nothing but their user_id",
    ),
    (
        "duplicate order",
        lambda d: d["orders"].append(copy.deepcopy(d["orders"][0])),
        "orders[1].id: duplicate order",
    ),
    (
        "duplicate user",
        lambda d: d["customers"].append(copy.deepcopy(d["customers"][0])),
        "customers[1].user_id: duplicate user id 'ann'",
    ),
    (
        "card without token",
        set_at("customers.0.payment_methods.0.token", ""),
        "customers[0].payment_methods[0]: a card",
    ),
    (
        "gift card without balance",
        set_at("customers.0.payment_methods.1.balance", None),
        "customers[0].payment_methods[1]: a gift card needs a balance",
    ),
    ("currency", set_at("currency", "euro"), "currency: String should match pattern"),
    (
        "price past the limit",
        set_at("products.0.variants.0.price", 10**40),
        "products[0].variants[0].price: Input should be less than or equal to 1000000000000",
    ),
    (
        "stock past the limit",
        set_at("products.0.variants.0.stock", 10**40),
        "products[0].variants[0].stock: Input should be less than or equal to 1000000000",
    ),
    (
        "gift card balance past the limit",
        set_at("customers.0.payment_methods.1.balance", 10**19),
        "customers[0].payment_methods[1].balance: Input should be less than or equal to",
    ),
    (
        "an order's items past the limit together",
        lambda d: d["orders"][0]["items"][0].update(price=10**12, quantity=2),
        "orders[0]: its items add up to more than 1,000,000,000,000 cents",
    ),
    (
        "a time past year 9999",
        set_at("orders.0.created_at", 1e40),
        "orders[0].created_at: 1e+40 is not a time between 1970 and 9999",
    ),
    (
        "a store name with an escape sequence",
        set_at("name", "Shop\x1b]0;owned\x07"),
        "name: Value error, a name is one line of text, without control characters",
    ),
    (
        "a product name on two lines",
        set_at("products.0.name", "Tee\nTotal 0.00 EUR"),
        "products[0].name: Value error, a name is one line",
    ),
    ("missing name", lambda d: d.pop("name"), "name: Field required"),
    (
        "a percentage over 100",
        lambda d: d.update(discount_codes=[{"code": "ALL", "kind": "percentage", "value": 150}]),
        "discount_codes[0].value: a percentage is at most 100, not 150",
    ),
    (
        "a code given twice in another case",
        lambda d: d.update(
            discount_codes=[
                {"code": "SAVE", "kind": "fixed_amount", "value": 100},
                {"code": "save", "kind": "fixed_amount", "value": 200},
            ]
        ),
        "discount_codes[1].code: duplicate code 'save' (codes ignore case)",
    ),
    (
        "an unknown kind of code",
        lambda d: d.update(discount_codes=[{"code": "X", "kind": "bogo", "value": 1}]),
        "discount_codes[0].kind: Input should be 'percentage' or 'fixed_amount'",
    ),
    (
        "an expiry without a timezone",
        lambda d: d.update(
            discount_codes=[
                {"code": "X", "kind": "percentage", "value": 5, "expires_at": "2026-01-01T00:00:00"}
            ]
        ),
        "discount_codes[0].expires_at: '2026-01-01T00:00:00' has no timezone",
    ),
    (
        "a country in lower case",
        lambda d: d.update(shipping_options=[{"id": "s", "title": "S", "price": 1, "countries": ["fr"]}]),
        "shipping_options[0].countries[0]: String should match pattern",
    ),
    (
        "a promotion of an unknown shipping option",
        lambda d: d.update(
            promotions=[{"id": "p", "kind": "free_shipping", "title": "Free", "shipping_options": ["nope"]}]
        ),
        "promotions[0].shipping_options[0]: unknown shipping option 'nope'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in PONDER_CASES], ids=[c[0] for c in PONDER_CASES]
)
def test_bad_ponder_store_names_the_place(
    tmp_path: Path, mutate: Callable[[Doc], None], expected: str
) -> None:
    doc = ponder_doc()
    mutate(doc)
    message = refusal(write(tmp_path / "store.json", doc))
    assert f"store.json: {expected}" in message


def test_bad_jsonl_products_name_their_lines(tmp_path: Path) -> None:
    doc = ponder_doc()
    products = doc.pop("products")
    doc["products_file"] = "products.jsonl"
    products[0]["category"] = "hats"
    products[1]["variants"][0]["price"] = -5
    (tmp_path / "products.jsonl").write_text(
        json.dumps(products[0]) + "\n\n{not json\n" + json.dumps(products[1]) + "\n", encoding="utf-8"
    )
    with pytest.raises(StoreFormatError) as caught:
        load_store(write(tmp_path / "store.json", doc))
    assert caught.value.problems == [
        "products.jsonl, line 3: invalid JSON at column 2: Expecting property name enclosed in double quotes",
        "products.jsonl, line 4: variants[0].price: Input should be greater than or equal to 0 (got -5)",
        "products.jsonl, line 1: category: unknown category 'hats'",
    ]


def test_products_and_a_products_file_are_not_both_allowed(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["products_file"] = "products.jsonl"
    assert "products_file: a store has products or a products_file, not both" in refusal(
        write(tmp_path / "store.json", doc)
    )


def test_missing_products_file(tmp_path: Path) -> None:
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    assert "products.jsonl: no such file" in refusal(write(tmp_path / "store.json", doc))


def test_json_nested_as_deep_as_the_reader_goes_is_refused_cleanly(tmp_path: Path) -> None:
    """Nesting the JSON reader still takes, in every field that takes any JSON value, is an ordinary
    problem of its place, not a crash."""
    deep: Any = "x"
    for _ in range(800):
        deep = [deep]
    doc = ponder_doc()
    doc["products"][0]["attributes"]["deep"] = deep
    doc["orders"][0]["created_at"] = deep
    doc["products"].append(deep)
    message = refusal(write(tmp_path / "store.json", doc))
    assert 'products[0].attributes["deep"]: must be a string, a number or true/false, not a list' in message
    assert "orders[0].created_at: must be seconds since 1970" in message
    assert "products[2]: Input should be a valid dictionary" in message

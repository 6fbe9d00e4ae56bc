"""Store files: tau2 retail databases and Ponder stores load into the model, a Ponder store survives a round
trip, the shipped demo store is sane, and every kind of bad input is refused with its file and place."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.commerce.formats import (
    MAX_REPORTED,
    StoreFormatError,
    demo_store_path,
    dump_ponder,
    load_ponder,
    load_store,
    load_tau2,
)
from ponder.commerce.model import ORDER_STATUSES, StoreData
from ponder.errors import UserError

TAU2_SAMPLE = Path(__file__).parent / "data" / "tau2_retail_sample.json"

Doc = dict[str, Any]


def tau2_doc() -> Doc:
    return json.loads(TAU2_SAMPLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def ponder_doc() -> Doc:
    """A small valid Ponder store, for mutating into bad ones."""
    return {
        "format": "ponder-store",
        "version": 1,
        "name": "Test shop",
        "currency": "EUR",
        "policy": "Returns within 30 days.",
        "categories": [
            {"id": "clothing", "name": "Clothing"},
            {"id": "shoes", "name": "Shoes", "parent": "clothing"},
        ],
        "products": [
            {
                "id": "tee",
                "name": "Tee",
                "category": "clothing",
                "attributes": {"material": "cotton", "weight_g": 180, "organic": True, "rating": 4.5},
                "reviews": [{"author": "ann", "rating": 5, "text": "Soft."}],
                "variants": [
                    {"id": "tee-red-m", "options": {"color": "red", "size": "M"}, "price": 1999, "stock": 3},
                    {
                        "id": "tee-red-l",
                        "options": {"color": "red", "size": "L"},
                        "price": 1999,
                        "available": False,
                    },
                ],
            },
            {
                "id": "clog",
                "name": "Clog",
                "category": "shoes",
                "variants": [{"id": "clog-40", "options": {"size": "40"}, "price": 4500}],
            },
        ],
        "customers": [
            {
                "user_id": "ann",
                "name": "Ann",
                "addresses": [{"id": "home", "line1": "1 Quay", "city": "Brest", "country": "FR"}],
                "payment_methods": [
                    {
                        "id": "visa",
                        "kind": "card",
                        "token": "tok_test_visa_4242",
                        "brand": "visa",
                        "last4": "4242",
                    },
                    {"id": "gift", "kind": "gift_card", "balance": 1000},
                ],
            }
        ],
        "orders": [
            {
                "id": "o1",
                "user_id": "ann",
                "status": "delivered",
                "items": [{"variant_id": "tee-red-m", "price": 1799, "quantity": 2}],
                "address_id": "home",
                "payments": [{"kind": "charge", "amount": 3598, "method_id": "visa"}],
                "created_at": "2025-05-01T12:00:00+00:00",
            }
        ],
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def refusal(path: Path, **kwargs: Any) -> str:
    with pytest.raises(StoreFormatError) as caught:
        load_store(path, **kwargs)
    assert isinstance(caught.value, UserError)
    return str(caught.value)


# --- tau2 retail -----------------------------------------------------------------------------------------


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
    assert orders["#W5490111"].created_at is None


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


# --- Ponder's format -------------------------------------------------------------------------------------


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


def test_dump_refuses_a_products_file_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file name"):
        dump_ponder(StoreData(name="x"), tmp_path / "store.json", products_file="../p.jsonl")


# --- the demo store --------------------------------------------------------------------------------------


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


# --- bad input -------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nope.json")
    assert "nope.json: no such file" in message


def test_directory_without_a_store(tmp_path: Path) -> None:
    assert "neither store.json nor db.json" in refusal(tmp_path)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text('{\n  "format": "ponder-store",\n  "version": 1\n  "name": "x"\n}\n', encoding="utf-8")
    assert "store.json: invalid JSON at line 4, column 3" in refusal(path)


def test_nan_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text(TAU2_SAMPLE.read_text(encoding="utf-8").replace("50.88", "NaN"), encoding="utf-8")
    assert "db.json: invalid JSON: NaN is not a JSON number" in refusal(path)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"products": {}, "users": {}}, "unknown store format"),
        ([1, 2], "unknown store format"),
        ({"format": "shopify-export", "version": 1}, "format: unknown store format 'shopify-export'"),
        ({"format": "ponder-store", "version": 2, "name": "x"}, "version: 2 is not one this Ponder reads"),
    ],
)
def test_unknown_format(tmp_path: Path, doc: Any, expected: str) -> None:
    assert expected in refusal(write(tmp_path / "x.json", doc))


def test_jsonl_alone_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    assert "holds products only" in refusal(path)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "store.json", ponder_doc())
    assert load_store(path, max_bytes=path.stat().st_size).name == "Test shop"
    message = refusal(path, max_bytes=100)
    assert "store.json:" in message and "over the limit of 100" in message


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets ``a.0.b`` (dots; numbers index lists) to ``value``."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


PONDER_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    (
        "no variants",
        _set("products.1.variants", []),
        "products[1].variants: a product needs at least one variant",
    ),
    (
        "negative price",
        _set("products.0.variants.1.price", -100),
        "products[0].variants[1].price: Input should be greater than or equal to 0",
    ),
    (
        "dollars, not cents",
        _set("products.1.variants.0.price", 45.5),
        "products[1].variants[0].price: Input should be a valid integer (got 45.5); money is an integer",
    ),
    (
        "variant of another product",
        _set("products.1.variants.0.product_id", "boot"),
        "products[1].variants[0].product_id: names product 'boot' but is listed under 'clog'",
    ),
    ("duplicate product", _set("products.1.id", "tee"), "products[1].id: duplicate product id 'tee'"),
    (
        "duplicate variant",
        _set("products.1.variants.0.id", "tee-red-m"),
        "products[1].variants[0].id: duplicate",
    ),
    (
        "unknown category",
        _set("products.1.category", "boots"),
        "products[1].category: unknown category 'boots'",
    ),
    (
        "category cycle",
        _set("categories.0.parent", "shoes"),
        "categories[0].parent: category 'clothing' is its own",
    ),
    (
        "attribute list",
        _set("products.0.attributes.sizes", ["S", "M"]),
        'products[0].attributes["sizes"]: must be a string, a number or true/false, not a list',
    ),
    ("typo", _set("products.0.varients", []), "products[0].varients: Extra inputs are not permitted"),
    (
        "rating",
        _set("products.0.reviews.0.rating", 6),
        "products[0].reviews[0].rating: Input should be less than",
    ),
    ("unknown user", _set("orders.0.user_id", "bob"), "orders[0].user_id: unknown user 'bob'"),
    (
        "unknown variant",
        _set("orders.0.items.0.variant_id", "tee-blue-s"),
        "orders[0].items[0].variant_id: unknown variant 'tee-blue-s'",
    ),
    (
        "item of another product",
        _set("orders.0.items.0.product_id", "clog"),
        "orders[0].items[0].product_id: variant 'tee-red-m' is of product 'tee', not 'clog'",
    ),
    ("status", _set("orders.0.status", "shipped"), "orders[0].status: Input should be 'pending'"),
    ("no items", _set("orders.0.items", []), "orders[0].items: an order needs at least one item"),
    (
        "unknown address",
        _set("orders.0.address_id", "work"),
        "orders[0].address_id: 'ann' has no address 'work'",
    ),
    (
        "unknown payment method",
        _set("orders.0.payments.0.method_id", "amex"),
        "orders[0].payments[0].method_id: 'ann' has no payment method 'amex'",
    ),
    (
        "naive time",
        _set("orders.0.created_at", "2025-05-01T12:00:00"),
        "orders[0].created_at: '2025-05-01T12:00:00'",
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
        _set("customers.0.payment_methods.0.token", ""),
        "customers[0].payment_methods[0]: a card",
    ),
    (
        "gift card without balance",
        _set("customers.0.payment_methods.1.balance", None),
        "customers[0].payment_methods[1]: a gift card needs a balance",
    ),
    ("currency", _set("currency", "euro"), "currency: String should match pattern"),
    (
        "price past the limit",
        _set("products.0.variants.0.price", 10**40),
        "products[0].variants[0].price: Input should be less than or equal to 1000000000000",
    ),
    (
        "stock past the limit",
        _set("products.0.variants.0.stock", 10**40),
        "products[0].variants[0].stock: Input should be less than or equal to 1000000000",
    ),
    (
        "gift card balance past the limit",
        _set("customers.0.payment_methods.1.balance", 10**19),
        "customers[0].payment_methods[1].balance: Input should be less than or equal to",
    ),
    (
        "an order's items past the limit together",
        lambda d: d["orders"][0]["items"][0].update(price=10**12, quantity=2),
        "orders[0]: its items add up to more than 1,000,000,000,000 cents",
    ),
    (
        "a time past year 9999",
        _set("orders.0.created_at", 1e40),
        "orders[0].created_at: 1e+40 is not a time between 1970 and 9999",
    ),
    (
        "a store name with an escape sequence",
        _set("name", "Shop\x1b]0;owned\x07"),
        "name: Value error, a name is one line of text, without control characters",
    ),
    (
        "a product name on two lines",
        _set("products.0.name", "Tee\nTotal 0.00 EUR"),
        "products[0].name: Value error, a name is one line",
    ),
    ("missing name", lambda d: d.pop("name"), "name: Field required"),
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


TAU2_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    (
        "negative price",
        _set("products.9523456873.variants.9612497925.price", -1.5),
        'products["9523456873"].variants["9612497925"].price: Input should be greater than or equal to 0',
    ),
    (
        "no variants",
        _set("products.2892623495.variants", {}),
        'products["2892623495"].variants: a product needs at least one variant',
    ),
    (
        "key mismatch",
        _set("products.2892623495.product_id", "1"),
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
        _set("orders.#W7678072.user_id", "ghost_1"),
        'orders["#W7678072"].user_id: unknown user',
    ),
    (
        "unknown item",
        _set("orders.#W7678072.items.1.item_id", "123"),
        "orders[\"#W7678072\"].items[1].item_id: unknown item '123'",
    ),
    (
        "item of another product",
        _set("orders.#W7678072.items.0.product_id", "6938111410"),
        "orders[\"#W7678072\"].items[0].product_id: item '9612497925' is of product '9523456873'",
    ),
    (
        "unknown payment method",
        _set("orders.#W4197894.payment_history.0.payment_method_id", "gift_card_1"),
        "orders[\"#W4197894\"].payment_history[0].payment_method_id: 'noah_brown_6181' has no payment method",
    ),
    (
        "unknown payment source",
        _set("users.noah_brown_6181.payment_methods.paypal_5727330.source", "certificate"),
        'users["noah_brown_6181"].payment_methods["paypal_5727330"].source: Input should be',
    ),
    ("status", _set("orders.#W7678072.status", "shipped"), 'orders["#W7678072"].status: Input should be'),
    (
        "price as text",
        _set("orders.#W7678072.items.0.price", "50.88"),
        'orders["#W7678072"].items[0].price: Input should be a valid number (got "50.88")',
    ),
    ("missing orders", lambda d: d.pop("orders"), "unknown store format"),
    (
        "price past the limit",
        _set("products.9523456873.variants.9612497925.price", 1e40),
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


def test_problems_are_reported_together(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["products"][1]["variants"] = []
    doc["orders"][0]["user_id"] = "bob"
    with pytest.raises(StoreFormatError) as caught:
        load_store(write(tmp_path / "store.json", doc))
    assert caught.value.total == 2
    assert "2 problems" in str(caught.value)
    assert [p.split(":")[1].strip() for p in caught.value.problems] == [
        "products[1].variants",
        "orders[0].user_id",
    ]


def test_many_problems_are_capped(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["products"] = [
        {"id": f"p{i}", "name": "P", "variants": [{"id": f"v{i}", "price": -1}]}
        for i in range(MAX_REPORTED + 5)
    ]
    doc["orders"] = []
    with pytest.raises(StoreFormatError) as caught:
        load_store(write(tmp_path / "store.json", doc))
    assert caught.value.total == MAX_REPORTED + 5
    assert len(caught.value.problems) == MAX_REPORTED
    assert str(caught.value).endswith("... and 5 more")


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


# --- hostile files: nesting, links, devices ---------------------------------------------------------------


def test_json_nested_far_too_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert "store.json: invalid JSON: nested too deeply" in refusal(path)


def test_a_jsonl_line_nested_far_too_deep_is_refused(tmp_path: Path) -> None:
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    (tmp_path / "products.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert "products.jsonl, line 1: invalid JSON: nested too deeply" in refusal(
        write(tmp_path / "store.json", doc)
    )


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


def _outside_product(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.jsonl"
    secret.parent.mkdir()
    secret.write_text(json.dumps(ponder_doc()["products"][0]) + "\n", encoding="utf-8")
    return secret


def test_a_products_file_that_links_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    (folder / "products.jsonl").symlink_to(_outside_product(tmp_path))
    message = refusal(write(folder / "store.json", doc))
    assert "products.jsonl: a link that leads out of the store's folder" in message
    assert message.endswith(": not followed")


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    doc = ponder_doc()
    products = doc.pop("products")
    doc["products_file"] = "products.jsonl"
    (tmp_path / "catalog-2025.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products))
    (tmp_path / "products.jsonl").symlink_to("catalog-2025.jsonl")
    assert [p.id for p in load_store(write(tmp_path / "store.json", doc)).products] == ["tee", "clog"]


def test_files_found_in_a_store_folder_do_not_link_out_of_it(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere.json", ponder_doc())
    folder = tmp_path / "ponder"
    folder.mkdir()
    (folder / "store.json").symlink_to(outside)
    assert "store.json: a link that leads out of the store's folder" in refusal(folder)
    assert load_store(outside).name == "Test shop"  # the file named itself is read, link or not
    tau2 = tmp_path / "tau2"
    tau2.mkdir()
    shutil.copy(TAU2_SAMPLE, tau2 / "db.json")
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret", encoding="utf-8")
    (tau2 / "policy.md").symlink_to(secret)
    assert "policy.md: a link that leads out of the store's folder" in refusal(tau2)


def test_a_products_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    os.mkfifo(tmp_path / "products.jsonl")  # a pipe: reading it would wait for a writer forever
    assert "products.jsonl: not a file" in refusal(write(tmp_path / "store.json", doc))

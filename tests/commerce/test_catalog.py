"""Catalog search on a small store built here: relevance, exact filters, stock read at search time.

Runs on SQLite, and on PostgreSQL too when POSTGRES_TEST_URL is set (the ``database_url`` fixture).
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from ponder.commerce.catalog import Catalog, SearchHit
from ponder.commerce.model import Category, Product, StoreData, Variant
from ponder.errors import NotFoundError, UserError
from ponder.store import open_database
from ponder.store.database import Database, sql
from ponder.testing import HashingEmbedder

SHOP = "cat-shop"


def _product(
    pid: str,
    name: str,
    category: str,
    variants: list[tuple[dict[str, str], int, int | None]],
    description: str = "",
    available: bool = True,
    **attributes: str | bool,
) -> Product:
    return Product(
        pid,
        name,
        tuple(
            Variant(f"{pid}-{i}", pid, options, price, stock, available)
            for i, (options, price, stock) in enumerate(variants)
        ),
        category=category,
        description=description,
        attributes=dict(attributes),
    )


def small_store() -> StoreData:
    return StoreData(
        name="Trail & Tide",
        currency="EUR",
        categories=(Category("shirts", "Shirts"), Category("boots", "Boots"), Category("kitchen", "Kitchen")),
        products=(
            _product(
                "linen-shirt",
                "Linen shirt",
                "shirts",
                [({"size": "M", "color": "white"}, 4500, 5), ({"size": "L", "color": "white"}, 9000, 3)],
                "A light linen shirt for a beach wedding.",
                material="linen",
            ),
            _product(
                "flannel-shirt",
                "Flannel shirt",
                "shirts",
                [({"size": "M", "color": "red"}, 3900, 0), ({"size": "S", "color": "red"}, 3900, 2)],
                "A warm checked flannel shirt for cold evenings.",
                material="cotton flannel",
            ),
            _product(
                "oxford-shirt",
                "Oxford shirt",
                "shirts",
                [({"size": "M", "color": "blue"}, 5500, 0)],  # sold out
                "A crisp oxford cotton shirt for the office.",
                material="cotton",
            ),
            _product(
                "hiking-boots",
                "Waterproof hiking boots",
                "boots",
                [({"size": "42"}, 12000, 4), ({"size": "43"}, 12000, None)],
                "Leather hiking boots with a waterproof membrane for mountain trails.",
                material="leather",
                waterproof=True,
            ),
            _product(
                "chelsea-boots",
                "Chelsea boots",
                "boots",
                [({"size": "42"}, 15000, 2)],
                "Suede chelsea boots for the city.",
                material="suede",
                waterproof=False,
            ),
            _product(
                "frying-pan",
                "Cast iron frying pan",
                "kitchen",
                [({}, 3500, 10)],
                "A heavy cast iron frying pan for searing steak.",
                material="cast iron",
            ),
            _product(
                "kettle",
                "Stove kettle",
                "kitchen",
                [({}, 2500, 7)],
                "A whistling stove kettle.",
                available=False,  # withdrawn from sale
                material="steel",
            ),
        ),
    )


@pytest.fixture
def db(database_url: str) -> Database:
    return open_database(database_url)


@pytest.fixture
def catalog(db: Database) -> Catalog:
    catalog = Catalog(db, HashingEmbedder())
    catalog.import_store(SHOP, small_store())
    return catalog


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.product.id for h in hits]


def test_results_are_ranked_by_relevance(catalog: Catalog) -> None:
    hits = catalog.search(SHOP, "linen shirt for a beach wedding")
    assert ids(hits)[0] == "linen-shirt"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert ids(catalog.search(SHOP, "cast iron frying pan", k=1)) == ["frying-pan"]
    assert ids(catalog.search(SHOP, "waterproof hiking boots", k=1)) == ["hiking-boots"]


def test_without_a_query_products_come_in_catalog_order(catalog: Catalog) -> None:
    hits = catalog.search(SHOP, category="shirts")
    assert ids(hits) == ["flannel-shirt", "linen-shirt"] and {h.score for h in hits} == {0.0}


def test_price_filters_apply_to_the_variants_that_pass_the_rest(catalog: Catalog) -> None:
    cheap = catalog.search(SHOP, "shirt", max_price=5000)
    assert set(ids(cheap)) == {"linen-shirt", "flannel-shirt", "frying-pan"}
    linen = next(h for h in cheap if h.product.id == "linen-shirt")
    assert [v.id for v in linen.variants] == ["linen-shirt-0"]  # the 90.00 L is above the limit
    dear = catalog.search(SHOP, "shirt", min_price=8000)
    assert set(ids(dear)) == {"linen-shirt", "hiking-boots", "chelsea-boots"}
    # The L passes the size but not the price, the M the price but not the size: no variant passes both.
    assert catalog.search(SHOP, "shirt", max_price=5000, options={"size": "L"}) == []
    assert ids(catalog.search(SHOP, "shirt", min_price=3900, max_price=3900)) == ["flannel-shirt"]
    with pytest.raises(UserError, match="above max_price"):
        catalog.search(SHOP, "shirt", min_price=5000, max_price=4000)


def test_category_filter(catalog: Catalog) -> None:
    assert set(ids(catalog.search(SHOP, "shirt", category="boots"))) == {"hiking-boots", "chelsea-boots"}
    assert catalog.search(SHOP, "shirt", category="no-such-category") == []


def test_option_filters_match_values_whatever_their_case(catalog: Catalog) -> None:
    hits = catalog.search(SHOP, "boots", options={"size": "43"})
    assert ids(hits) == ["hiking-boots"] and [v.id for v in hits[0].variants] == ["hiking-boots-1"]
    both = catalog.search(SHOP, "shirt", options={"size": "m", "color": "WHITE"})
    assert ids(both) == ["linen-shirt"] and [v.id for v in both[0].variants] == ["linen-shirt-0"]
    # The flannel's M is sold out; its S is in stock but not an M.
    assert "flannel-shirt" not in ids(catalog.search(SHOP, "flannel shirt", options={"size": "M"}))
    assert catalog.search(SHOP, "shirt", options={"size": "XXL"}) == []
    assert catalog.search(SHOP, "shirt", options={"sleeve": "long"}) == []  # no product has that option


def test_attribute_filters(catalog: Catalog) -> None:
    assert ids(catalog.search(SHOP, "shirt", attributes={"material": "Linen"})) == ["linen-shirt"]
    assert ids(catalog.search(SHOP, "boots", attributes={"waterproof": True})) == ["hiking-boots"]
    assert ids(catalog.search(SHOP, "boots", attributes={"waterproof": False})) == ["chelsea-boots"]
    assert catalog.search(SHOP, "boots", attributes={"material": "leather", "waterproof": False}) == []
    assert catalog.search(SHOP, "boots", attributes={"heel": "high"}) == []


def test_in_stock_leaves_out_sold_out_and_unavailable_products(catalog: Catalog) -> None:
    shown = set(ids(catalog.search(SHOP, "shirt", k=100)))
    assert shown == {"linen-shirt", "flannel-shirt", "hiking-boots", "chelsea-boots", "frying-pan"}
    everything = catalog.search(SHOP, "shirt", k=100, in_stock=False)
    assert {"oxford-shirt", "kettle"} <= set(ids(everything)) and len(everything) == 7
    flannel = next(h for h in everything if h.product.id == "flannel-shirt")
    assert len(flannel.variants) == 2  # the sold-out M too
    in_stock = next(h for h in catalog.search(SHOP, "flannel shirt") if h.product.id == "flannel-shirt")
    assert [v.id for v in in_stock.variants] == ["flannel-shirt-1"]


def test_an_unknown_account_is_told_how_to_load_a_store(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError, match="has no store yet"):
        catalog.search("nobody", "shirt")


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_must_be_between_1_and_100(catalog: Catalog, k: int) -> None:
    with pytest.raises(UserError, match="between 1 and 100"):
        catalog.search(SHOP, "shirt", k=k)


def test_k_bounds_are_accepted(catalog: Catalog) -> None:
    assert len(catalog.search(SHOP, "shirt", k=1)) == 1
    assert len(catalog.search(SHOP, "shirt", k=100)) == 5  # every product in stock


def test_stock_sold_out_after_the_shelf_was_loaded_is_not_shown(catalog: Catalog, db: Database) -> None:
    assert "hiking-boots" in ids(catalog.search(SHOP, "hiking boots"))  # the shelf is loaded now
    with db.transaction() as c:  # as checkout takes stock: the store's signature does not change
        c.execute(
            sql("UPDATE variants SET stock = 0 WHERE account = :a AND id = 'hiking-boots-0'"), {"a": SHOP}
        )
    hits = catalog.search(SHOP, "hiking boots")
    boots = next(h for h in hits if h.product.id == "hiking-boots")
    assert [v.id for v in boots.variants] == ["hiking-boots-1"]  # 43 untracked: still there
    assert "hiking-boots" not in ids(catalog.search(SHOP, "hiking boots", options={"size": "42"}))
    with db.transaction() as c:
        c.execute(
            sql("UPDATE variants SET available = false WHERE account = :a AND id = 'hiking-boots-1'"),
            {"a": SHOP},
        )
    assert "hiking-boots" not in ids(catalog.search(SHOP, "hiking boots"))
    shown = catalog.search(SHOP, "hiking boots", in_stock=False)
    assert "hiking-boots" in ids(shown)  # asked for everything: shown, with its stock as it is now
    boots = next(h for h in shown if h.product.id == "hiking-boots")
    assert [v.stock for v in boots.variants] == [0, None]


def test_hits_that_sold_out_after_loading_are_replaced_by_the_next_best(db: Database) -> None:
    catalog = Catalog(db, HashingEmbedder())
    store = StoreData(
        name="Mugs",
        products=tuple(
            _product(f"mug-{i}", f"Mug {i}", "mugs", [({}, 1000, 3)], "A ceramic mug." + " mug" * i)
            for i in range(8)
        ),
    )
    catalog.import_store(SHOP, store)
    first = ids(catalog.search(SHOP, "mug", k=2))
    assert len(first) == 2
    ranked = ids(catalog.search(SHOP, "mug", k=8))
    with db.transaction() as c:  # the top four (twice k: what the first ranking reads) sell out
        for pid in ranked[:4]:
            c.execute(
                sql("UPDATE variants SET stock = 0 WHERE account = :a AND product_id = :p"),
                {"a": SHOP, "p": pid},
            )
    assert ids(catalog.search(SHOP, "mug", k=2)) == ranked[4:6]
    assert ids(catalog.search(SHOP, "mug", k=8)) == ranked[4:]


def test_a_deleted_product_is_left_out_and_a_new_import_is_searched(catalog: Catalog, db: Database) -> None:
    assert "frying-pan" in ids(catalog.search(SHOP, "frying pan"))
    with db.transaction() as c:
        c.execute(sql("DELETE FROM products WHERE account = :a AND id = 'frying-pan'"), {"a": SHOP})
    assert "frying-pan" not in ids(catalog.search(SHOP, "frying pan"))
    time.sleep(0.01)  # a later updated_at
    store = small_store()
    extra = _product("wok", "Carbon steel wok", "kitchen", [({}, 4000, 3)], "A wok for stir fries.")
    catalog.import_store(
        SHOP, StoreData(store.name, store.currency, store.categories, (*store.products, extra))
    )
    assert ids(catalog.search(SHOP, "carbon steel wok", k=1)) == ["wok"]


def test_a_repeated_query_is_embedded_once(catalog: Catalog) -> None:
    embedder = catalog.embedder
    assert isinstance(embedder, HashingEmbedder)
    first = catalog.search(SHOP, "linen shirt")
    calls = embedder.calls
    assert catalog.search(SHOP, "  linen shirt ") == first and embedder.calls == calls
    catalog.search(SHOP, "suede boots")
    assert embedder.calls == calls + 1
    vector = embedder.query(["linen shirt"])[0]
    assert ids(catalog.search(SHOP, vector=vector)) == ids(first)


def _passes(product: Product, filters: dict[str, Any]) -> bool:
    """The filters' meaning, written out plainly: what the catalog's masks must agree with."""
    if filters.get("category") and product.category != filters["category"]:
        return False
    for name, value in filters.get("attributes", {}).items():
        if str(product.attributes.get(name, "")).lower() != str(value).lower():
            return False
    return any(
        ((v.available and (v.stock is None or v.stock > 0)) or not filters.get("in_stock", True))
        and (filters.get("min_price") is None or v.price >= filters["min_price"])
        and (filters.get("max_price") is None or v.price <= filters["max_price"])
        and all(v.options.get(o, "").lower() == x.lower() for o, x in filters.get("options", {}).items())
        for v in product.variants
    )


def test_filters_are_exact_over_a_random_store(db: Database) -> None:
    rng = random.Random(7)
    sizes, colors = ["S", "M", "L", "XL"], ["red", "blue", "Green"]
    products = []
    for i in range(90):
        variants: list[tuple[dict[str, str], int, int | None]] = []
        for _ in range(rng.randint(0, 5)):
            options = {"size": rng.choice(sizes)} if rng.random() < 0.8 else {}
            if rng.random() < 0.6:
                options["color"] = rng.choice(colors)
            variants.append((options, rng.randrange(500, 10_000, 50), rng.choice([None, 0, 1, 5])))
        attributes: dict[str, str | bool] = {"material": rng.choice(["wool", "Cotton", "linen"])}
        if rng.random() < 0.5:
            attributes["waterproof"] = rng.random() < 0.5
        products.append(
            Product(
                f"p{i:03d}",
                f"Thing {i}",
                tuple(
                    Variant(f"p{i:03d}-{j}", f"p{i:03d}", o, price, stock, rng.random() > 0.1)
                    for j, (o, price, stock) in enumerate(variants)
                ),
                category=rng.choice(["a", "b", "c", ""]),
                description=f"thing number {i}",
                attributes=attributes,
            )
        )
    catalog = Catalog(db, HashingEmbedder())
    catalog.import_store(SHOP, StoreData("Random", products=tuple(products)))
    for _ in range(60):
        filters: dict[str, Any] = {"in_stock": rng.random() < 0.7}
        if rng.random() < 0.4:
            filters["category"] = rng.choice(["a", "b", "c", "d"])
        if rng.random() < 0.5:
            filters["max_price"] = rng.randrange(1000, 10_000, 50)
        if rng.random() < 0.3:
            filters["min_price"] = rng.randrange(500, filters.get("max_price", 10_000) + 1, 50)
        options = {}
        if rng.random() < 0.5:
            options["size"] = rng.choice([*sizes, "m", "XXL"])
        if rng.random() < 0.3:
            options["color"] = rng.choice([*colors, "green"])
        if options:
            filters["options"] = options
        if rng.random() < 0.3:
            filters["attributes"] = rng.choice(
                [{"material": "cotton"}, {"waterproof": True}, {"material": "WOOL"}, {"waterproof": False}]
            )
        vector = catalog.embedder.query([f"thing {rng.randrange(90)}"])[0]
        hits = catalog.search(SHOP, k=100, vector=vector, **filters)
        expected = {p.id for p in products if _passes(p, filters)}
        assert set(ids(hits)) == expected, filters
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_imported_orders_become_purchases_once_and_cancelled_ones_do_not(database_url: str) -> None:
    from ponder.commerce.formats import demo_store_path, load_store
    from ponder.memory.interests import InterestStore
    from ponder.memory.owner import Owner

    db = open_database(database_url)
    embedder = HashingEmbedder()
    demo = load_store(demo_store_path())
    Catalog(db, embedder).import_store("demo", demo)
    interests = InterestStore(db, embedder)

    def purchases(user: str) -> list[tuple[str, float]]:
        return sorted((e.item, e.at) for e in interests.events(Owner("demo", user)) if e.kind == "purchase")

    bought = {(o.user_id, i.product_id) for o in demo.orders if o.status != "cancelled" for i in o.items}
    assert {item for item, _ in purchases("ann")} == {p for u, p in bought if u == "ann"}
    hp1001 = next(o for o in demo.orders if o.id == "HP-1001")
    assert hp1001.created_at is not None
    assert (hp1001.items[0].product_id, hp1001.created_at) in purchases("ann")  # at the order's time
    cancelled = next(o for o in demo.orders if o.status == "cancelled")
    only_cancelled = {i.product_id for i in cancelled.items} - {
        p for u, p in bought if u == cancelled.user_id
    }
    assert only_cancelled  # the demo has one: it must not count as bought
    assert not only_cancelled & {item for item, _ in purchases(cancelled.user_id)}
    before = {user: purchases(user) for user in ("ann", "ben", "chloe", "dev")}
    Catalog(db, embedder).import_store("demo", demo)  # again: the orders are known, no new purchases
    assert {user: purchases(user) for user in before} == before

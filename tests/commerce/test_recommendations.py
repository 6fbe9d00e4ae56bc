"""Recommendations in the shop: the blend fed from the store's tables, the tool, and the signals recorded."""

from __future__ import annotations

import pytest

from ponder.commerce import recommendations
from ponder.commerce.model import Address, Category, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.tools import Proposal, shopping_toolset
from ponder.errors import NotFoundError, UserError
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder
from ponder.tools.base import ToolContext

STORE = "rec"
ANN = Owner(STORE, "ann")
HOME = Address("home", "1 Sea Road", "Porto", "PT", zip="4000")


def _product(
    pid: str, name: str, category: str, price: int, stock: int = 5, sizes: tuple[str, ...] = ()
) -> Product:
    variants = tuple(
        Variant(f"{pid}-{size or 'one'}", pid, {"size": size} if size else {}, price, stock=stock)
        for size in (sizes or ("",))
    )
    return Product(pid, name, variants, category=category, description=f"{name}, from the {category} range.")


PRODUCTS = (
    _product("linen-shirt", "Linen shirt", "shirts", 4500, sizes=("M", "L")),
    _product("oxford-shirt", "Oxford shirt", "shirts", 5500, sizes=("M", "L")),
    _product("flannel-shirt", "Flannel shirt", "shirts", 6500, sizes=("L",)),
    _product("espadrilles", "Jute espadrilles", "shoes", 3000, sizes=("40", "42")),
    _product("loafers", "Suede loafers", "shoes", 9000, sizes=("42",)),
    _product("boots", "Hiking boots", "shoes", 12000, sizes=("42",)),
    _product("umbrella", "Beach umbrella", "outdoor", 2500),
    _product("tent", "Two-person tent", "outdoor", 15000),
    _product("lantern", "Camping lantern", "outdoor", 2000),
    _product("kettle", "Camping kettle", "outdoor", 1800),
)


@pytest.fixture
def shop(database_url: str) -> Shop:
    shop = Shop(open_database(database_url), HashingEmbedder(), _provider())
    visa = "tok_test_visa_4242"
    customers = tuple(
        Customer(
            name,
            addresses=(HOME,),
            payment_methods=(PaymentMethod("visa", "card", visa, "visa", "4242"),),
        )
        for name in ("ann", *(f"camper{i}" for i in range(8)))
    )
    categories = (Category("shirts", "Shirts"), Category("shoes", "Shoes"), Category("outdoor", "Outdoor"))
    data = StoreData(
        name="Rec", currency="EUR", products=PRODUCTS, customers=customers, categories=categories
    )
    shop.catalog.import_store(STORE, data)
    return shop


def _provider() -> TestPaymentProvider:
    return TestPaymentProvider()


def _campers(shop: Shop) -> None:
    """Eight shoppers who bought a tent and a lantern together; a few bought the kettle."""
    for i in range(8):
        owner = Owner(STORE, f"camper{i}")
        views = shop.catalog.products(STORE, ["tent", "lantern"] + (["kettle"] if i < 3 else []))
        shop.recommendations.record(owner, "purchase", views)


def test_with_nothing_known_every_recommendation_is_in_stock_and_says_why(shop: Shop) -> None:
    found = shop.recommendations.recommend(ANN, k=5)
    assert len(found) == 5
    assert len({r.product.id for r in found}) == 5
    for r in found:
        assert r.product.in_stock() and r.recommendation.reasons


def test_people_who_bought_the_same_lead_to_what_they_also_bought(shop: Shop) -> None:
    _campers(shop)
    shop.recommendations.record(ANN, "purchase", shop.catalog.products(STORE, ["tent"]))
    found = shop.recommendations.recommend(ANN, k=3)
    ids = [r.product.id for r in found]
    assert ids[0] == "lantern"  # every camper who bought the tent bought it
    assert any(
        "tent" in reason.lower() or "shoppers" in reason.lower() for reason in found[0].recommendation.reasons
    )


def test_the_request_of_the_conversation_leads(shop: Shop) -> None:
    _campers(shop)
    found = shop.recommendations.recommend(ANN, "a shirt for a summer wedding", k=3)
    assert {r.product.product.category for r in found} == {"shirts"}


def test_with_a_request_the_blend_orders_what_a_search_finds(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _campers(shop)  # the crowd's favourites (tent, lantern) do not match "shoes"
    shop.recommendations.record(ANN, "purchase", shop.catalog.products(STORE, ["tent"]))
    monkeypatch.setattr(recommendations, "RETRIEVED", 1)
    found = shop.recommendations.recommend(ANN, "shoes for walking", k=1)
    searched = {h.product.id for h in shop.catalog.search(STORE, "shoes for walking", k=4)}
    assert found and {r.product.id for r in found} <= searched
    assert "lantern" not in searched and found[0].product.id != "lantern"
    assert shop.recommendations.recommend(ANN, k=1)[0].product.id == "lantern"  # no request: the crowd's pick


def test_a_gift_for_someone_else_is_not_picked_by_the_customers_own_interests(shop: Shop) -> None:
    _campers(shop)
    shop.recommendations.record(ANN, "view", shop.catalog.products(STORE, ["linen-shirt", "oxford-shirt"]))
    shop.recommendations.record(ANN, "purchase", shop.catalog.products(STORE, ["tent"]))
    mine = shop.recommendations.recommend(ANN, k=3)
    assert any("your interest" in " ".join(r.recommendation.reasons) for r in mine)
    gift = shop.recommendations.recommend(ANN, k=3, personal=False)
    assert not any("your" in " ".join(r.recommendation.reasons).lower() for r in gift)
    assert "tent" in {r.product.id for r in gift}  # what they bought themselves may be a gift


def test_constraints_are_hard(shop: Shop) -> None:
    _campers(shop)
    found = shop.recommendations.recommend(ANN, "shirt", max_price=5000, size="L", k=10)
    assert found and all(r.recommendation.price <= 5000 for r in found)
    assert "flannel-shirt" not in {r.product.id for r in found}  # 65.00
    assert "oxford-shirt" not in {r.product.id for r in found}  # 55.00
    excluded = shop.recommendations.recommend(ANN, "shirt", exclude=["linen-shirt"], k=10)
    assert "linen-shirt" not in {r.product.id for r in excluded}
    with pytest.raises(UserError, match="k must be between 1 and 20"):
        shop.recommendations.recommend(ANN, k=0)
    with pytest.raises(UserError, match="max_price must not be negative"):
        shop.recommendations.recommend(ANN, max_price=-1)


def test_a_product_sold_out_since_the_model_was_built_is_replaced(shop: Shop) -> None:
    _campers(shop)
    shop.recommendations.record(ANN, "purchase", shop.catalog.products(STORE, ["tent"]))
    assert shop.recommendations.recommend(ANN, k=1)[0].product.id == "lantern"
    with shop.db.transaction() as db:
        db.execute(
            sql("UPDATE variants SET stock = 0 WHERE account = :a AND product_id = 'lantern'"), {"a": STORE}
        )
    found = shop.recommendations.recommend(ANN, k=3)
    assert len(found) == 3 and "lantern" not in {r.product.id for r in found}


def test_new_events_are_folded_in_at_once_and_the_model_refits_when_stale(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _campers(shop)
    shop.recommendations.recommend(ANN, k=1)  # fitted on the campers' 19 purchases
    fitted = shop.recommendations._models[STORE]
    assert fitted.events == 19
    shop.recommendations.record(ANN, "purchase", shop.catalog.products(STORE, ["tent"]))
    assert shop.recommendations.recommend(ANN, k=1)[0].product.id == "lantern"  # ann's tent, folded in
    assert shop.recommendations._models[STORE] is fitted  # not refitted for one event
    for i in range(4):
        shop.recommendations.record(
            Owner(STORE, f"camper{i}"), "view", shop.catalog.products(STORE, ["boots"])
        )
    shop.recommendations.recommend(ANN, k=1)
    assert shop.recommendations._models[STORE] is fitted  # grown by a fifth, but fitted too recently
    monkeypatch.setattr(recommendations, "REFIT_AFTER_S", 0.0)
    shop.recommendations.recommend(ANN, k=1)
    refitted = shop.recommendations._models[STORE]
    assert refitted is not fitted and refitted.events == 24


def test_an_unknown_store_says_how_to_load_one(shop: Shop) -> None:
    with pytest.raises(NotFoundError, match="ponder shop load"):
        shop.recommendations.recommend(Owner("nostore", "ann"))


async def test_the_tool_recommends_with_reasons_and_the_tools_record_signals(shop: Shop) -> None:
    _campers(shop)
    proposals: list[Proposal] = []
    tools = {t.name: t for t in shopping_toolset(shop, ANN, proposals).tools}
    await tools["get_product"].invoke(ToolContext(), {"product_id": "tent"})
    await tools["add_to_cart"].invoke(ToolContext(), {"item_id": "tent-one"})
    kinds = [(e.kind, e.item) for e in shop.interests.events(ANN)]
    assert sorted(kinds) == [("save", "tent"), ("view", "tent")]
    picked = await tools["recommend_products"].invoke(ToolContext(), {"limit": 3})
    assert picked[0]["product_id"] == "lantern" and picked[0]["why"]
    assert picked[0]["items"] and picked[0]["price"].endswith("EUR")
    await tools["checkout"].invoke(ToolContext(), {"address_id": "home", "payment_method_id": "visa"})
    [proposal] = proposals
    shop.actions.confirm(ANN, proposal.action.id, proposal.token)
    assert ("purchase", "tent") in [(e.kind, e.item) for e in shop.interests.events(ANN)]

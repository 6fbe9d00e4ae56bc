"""A small store on a real database (SQLite; PostgreSQL too when POSTGRES_TEST_URL is set)."""

from __future__ import annotations

import pytest

from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout
from ponder.commerce.idempotency import IdempotencyKeys
from ponder.commerce.model import (
    Address,
    Category,
    Customer,
    Order,
    OrderItem,
    PaymentMethod,
    PaymentRecord,
    Product,
    StoreData,
    Variant,
)
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import Database
from ponder.testing import HashingEmbedder

SHOP = "shop"
ANN, BOB = Owner(SHOP, "ann"), Owner(SHOP, "bob")
HOME = Address("home", "1 Sea Road", "Porto", "PT", zip="4000")


def store_data(provider: TestPaymentProvider) -> StoreData:
    visa, _, _ = provider.tokenize("4242 4242 4242 4242")
    declined, _, _ = provider.tokenize("4000000000000002")
    lost, _, _ = provider.tokenize("4000000000000341")
    broken, _, _ = provider.tokenize("4000000000000119")
    return StoreData(
        name="Coast",
        currency="EUR",
        categories=(
            Category("clothing", "Clothing"),
            Category("shirts", "Shirts & Tops", parent="clothing"),
            Category("shoes", "Shoes", parent="clothing"),
        ),
        products=(
            Product(
                "linen-shirt",
                "Linen shirt",
                (
                    Variant("shirt-m", "linen-shirt", {"size": "M"}, 4500, stock=5),
                    Variant("shirt-l", "linen-shirt", {"size": "L"}, 4500, stock=0),
                ),
                category="shirts",
                description="A light linen shirt for summer weddings by the sea.",
            ),
            Product(
                "espadrilles",
                "Espadrilles",
                (Variant("esp-40", "espadrilles", {"size": "40"}, 3000, stock=2),),
                category="shoes",
                description="Canvas espadrilles with jute soles.",
            ),
            Product(
                "umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500),), category="outdoor"
            ),
        ),
        customers=(
            Customer(
                "ann",
                "Ann",
                addresses=(HOME,),
                payment_methods=(
                    PaymentMethod("visa", "card", visa, "visa", "4242"),
                    PaymentMethod("declined", "card", declined, "visa", "0002"),
                    PaymentMethod("lost", "card", lost, "visa", "0341"),
                    PaymentMethod("broken", "card", broken, "visa", "0119"),
                    PaymentMethod("gift", "gift_card", balance=5000),
                ),
            ),
            Customer("bob", "Bob", addresses=(HOME,), payment_methods=(PaymentMethod("visa", "card", visa),)),
        ),
        orders=(
            Order(
                "#W1",
                "ann",
                "delivered",
                (
                    OrderItem("shirt-m", "linen-shirt", "Linen shirt", {"size": "M"}, 4500),
                    OrderItem("esp-40", "espadrilles", "Espadrilles", {"size": "40"}, 3000),
                ),
                HOME,
                (PaymentRecord("charge", 7500, "gift"),),
            ),
        ),
    )


@pytest.fixture
def shop_parts(database_url: str) -> tuple[Database, TestPaymentProvider, Checkout]:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    Catalog(db, HashingEmbedder()).import_store(SHOP, store_data(provider))
    return db, provider, Checkout(db, provider, keys=IdempotencyKeys(db, lease_s=0.5, wait_s=20))


@pytest.fixture
def shop(database_url: str) -> Shop:
    db = open_database(database_url)
    provider = TestPaymentProvider()
    shop = Shop(db, HashingEmbedder(), provider)
    shop.catalog.import_store(SHOP, store_data(provider))
    return shop

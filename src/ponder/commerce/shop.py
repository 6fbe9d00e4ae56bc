"""``Shop``: one store's parts wired together, for the tools, the CLI and the server to share.

Construct it once per process with the database, the embedding model and the payment provider; every call
names the account (the store) and, for a customer's data, the ``Owner``.
"""

from __future__ import annotations

from ponder.commerce.actions import ActionDesk
from ponder.commerce.carts import CartStore
from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout
from ponder.commerce.customers import CustomerStore
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.support import SupportQueue
from ponder.memory.embeddings import Embedder
from ponder.store.database import Database

__all__ = ["Shop"]


class Shop:
    def __init__(self, db: Database, embedder: Embedder, provider: PaymentProvider) -> None:
        self.db = db
        self.provider = provider
        self.catalog = Catalog(db, embedder)
        self.customers = CustomerStore(db)
        self.carts = CartStore(db)
        self.checkout = Checkout(db, provider)
        self.orders = self.checkout.orders
        self.actions = ActionDesk(db, self.checkout, self.orders, self.carts)
        self.support = SupportQueue(db)

"""``Shop``: one store's parts wired together, for the tools, the CLI and the server to share.

Construct it once per process with the database, the embedding model, the payment provider and the
payment handlers besides the store's own; every call names the account (the store) and, for a customer's
data, the ``Owner``. An order placed is recorded as a purchase of its products, and items returned as
dismissals, in the customer's interest events: what recommendations (recommendations.py) learn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ponder.commerce.actions import ActionDesk, PendingAction
from ponder.commerce.carts import CartStore
from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout
from ponder.commerce.customers import CustomerStore
from ponder.commerce.identification import Identification
from ponder.commerce.model import StoreRules
from ponder.commerce.order_records import OrderView
from ponder.commerce.payment_handlers import PaymentHandler, builtin
from ponder.commerce.payments import PaymentProvider
from ponder.commerce.recommendations import StoreRecommendations
from ponder.commerce.store_pricing import StorePricing
from ponder.commerce.store_rules import read_rules
from ponder.commerce.support import SupportQueue
from ponder.memory.embeddings import Embedder
from ponder.memory.interests import InterestStore, Kind
from ponder.memory.owner import Owner
from ponder.store.database import Database

__all__ = ["Shop"]

_SIGNALS: Final[dict[str, Kind]] = {"place_order": "purchase", "return_items": "dismiss"}


class Shop:
    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        provider: PaymentProvider,
        *,
        handlers: Sequence[PaymentHandler] = (),
    ) -> None:
        self.db = db
        self.provider = provider
        # The ways to pay: the store's own handler first, then those configured (payment_handlers.py).
        self.handlers: tuple[PaymentHandler, ...] = (builtin(provider.name), *handlers)
        self.catalog = Catalog(db, embedder)
        self.customers = CustomerStore(db)
        self.carts = CartStore(db)
        self.checkout = Checkout(db, provider)
        self.pricing = StorePricing(db)
        self.orders = self.checkout.orders
        self.actions = ActionDesk(db, self.checkout, self.orders, self.carts, on_done=self._signal)
        self.support = SupportQueue(db)
        self.identification = Identification(db)  # who writes in on a support surface
        self.interests = InterestStore(db, embedder)
        self.recommendations = StoreRecommendations(db, self.catalog, self.interests)

    def rules(self, account: str) -> StoreRules:
        """The store's rules (store_rules.py)."""
        with self.db.reading() as db:
            return read_rules(db, account)

    def _signal(self, owner: Owner, action: PendingAction, result: OrderView) -> None:
        """An order placed: a purchase of each product; items returned: a dismissal of each."""
        kind = _SIGNALS.get(action.kind)
        if kind is None:
            return
        items = result["items"]
        if action.kind == "return_items":
            returned = {int(seq) for seq in action.arguments["items"]}
            items = [i for i in items if i["seq"] in returned]
        ids = list(dict.fromkeys(str(i["product_id"]) for i in items))
        self.recommendations.record(owner, kind, self.catalog.products(owner.account, ids))

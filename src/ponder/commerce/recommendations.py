"""Recommendations for one customer in the conversation: recommend.py's blend, fed from the store's tables.

``StoreRecommendations.recommend(owner, request, ...)`` ranks the whole catalog of ``owner.account`` for
``owner.user`` by the blend (recommend.py): relevance to what they asked for in the conversation (its E5
query embedding and words), their interest profile (``InterestStore.profile``, the memory issue's),
collaborative filtering over every customer's interest events, popularity, and the hard constraints
(price, size, stock). When they asked for something, the blend orders what a catalog search finds for it
(``RETRIEVED`` products, or four per one wanted), so taste and other shoppers pick among things that fit
the request rather than outvote it. What the person already bought is left out. Each result carries the
reasons the blend gives, and the product as it is now.

- **What is kept per store.** The ``Recommender`` over every product (with its stored passage embedding)
  and the collaborative filter fitted on the account's ``interest_events`` (``interactions_from_events``:
  an item is a product id, or a product's name), with popularity counted from the same. They are built on
  first use and again when the store is re-imported (``stores.updated_at``), or when the account's events
  have grown by ``REFIT_GROWTH`` and ``REFIT_AFTER_S`` have passed since the fit. Someone who acted since
  the fit is folded in from their events now (``CollaborativeFilter.user(history=...)``), so their newest
  purchase counts at once.
- **Stock now.** The ``Recommender`` reads availability when it is built; the recommended products are read
  again from the database (as search does), and one that sold out since is replaced by the next.
- **Where the signals come from.** The shopping tools record what a customer does (``record``): a product
  looked at is a view, one put in the cart a save, an order placed a purchase of each product in it, an item
  returned a dismissal. Applications add theirs with ``POST /v1/interests/events`` (items by product id).

Not here: the blend itself and its figures (recommend.py, bench/recommend.py), search (catalog.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from ponder.commerce.catalog import Catalog, ProductView, product_text
from ponder.commerce.recommend import (
    Candidate,
    CollaborativeFilter,
    Constraints,
    Recommendation,
    Recommender,
    Request,
    interactions_from_events,
    popularity,
)
from ponder.errors import UserError
from ponder.memory.interests import KIND_WEIGHTS, InterestEvent, InterestProfile, InterestStore, Kind
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["REFIT_AFTER_S", "REFIT_GROWTH", "Recommended", "StoreRecommendations"]

REFIT_GROWTH: Final = 1.2  # refit when the account's events grew by a fifth...
REFIT_AFTER_S: Final = 600.0  # ...and the fit is at least this old
MAX_K: Final = 20
RETRIEVED: Final = 20  # products a request's search hands the blend (at least; 4 per one asked for)
_USER_EVENTS: Final = (
    "SELECT user_id, item, kind FROM interest_events WHERE account = :account AND user_id = :user"
)


@dataclass(frozen=True)
class Recommended:
    """One recommendation with the product as it is now (current stock)."""

    recommendation: Recommendation
    product: ProductView


@dataclass(frozen=True)
class _Model:
    signature: float  # the store's updated_at when built
    events: int  # the account's interest events when fitted
    fitted_at: float
    recommender: Recommender
    collaborative: CollaborativeFilter
    ids_by_name: dict[str, str]  # product name, lower-cased -> id


class StoreRecommendations:
    def __init__(self, db: Database, catalog: Catalog, interests: InterestStore) -> None:
        self.db = db
        self.catalog = catalog
        self.interests = interests
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def recommend(
        self,
        owner: Owner,
        request: str | None = None,
        *,
        max_price: int | None = None,
        size: str | None = None,
        in_stock_only: bool = True,
        exclude: Iterable[str] = (),
        k: int = 5,
        personal: bool = True,
    ) -> list[Recommended]:
        """The ``k`` best products for ``owner.user`` now, best first, each with its reasons. Not
        ``personal`` (a gift for someone else): the request and what shoppers buy, without this person's
        interests and purchases."""
        if not 1 <= k <= MAX_K:
            raise UserError(f"k must be between 1 and {MAX_K} (got {k}).")
        if max_price is not None and max_price < 0:
            raise UserError(f"max_price must not be negative (got {max_price}).")
        model = self._model(owner.account)
        profile = self._profile(owner) if personal else None
        history, bought = self._history(owner, model) if personal else (None, frozenset[str]())
        collaborative = model.collaborative.user(owner.user if personal else "", history if personal else {})
        text = (request or "").strip()
        asked = Request(text, self.catalog.query_vector(text)) if text else None
        excluded = frozenset(exclude) | bought
        if text:  # what was asked for leads: the blend orders the products a search finds for it
            hits = self.catalog.search(
                owner.account,
                text,
                k=min(100, max(RETRIEVED, 4 * k)),
                max_price=max_price,
                in_stock=in_stock_only,
            )
            found = {h.product.id for h in hits}
            excluded |= frozenset(i for i in model.recommender.ids if i not in found)
        constraints = Constraints(
            max_price=max_price,
            in_stock_only=in_stock_only,
            size=size.strip() or None if size else None,
            excluded_items=excluded,
        )
        out: list[Recommended] = []
        wanted = k
        for _ in range(3):  # a product sold out since the recommender was built is replaced by the next
            ranked = model.recommender.recommend(
                profile, request=asked, collaborative=collaborative, constraints=constraints, k=wanted
            )
            shown = {r.recommendation.product_id for r in out}
            ranked = [r for r in ranked if r.product_id not in shown]
            views = {v.id: v for v in self.catalog.products(owner.account, [r.product_id for r in ranked])}
            for r in ranked:
                view = views.get(r.product_id)
                if view is not None and _still_qualifies(view, constraints):
                    out.append(Recommended(r, view))
                    if len(out) == k:
                        return out
            if len(ranked) < wanted - len(shown):
                break  # nothing more qualifies
            wanted *= 2
        return out

    def record(self, owner: Owner, kind: Kind, products: Sequence[ProductView]) -> None:
        """What the customer did with these products, as interest events (item: the product id)."""
        if not products:
            return
        events = [
            InterestEvent(
                kind=kind, item=p.id, category=p.product.category, text=product_text(p.product)[:2000]
            )
            for p in products
        ]
        self.interests.record(owner, events)

    # --- the store's model -----------------------------------------------------------------------------

    def _model(self, account: str) -> _Model:
        signature, events = self._state(account)
        with self._lock:
            model = self._models.get(account)
            building = self._building.setdefault(account, threading.Lock())
        if model is not None and not _stale(model, signature, events):
            return model
        with building:  # one build per store at a time; the others wait for it and use it
            with self._lock:
                model = self._models.get(account)
            if model is not None and not _stale(model, signature, events):
                return model
            model = self._build(account, signature, events)
            with self._lock:
                self._models[account] = model
        return model

    def _state(self, account: str) -> tuple[float, int]:
        with self.db.reading() as db:
            updated_at = db.execute(
                sql("SELECT updated_at FROM stores WHERE account = :account"), {"account": account}
            ).scalar()
            if updated_at is None:
                self.catalog.store_info(account)  # raises the error that says how to load a store
            count = db.execute(
                sql("SELECT COUNT(*) FROM interest_events WHERE account = :account"), {"account": account}
            ).scalar_one()
        return float(updated_at) if updated_at is not None else 0.0, int(count)

    def _build(self, account: str, signature: float, events: int) -> _Model:
        with self.db.reading() as db:
            vectors = {
                str(product_id): np.frombuffer(bytes(vector), np.float32)
                for product_id, vector in db.execute(
                    sql("SELECT id, vector FROM products WHERE account = :account ORDER BY id"),
                    {"account": account},
                )
            }
            names = {
                str(category_id): str(name)
                for category_id, name in db.execute(
                    sql("SELECT id, name FROM categories WHERE account = :account"), {"account": account}
                )
            }
            triples = db.execute(
                sql("SELECT user_id, item, kind FROM interest_events WHERE account = :account"),
                {"account": account},
            ).all()
        products = self.catalog.products(account, list(vectors))
        ids_by_name = {v.product.name.lower(): v.id for v in products}
        interactions = interactions_from_events(_as_products(triples, vectors, ids_by_name))
        collaborative = CollaborativeFilter.fit(interactions)
        recommender = Recommender(
            [Candidate(v.product, vectors[v.id]) for v in products],
            popularity=popularity(interactions),
            category_names=names,
            interactions=interactions,  # fits how personal each facet (category, brand, colour...) is
        )
        return _Model(signature, events, time.time(), recommender, collaborative, ids_by_name)

    # --- the person --------------------------------------------------------------------------------------

    def _profile(self, owner: Owner) -> InterestProfile | None:
        profile = self.interests.profile(owner)
        return profile if profile.events else None

    def _history(self, owner: Owner, model: _Model) -> tuple[dict[str, float] | None, frozenset[str]]:
        """The person's product interests now, for folding them into the collaborative filter (None when
        they have none: the fitted factors, if any, are used), and the products they bought."""
        with self.db.reading() as db:
            rows = db.execute(sql(_USER_EVENTS), owner.params()).all()
        events = _as_products(rows, model.recommender.ids, model.ids_by_name)
        history = {product: weight for _, product, weight in interactions_from_events(events)}
        bought = frozenset(product for _, product, kind in events if kind == "purchase")
        return history or None, bought


def _as_products(
    rows: Iterable[Any], known: Iterable[str], ids_by_name: dict[str, str]
) -> list[tuple[str, str, Kind]]:
    """``(user, item, kind)`` rows with items turned into product ids (an id, or a product's name); items
    that are neither, and kinds this version does not weigh, are left out."""
    ids = set(known)
    out: list[tuple[str, str, Kind]] = []
    for user, item, kind in rows:
        product = item if item in ids else ids_by_name.get(str(item).lower())
        if product is not None and kind in KIND_WEIGHTS:
            out.append((str(user), str(product), kind))
    return out


def _stale(model: _Model, signature: float, events: int) -> bool:
    if model.signature != signature:
        return True
    grown = events >= max(model.events * REFIT_GROWTH, model.events + 1)
    return grown and time.time() - model.fitted_at >= REFIT_AFTER_S


def _still_qualifies(view: ProductView, constraints: Constraints) -> bool:
    """Whether a variant still meets the constraints with the stock read now."""
    for variant in view.in_stock() if constraints.in_stock_only else view.product.variants:
        if constraints.max_price is not None and variant.price > constraints.max_price:
            continue
        size = variant.options.get("size")
        if constraints.size and size is not None and size.lower() != constraints.size.lower():
            continue
        return True
    return False

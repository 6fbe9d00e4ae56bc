"""A store's catalog: importing a ``StoreData``, reading products and variants, and searching them.

A store belongs to an account (the API key's): its products are the account's, and its customers are the
account's users (the memory issue's ``users``). Every statement names the account.

**Search** is semantic plus filters: the query's E5 embedding (query side) against each product's passage
embedding (name, category, brand, description and attributes), over the products that pass the filters:
price range (on the variants that pass the rest), category, option values ("size": "M"), attributes, and
availability. The catalog's vectors, prices, options and attributes are kept in the process per account
(``_Shelf``) and searched with ``VectorIndex`` (an inverted-file index from 20,000 products on); one
primary-key read per search notices a change made by any process (``stores.updated_at``). Stock is read
from the database for the products a search returns, so "in stock" is never stale for what is shown.

Not here: orders and checkout (orders.py, checkout.py), recommendations (recommend.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from ponder.commerce.model import Product, StoreData, Variant
from ponder.errors import NotFoundError, UserError
from ponder.memory.embeddings import Embedder
from ponder.memory.vectors import VectorIndex
from ponder.store.database import Database, sql

__all__ = ["Catalog", "ImportSummary", "ProductView", "SearchHit", "UnknownProductError", "product_text"]

EMBED_BATCH = 32


class UnknownProductError(NotFoundError):
    """No such product or variant in this store."""


@dataclass(frozen=True)
class ImportSummary:
    store: str
    categories: int
    products: int
    variants: int
    customers: int
    orders: int
    seconds: float


@dataclass(frozen=True)
class ProductView:
    """A product as a shopper sees it: its variants with their current stock."""

    product: Product

    @property
    def id(self) -> str:
        return self.product.id

    def in_stock(self) -> list[Variant]:
        return [v for v in self.product.variants if v.available and (v.stock is None or v.stock > 0)]

    def to_dict(self) -> dict[str, Any]:
        p = self.product
        return {
            "id": p.id,
            "name": p.name,
            "category": p.category,
            "brand": p.brand,
            "description": p.description,
            "attributes": p.attributes,
            "image_url": p.image_url,
            "rating": round(sum(r.rating for r in p.reviews) / len(p.reviews), 1) if p.reviews else None,
            "reviews": len(p.reviews),
            "variants": [
                {
                    "id": v.id,
                    "options": v.options,
                    "price": v.price,
                    "stock": v.stock,
                    "available": v.available and (v.stock is None or v.stock > 0),
                }
                for v in p.variants
            ],
        }


@dataclass(frozen=True)
class SearchHit:
    product: ProductView
    score: float  # cosine of the query with the product (0 without a query)
    variants: tuple[Variant, ...]  # those that pass the filters


def product_text(product: Product, category_name: str = "") -> str:
    """What a product's embedding is computed from."""
    attributes = "; ".join(f"{k}: {v}" for k, v in product.attributes.items())
    parts = [product.name, category_name, product.brand, product.description, attributes]
    return ". ".join(p.strip() for p in parts if p and p.strip())


@dataclass
class _Shelf:
    """One store's catalog in the process, for search. Row r is product ``ids[r]``."""

    signature: float
    ids: list[str]
    index: VectorIndex
    category: np.ndarray  # row -> category id (object array)
    variants: list[list[tuple[dict[str, str], int, bool]]]  # row -> [(options, price, available)]
    attributes: list[dict[str, Any]]
    _masks: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)  # cached filter masks


class Catalog:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self.db = db
        self.embedder = embedder
        self._shelves: dict[str, _Shelf] = {}
        self._lock = threading.Lock()

    # --- importing ----------------------------------------------------------------------------------------

    def import_store(
        self, account: str, store: StoreData, *, progress: Callable[[int, int], None] | None = None
    ) -> ImportSummary:
        """Replace the account's catalog with ``store``'s, and add its customers and orders; whole or absent.

        Embeddings are computed first (``progress(done, total)`` after each batch), then everything is
        written in one transaction.
        """
        started = time.perf_counter()
        names = {c.id: c.name for c in store.categories}
        texts = [product_text(p, names.get(p.category, p.category)) for p in store.products]
        vectors = np.zeros((len(texts), self.embedder.dim), np.float32)
        for start in range(0, len(texts), EMBED_BATCH):
            vectors[start : start + EMBED_BATCH] = self.embedder.passage(texts[start : start + EMBED_BATCH])
            if progress is not None:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
        from ponder.commerce.customers import write_customers, write_orders

        now = time.time()
        with self.db.transaction(lock=f"store:{account}") as db:
            for table in ("variants", "products", "categories"):
                db.execute(sql(f"DELETE FROM {table} WHERE account = :account"), {"account": account})
            db.execute(sql("DELETE FROM stores WHERE account = :account"), {"account": account})
            db.execute(
                sql(
                    "INSERT INTO stores (account, name, currency, policy, updated_at) "
                    "VALUES (:account, :name, :currency, :policy, :now)"
                ),
                {
                    "account": account,
                    "name": store.name,
                    "currency": store.currency,
                    "policy": store.policy,
                    "now": now,
                },
            )
            if store.categories:
                db.execute(
                    sql(
                        "INSERT INTO categories (account, id, name, parent) "
                        "VALUES (:account, :id, :name, :parent)"
                    ),
                    [
                        {"account": account, "id": c.id, "name": c.name, "parent": c.parent}
                        for c in store.categories
                    ],
                )
            write_products(db, account, store.products, vectors, now)
            customers = write_customers(db, account, store.customers, now)
            orders = write_orders(db, account, store.orders, store.currency, now)
        return ImportSummary(
            store.name,
            len(store.categories),
            len(store.products),
            sum(len(p.variants) for p in store.products),
            customers,
            orders,
            time.perf_counter() - started,
        )

    # --- reading -------------------------------------------------------------------------------------------

    def store_info(self, account: str) -> dict[str, Any]:
        with self.db.reading() as db:
            row = db.execute(
                sql("SELECT name, currency, policy FROM stores WHERE account = :account"),
                {"account": account},
            ).first()
        if row is None:
            raise NotFoundError(
                f"Account '{account}' has no store yet: load one with `ponder shop load FILE` "
                "(or `ponder shop load --demo`)."
            )
        return {"name": row[0], "currency": row[1], "policy": row[2]}

    def products(self, account: str, ids: Sequence[str]) -> list[ProductView]:
        """The products with these ids, in that order (unknown ids are left out)."""
        if not ids:
            return []
        with self.db.reading() as db:
            found = _read_products(db, account, ids)
        return [found[i] for i in ids if i in found]

    def product(self, account: str, product_id: str) -> ProductView:
        found = self.products(account, [product_id])
        if not found:
            raise UnknownProductError(f"No product '{product_id}' in this store.")
        return found[0]

    def variant(self, account: str, variant_id: str) -> tuple[ProductView, Variant]:
        with self.db.reading() as db:
            row = db.execute(
                sql("SELECT product_id FROM variants WHERE account = :account AND id = :id"),
                {"account": account, "id": variant_id},
            ).first()
            if row is None:
                raise UnknownProductError(f"No item '{variant_id}' in this store.")
            view = _read_products(db, account, [row[0]])[row[0]]
        return view, next(v for v in view.product.variants if v.id == variant_id)

    # --- search --------------------------------------------------------------------------------------------

    def search(
        self,
        account: str,
        query: str | None = None,
        *,
        k: int = 10,
        min_price: int | None = None,
        max_price: int | None = None,
        category: str | None = None,
        options: Mapping[str, str] | None = None,
        attributes: Mapping[str, Any] | None = None,
        in_stock: bool = True,
        vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """The ``k`` products best matching ``query`` (or ``vector``) that pass every filter."""
        if not 1 <= k <= 100:
            raise UserError(f"k must be between 1 and 100 (got {k}).")
        if min_price is not None and max_price is not None and min_price > max_price:
            raise UserError(f"min_price {min_price} is above max_price {max_price}.")
        shelf = self._shelf(account)
        allowed = self._filter(
            shelf, min_price, max_price, category, options or {}, attributes or {}, in_stock
        )
        if vector is None and query and query.strip():
            vector = self.embedder.query([query.strip()])[0]
        if vector is not None:
            ranked = shelf.index.search(vector, k * 2, allowed)
        else:  # no query: in catalog order
            ranked = [(int(r), 0.0) for r in np.flatnonzero(allowed)[: k * 2]]
        views = self.products(account, [shelf.ids[r] for r, _ in ranked])
        by_id = {v.id: v for v in views}
        hits = []
        for row, score in ranked:
            view = by_id.get(shelf.ids[row])
            if view is None:  # deleted since the shelf was read
                continue
            variants = tuple(
                v
                for v in (view.in_stock() if in_stock else view.product.variants)
                if _variant_passes(v, min_price, max_price, options or {})
            )
            if variants:  # stock read now: a variant sold out since the shelf was read is left out
                hits.append(SearchHit(view, score, variants))
            if len(hits) == k:
                break
        return hits

    def _filter(
        self,
        shelf: _Shelf,
        min_price: int | None,
        max_price: int | None,
        category: str | None,
        options: Mapping[str, str],
        attributes: Mapping[str, Any],
        in_stock: bool,
    ) -> np.ndarray:
        n = len(shelf.ids)
        allowed = np.ones(n, bool)
        if category:
            allowed &= shelf.category == category
        for name, value in attributes.items():
            allowed &= self._mask(shelf, "attribute", name, value)
        if options or min_price is not None or max_price is not None or in_stock:
            key = json.dumps([sorted(options.items()), min_price, max_price, in_stock])
            allowed &= self._mask(shelf, "variants", key, None)
        return allowed

    def _mask(self, shelf: _Shelf, kind: str, name: str, value: Any) -> np.ndarray:
        key = (kind, name.lower(), str(value).lower())
        mask = shelf._masks.get(key)
        if mask is not None:
            return mask
        if kind == "attribute":
            wanted = str(value).lower()
            mask = np.fromiter(
                (str(a.get(name, "")).lower() == wanted for a in shelf.attributes), bool, len(shelf.ids)
            )
        else:
            options_, min_price, max_price, in_stock = json.loads(name)
            options = dict(options_)
            mask = np.fromiter(
                (
                    any(
                        (available or not in_stock)
                        and (min_price is None or price >= min_price)
                        and (max_price is None or price <= max_price)
                        and all(opts.get(o, "").lower() == v.lower() for o, v in options.items())
                        for opts, price, available in variants
                    )
                    for variants in shelf.variants
                ),
                bool,
                len(shelf.ids),
            )
        if len(shelf._masks) > 256:
            shelf._masks.clear()
        shelf._masks[key] = mask
        return mask

    def _shelf(self, account: str) -> _Shelf:
        with self.db.reading() as db:
            row = db.execute(
                sql("SELECT updated_at FROM stores WHERE account = :account"), {"account": account}
            ).first()
        if row is None:
            self.store_info(account)  # raises the error that says how to load a store
        signature = float(row[0]) if row is not None else 0.0
        with self._lock:
            shelf = self._shelves.get(account)
            if shelf is not None and shelf.signature == signature:
                return shelf
        shelf = self._load_shelf(account, signature)
        with self._lock:
            self._shelves[account] = shelf
        return shelf

    def _load_shelf(self, account: str, signature: float) -> _Shelf:
        ids: list[str] = []
        blobs: list[bytes] = []
        categories: list[str] = []
        attributes: list[dict[str, Any]] = []
        rows_of: dict[str, int] = {}
        with self.db.reading() as db:
            for row in db.execute(
                sql(
                    "SELECT id, category, attributes, vector FROM products "
                    "WHERE account = :account ORDER BY id"
                ),
                {"account": account},
            ):
                rows_of[row[0]] = len(ids)
                ids.append(row[0])
                categories.append(row[1])
                attributes.append(json.loads(row[2]))
                blobs.append(bytes(row[3]))
            variants: list[list[tuple[dict[str, str], int, bool]]] = [[] for _ in ids]
            for row in db.execute(
                sql(
                    "SELECT product_id, options, price, stock, available FROM variants "
                    "WHERE account = :account"
                ),
                {"account": account},
            ):
                r = rows_of.get(row[0])
                if r is not None:
                    in_stock = bool(row[4]) and (row[3] is None or row[3] > 0)
                    variants[r].append((json.loads(row[1]), int(row[2]), in_stock))
        index = VectorIndex(self.embedder.dim, capacity=len(ids))
        if ids:
            matrix = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), self.embedder.dim)
            index.add(range(len(ids)), matrix)
        return _Shelf(signature, ids, index, np.array(categories, dtype=object), variants, attributes)


def _variant_passes(
    v: Variant, min_price: int | None, max_price: int | None, options: Mapping[str, str]
) -> bool:
    return (
        (min_price is None or v.price >= min_price)
        and (max_price is None or v.price <= max_price)
        and all(v.options.get(o, "").lower() == value.lower() for o, value in options.items())
    )


def write_products(
    db: Connection, account: str, products: Iterable[Product], vectors: np.ndarray, now: float
) -> None:
    product_rows, variant_rows = [], []
    for product, vector in zip(products, vectors, strict=True):
        product_rows.append(
            {
                "account": account,
                "id": product.id,
                "name": product.name,
                "category": product.category,
                "description": product.description,
                "brand": product.brand,
                "attributes": json.dumps(product.attributes),
                "reviews": json.dumps([r.__dict__ for r in product.reviews]),
                "image_url": product.image_url,
                "vector": np.asarray(vector, np.float32).tobytes(),
                "now": now,
            }
        )
        variant_rows += [
            {
                "account": account,
                "id": v.id,
                "product_id": product.id,
                "options": json.dumps(v.options),
                "price": v.price,
                "stock": v.stock,
                "available": v.available,
            }
            for v in product.variants
        ]
    if product_rows:
        db.execute(
            sql(
                "INSERT INTO products (account, id, name, category, description, brand, attributes, "
                "reviews, image_url, vector, updated_at) VALUES (:account, :id, :name, :category, "
                ":description, :brand, :attributes, :reviews, :image_url, :vector, :now)"
            ),
            product_rows,
        )
    if variant_rows:
        db.execute(
            sql(
                "INSERT INTO variants (account, id, product_id, options, price, stock, available) "
                "VALUES (:account, :id, :product_id, :options, :price, :stock, :available)"
            ),
            variant_rows,
        )


def _read_products(db: Connection, account: str, ids: Sequence[str]) -> dict[str, ProductView]:
    from ponder.commerce.model import Review

    marks = ", ".join(f":p{i}" for i in range(len(ids)))
    params = {"account": account} | {f"p{i}": pid for i, pid in enumerate(ids)}
    variants: dict[str, list[Variant]] = {}
    for row in db.execute(
        sql(
            "SELECT id, product_id, options, price, stock, available FROM variants "
            f"WHERE account = :account AND product_id IN ({marks}) ORDER BY id"
        ),
        params,
    ):
        variants.setdefault(row[1], []).append(
            Variant(row[0], row[1], json.loads(row[2]), int(row[3]), row[4], bool(row[5]))
        )
    found: dict[str, ProductView] = {}
    for product in db.execute(
        sql(
            "SELECT id, name, category, description, brand, attributes, reviews, image_url FROM products "
            f"WHERE account = :account AND id IN ({marks})"
        ),
        params,
    ).mappings():
        found[product["id"]] = ProductView(
            Product(
                id=product["id"],
                name=product["name"],
                variants=tuple(variants.get(product["id"], ())),
                category=product["category"],
                description=product["description"],
                brand=product["brand"],
                attributes=json.loads(product["attributes"]),
                reviews=tuple(Review(**r) for r in json.loads(product["reviews"])),
                image_url=product["image_url"],
            )
        )
    return found

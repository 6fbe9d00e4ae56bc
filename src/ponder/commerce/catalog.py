"""A store's catalog: importing a ``StoreData``, reading products and variants, and searching them.

A store belongs to an account (the API key's): its products are the account's, and its customers are the
account's users (the memory issue's ``users``). Every statement names the account.

**Search** is semantic plus filters: the query's E5 embedding (query side) against each product's passage
embedding (name, category, brand, description and attributes), over the products that pass the filters:
price range (on the variants that pass the rest), category, option values ("size": "M"), attributes, and
availability. The catalog's vectors, categories, attributes and variants (prices, options, availability)
are kept in the process per account (``_Shelf``), as numpy arrays with text values coded as integers, so
a filter is a few array comparisons (milliseconds over 100,000 products) and exact; the vectors are
searched with ``VectorIndex`` (an inverted-file index from 20,000 products on). One primary-key read per
search notices a change made by any process (``stores.updated_at``). Stock is read from the database for
the products a search returns, so "in stock" is never stale for what is shown; a hit that sold out since
the shelf was read is replaced by the next best. Query embeddings are kept in a small LRU cache (a shopper,
or the assistant refining a search, often asks the same thing again). bench/catalog_search.py measures it
all over 100,000 products.

Not here: orders and checkout (orders.py, checkout.py), recommendations (recommend.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from sqlalchemy.engine import Connection

from ponder.commerce.model import Order, Product, StoreData, Variant
from ponder.errors import NotFoundError, UserError
from ponder.memory.embeddings import Embedder
from ponder.memory.interests import InterestEvent, write_events
from ponder.memory.vectors import VectorIndex
from ponder.store.database import Database, sql

__all__ = ["Catalog", "ImportSummary", "ProductView", "SearchHit", "UnknownProductError", "product_text"]

EMBED_BATCH = 32
K = TypeVar("K")
QUERY_CACHE = 512  # query embeddings kept per Catalog (1.5 KB each with E5)
MASK_CACHE = 64  # filter masks kept per store (one byte per product each)
SEARCH_ROUNDS = 4  # rankings per search when hits sold out since the shelf was read must be replaced


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


@dataclass(frozen=True)
class _Codes:
    """A text value per row as a small integer: ``codes[row]`` is ``vocabulary[value]``; 0 is "" (absent)."""

    codes: np.ndarray
    vocabulary: dict[str, int]

    @staticmethod
    def of(size: int, rows: Sequence[int], values: Sequence[str]) -> _Codes:
        vocabulary = {"": 0}
        codes = np.zeros(size, np.int32)
        if rows:
            found = [vocabulary.setdefault(v, len(vocabulary)) for v in values]
            codes[np.asarray(rows, np.int64)] = np.asarray(found, np.int32)
        return _Codes(codes, vocabulary)


def _equal(codes: _Codes | None, value: str, size: int) -> np.ndarray:
    """Rows whose value is ``value`` (rows without one have "")."""
    if codes is None:  # nobody has it: all are ""
        return np.full(size, value == "", bool)
    code = codes.vocabulary.get(value)
    return codes.codes == code if code is not None else np.zeros(size, bool)


class _Lru(Generic[K]):
    """Arrays by key, the ``size`` most recently used; safe to share between threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class _Shelf:
    """One store's catalog in the process, for search: row r is product ``ids[r]``, and variant v belongs to
    row ``owner[v]``. Filters are numpy comparisons over these arrays (a few milliseconds for 100,000
    products), never a Python loop over the products."""

    signature: float
    ids: list[str]
    index: VectorIndex
    category: _Codes  # per row, exact
    attributes: dict[str, _Codes]  # attribute name -> str(value).lower() per row
    owner: np.ndarray  # per variant: its product's row
    price: np.ndarray  # per variant, minor units
    stocked: np.ndarray  # per variant: available and in stock when the shelf was read
    options: dict[str, _Codes]  # option name -> value.lower() per variant
    masks: _Lru[tuple[Any, ...]] = field(default_factory=lambda: _Lru(MASK_CACHE))  # filter -> rows


class Catalog:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self.db = db
        self.embedder = embedder
        self._shelves: dict[str, _Shelf] = {}
        self._vectors: _Lru[str] = _Lru(QUERY_CACHE)  # query text -> embedding
        self._lock = threading.Lock()

    # --- importing ----------------------------------------------------------------------------------------

    def import_store(
        self, account: str, store: StoreData, *, progress: Callable[[int, int], None] | None = None
    ) -> ImportSummary:
        """Replace the account's catalog (and its discount codes, shipping options and promotions) with
        ``store``'s, and add its customers and orders; whole or absent.

        An imported order the account did not have yet (and not cancelled) is also its customer's purchase
        of each product in it, in their interest events at the order's time: what recommendations learn
        from. Importing the same orders again adds none.

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
        from ponder.commerce.store_pricing import write_pricing_rules
        from ponder.commerce.store_rules import rules_json

        now = time.time()
        with self.db.transaction(lock=f"store:{account}") as db:
            for table in ("variants", "products", "categories"):
                db.execute(sql(f"DELETE FROM {table} WHERE account = :account"), {"account": account})
            db.execute(sql("DELETE FROM stores WHERE account = :account"), {"account": account})
            db.execute(
                sql(
                    "INSERT INTO stores (account, name, currency, policy, rules, updated_at) "
                    "VALUES (:account, :name, :currency, :policy, :rules, :now)"
                ),
                {
                    "account": account,
                    "name": store.name,
                    "currency": store.currency,
                    "policy": store.policy,
                    "rules": rules_json(store.rules),
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
            write_pricing_rules(db, account, store)
            customers = write_customers(db, account, store.customers, now)
            new_orders = _new_orders(db, account, store.orders)
            orders = write_orders(db, account, store.orders, store.currency, now)
            write_events(db, account, _purchases(new_orders, store, names, now))
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

    def stores(self) -> list[str]:
        """The accounts that have a store."""
        with self.db.reading() as db:
            return [row[0] for row in db.execute(sql("SELECT account FROM stores ORDER BY account"))]

    def store_info(self, account: str) -> dict[str, Any]:
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT name, currency, policy FROM stores WHERE account = :account"),
                    {"account": account},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"Account '{account}' has no store yet: load one with `ponder shop load FILE` "
                "(or `ponder shop load --demo`)."
            )
        return {"name": row["name"], "currency": row["currency"], "policy": row["policy"]}

    def category_names(self, account: str) -> dict[str, str]:
        """The store's categories: id -> name, a sub-category's with its parent's ("Clothing: Shirts &
        Tops"), as a shopper would call them."""
        with self.db.reading() as db:
            rows = db.execute(
                sql("SELECT id, name, parent FROM categories WHERE account = :account"), {"account": account}
            ).all()
        names = {r.id: r.name for r in rows}
        return {r.id: f"{names[r.parent]}: {r.name}" if r.parent in names else r.name for r in rows}

    def products(self, account: str, ids: Sequence[str]) -> list[ProductView]:
        """The products with these ids, in that order (unknown ids are left out)."""
        if not ids:
            return []
        with self.db.reading() as db:
            found = _read_products(db, account, ids)
        return [found[i] for i in ids if i in found]

    def named(self, account: str, names: Sequence[str]) -> list[ProductView]:
        """The products with exactly these names, in that order (names no product has are left out)."""
        if not names:
            return []
        marks = ", ".join(f":n{i}" for i in range(len(names)))
        with self.db.reading() as db:
            rows = db.execute(
                sql(f"SELECT name, id FROM products WHERE account = :account AND name IN ({marks})"),
                {"account": account} | {f"n{i}": name for i, name in enumerate(names)},
            ).all()
            ids = {name: product_id for name, product_id in rows}
            found = _read_products(db, account, list(ids.values())) if ids else {}
        return [found[ids[n]] for n in dict.fromkeys(names) if n in ids and ids[n] in found]

    def product(self, account: str, product_id: str) -> ProductView:
        found = self.products(account, [product_id])
        if not found:
            raise UnknownProductError(f"No product '{product_id}' in this store.")
        return found[0]

    def variant(self, account: str, variant_id: str) -> tuple[ProductView, Variant]:
        with self.db.reading() as db:
            product_id = db.execute(
                sql("SELECT product_id FROM variants WHERE account = :account AND id = :id"),
                {"account": account, "id": variant_id},
            ).scalar()
            if product_id is None:
                raise UnknownProductError(f"No item '{variant_id}' in this store.")
            view = _read_products(db, account, [product_id])[product_id]
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
        options = options or {}
        shelf = self._shelf(account)
        allowed = self._filter(shelf, min_price, max_price, category, options, attributes or {}, in_stock)
        if vector is None and query and query.strip():
            vector = self.query_vector(query.strip())
        hits: list[SearchHit] = []
        seen: list[int] = []  # rows already ranked (and read) in an earlier round
        for _ in range(SEARCH_ROUNDS):
            wanted = 2 * (k - len(hits))
            mask = allowed
            if seen:
                mask = allowed.copy()
                mask[seen] = False
            if vector is not None:
                ranked = shelf.index.search(vector, wanted, mask)
            else:  # no query: in catalog order
                ranked = [(int(r), 0.0) for r in np.flatnonzero(mask)[:wanted]]
            views = self.products(account, [shelf.ids[r] for r, _ in ranked])
            by_id = {v.id: v for v in views}
            for row, score in ranked:
                view = by_id.get(shelf.ids[row])
                if view is None:  # deleted since the shelf was read
                    continue
                variants = tuple(
                    v
                    for v in (view.in_stock() if in_stock else view.product.variants)
                    if _variant_passes(v, min_price, max_price, options)
                )
                if variants:  # stock read now: a variant sold out since the shelf was read is left out
                    hits.append(SearchHit(view, score, variants))
                if len(hits) == k:
                    return hits
            if len(ranked) < wanted:  # nothing more passes the filters
                break
            seen += [r for r, _ in ranked]  # sold out since the shelf was read: rank the next ones
        return hits

    def query_vector(self, text: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache: a shopper (or the assistant) often asks again."""
        vector = self._vectors.get(text)
        if vector is None:
            vector = np.array(self.embedder.query([text])[0], np.float32)
            vector.setflags(write=False)
            self._vectors.put(text, vector)
        return vector

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
        """The rows that pass the filters (read-only; kept for the next search with the same filters)."""
        wanted_attributes = tuple(sorted((name, str(value).lower()) for name, value in attributes.items()))
        wanted_options = tuple(sorted((name, str(value).lower()) for name, value in options.items()))
        key = (category or None, wanted_attributes, wanted_options, min_price, max_price, in_stock)
        allowed = shelf.masks.get(key)
        if allowed is not None:
            return allowed
        n = len(shelf.ids)
        allowed = np.ones(n, bool)
        if category:
            allowed &= _equal(shelf.category, category, n)
        for name, value in wanted_attributes:
            allowed &= _equal(shelf.attributes.get(name), value, n)
        if wanted_options or min_price is not None or max_price is not None or in_stock:
            passing = shelf.stocked.copy() if in_stock else np.ones(len(shelf.owner), bool)
            if min_price is not None:
                passing &= shelf.price >= min_price
            if max_price is not None:
                passing &= shelf.price <= max_price
            for name, value in wanted_options:
                passing &= _equal(shelf.options.get(name), value, len(shelf.owner))
            has = np.zeros(n, bool)  # a product passes when one of its variants does
            has[shelf.owner[passing]] = True
            allowed &= has
        allowed.setflags(write=False)
        shelf.masks.put(key, allowed)
        return allowed

    def _shelf(self, account: str) -> _Shelf:
        with self.db.reading() as db:
            updated_at = db.execute(
                sql("SELECT updated_at FROM stores WHERE account = :account"), {"account": account}
            ).scalar()
        if updated_at is None:
            self.store_info(account)  # raises the error that says how to load a store
        signature = float(updated_at) if updated_at is not None else 0.0
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
        attributes: dict[str, tuple[list[int], list[str]]] = {}  # name -> (rows, values)
        owner: list[int] = []
        prices: list[int] = []
        stocked: list[bool] = []
        options: dict[str, tuple[list[int], list[str]]] = {}  # name -> (variants, values)
        rows_of: dict[str, int] = {}
        with self.db.reading() as db:
            for product_id, category, product_attributes, vector in db.execute(
                sql(
                    "SELECT id, category, attributes, vector FROM products "
                    "WHERE account = :account ORDER BY id"
                ),
                {"account": account},
            ):
                r = rows_of[product_id] = len(ids)
                ids.append(product_id)
                categories.append(category)
                blobs.append(bytes(vector))
                for name, value in json.loads(product_attributes).items():
                    where, values = attributes.setdefault(name, ([], []))
                    where.append(r)
                    values.append(str(value).lower())
            parsed: dict[str, dict[str, Any]] = {}  # few distinct option sets: each parsed once
            for product_id, variant_options, price, stock, available in db.execute(
                sql(
                    "SELECT product_id, options, price, stock, available FROM variants "
                    "WHERE account = :account"
                ),
                {"account": account},
            ).all():
                product_row = rows_of.get(product_id)
                if product_row is None:
                    continue
                v = len(owner)
                owner.append(product_row)
                prices.append(int(price))
                stocked.append(bool(available) and (stock is None or stock > 0))
                found = parsed.get(variant_options)
                if found is None:
                    found = parsed[variant_options] = json.loads(variant_options)
                for name, value in found.items():
                    where, values = options.setdefault(name, ([], []))
                    where.append(v)
                    values.append(str(value).lower())
        index = VectorIndex(self.embedder.dim, capacity=len(ids))
        if ids:
            matrix = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), self.embedder.dim)
            index.add(range(len(ids)), matrix)
        n, variants = len(ids), len(owner)
        return _Shelf(
            signature,
            ids,
            index,
            _Codes.of(n, range(n), categories),
            {name: _Codes.of(n, *found) for name, found in attributes.items()},
            np.asarray(owner, np.int64),
            np.asarray(prices, np.int64),
            np.asarray(stocked, bool),
            {name: _Codes.of(variants, *found) for name, found in options.items()},
        )


def _new_orders(db: Connection, account: str, orders: Sequence[Order]) -> list[Order]:
    """The orders the account does not have yet."""
    have: set[str] = set()
    ids = [o.id for o in orders]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(f":o{i}" for i in range(len(chunk)))
        params = {"account": account} | {f"o{i}": order_id for i, order_id in enumerate(chunk)}
        have.update(
            db.execute(
                sql(f"SELECT id FROM orders WHERE account = :account AND id IN ({marks})"), params
            ).scalars()
        )
    return [o for o in orders if o.id not in have]


def _purchases(
    orders: Sequence[Order], store: StoreData, names: Mapping[str, str], now: float
) -> list[tuple[str, InterestEvent]]:
    """A purchase event per (order, product) of the orders that were not cancelled, but none for a customer
    who was forgotten (their orders are the store's books, not their interests)."""
    products = {p.id: p for p in store.products}
    forgotten = {c.user_id for c in store.customers if c.forgotten}
    events = []
    for order in orders:
        if order.status == "cancelled" or order.user_id in forgotten:
            continue
        for product_id in dict.fromkeys(item.product_id for item in order.items):
            product = products.get(product_id)
            if product is None:
                continue
            text = product_text(product, names.get(product.category, product.category))[:2000]
            at = float(min(order.created_at or now, now))
            event = InterestEvent(
                kind="purchase", item=product_id, category=product.category, text=text, at=at
            )
            events.append((order.user_id, event))
    return events


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
    for variant_id, product_id, options, price, stock, available in db.execute(
        sql(
            "SELECT id, product_id, options, price, stock, available FROM variants "
            # By product first: ORDER BY id alone makes SQLite walk the primary key over every variant of
            # the account (100 ms at 300,000 variants) instead of the product index.
            f"WHERE account = :account AND product_id IN ({marks}) ORDER BY product_id, id"
        ),
        params,
    ):
        variants.setdefault(product_id, []).append(
            Variant(variant_id, product_id, json.loads(options), int(price), stock, bool(available))
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

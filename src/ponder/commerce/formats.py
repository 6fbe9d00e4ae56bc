"""Store files: load a whole store into a ``StoreData`` from Ponder's own format or from tau2-bench's retail
database, and write one back in Ponder's format.

``load_store`` tells the two apart: a directory holding ``store.json`` (Ponder) or ``db.json`` (tau2), a
JSON object with ``"format": "ponder-store"`` (Ponder), or one with top-level ``products``, ``users`` and
``orders`` and no ``format`` (tau2). Anything else is an unknown format.

- **Ponder's format** is the model as JSON, money in integer cents, lists in file order::

      {"format": "ponder-store", "version": 1, "name": ..., "currency": "USD", "policy": ...,
       "categories": [{"id", "name", "parent"?}],
       "products": [{"id", "name", "category"?, "description"?, "brand"?, "attributes"?, "image_url"?,
                     "reviews"?: [{"author", "rating", "text"}],
                     "variants": [{"id", "options"?, "price", "stock"?, "available"?}]}],
       "products_file"?: "products.jsonl",
       "customers": [{"user_id", "name"?, "email"?, "addresses"?: [{"id", "line1", "city", "country",
                      ...}], "payment_methods"?: [{"id", "kind", "token"?, "brand"?, "last4"?, "balance"?}]}],
       "orders": [{"id", "user_id", "status", "items": [{"variant_id", "price", "quantity"?, "product_id"?,
                   "name"?, "options"?}], "address"? | "address_id"?, "payments"?: [{"kind", "amount",
                   "method_id"}], "created_at"?}]}

  A big catalog goes in a JSONL file named by ``products_file`` (beside store.json, one product per
  line) instead of ``products``. A variant sits under its product and may repeat its ``product_id``; an
  order item's ``product_id``, ``name`` and ``options`` default to its variant's product, name and options
  (what the item was when sold, when they differ); an order's ``address_id`` names one of its customer's
  addresses; ``created_at`` is seconds since 1970 or an ISO 8601 time with a timezone. Unknown fields are
  refused: a typo is an error, not a silently missing value. ``dump_ponder`` writes every field that is not
  its default, so loading what it wrote gives an equal ``StoreData``.
- **tau2-bench retail** (``data/tau2/domains/retail/db.json``, whose models are tau2's
  ``domains/retail/data_model.py``): ``products``, ``users`` and ``orders`` are objects keyed by id.
  Prices and balances are float dollars; each becomes integer cents from the float's shortest decimal
  form, rounded half-even to the cent (``50.88`` is 5088). tau2 has no categories: each distinct product
  name becomes one, its id a slug of the name ("T-Shirt": ``t-shirt``). A user's one address becomes
  their address ``"default"``; an order's address reuses it when equal and is ``"shipping"`` otherwise.
  Credit cards become ``kind="card"`` and PayPal accounts ``kind="paypal"``, each with the test provider's
  token ``tok_test_<payment method id>`` (``tok_test_credit_card_7971769``), which it approves; gift cards
  keep their balance. Statuses are kept, except ``"pending (item modified)"``, which becomes ``"pending"``
  (tau2's rule that items change only once is the policy's to keep, not the status's).
  Payments become charges, refunds stay refunds. tau2 order items have no quantity: each line stays one
  item of quantity 1. Not kept: fulfillments (tracking ids), cancel reasons, the pending exchange and
  return fields, and a user's ``orders`` list (an order's ``user_id`` says whose it is). A ``policy.md``
  beside db.json, as tau2 ships it, becomes the store's policy.

Input is checked whole before anything is returned: a missing file, a file over ``max_bytes``, invalid
JSON (with its line and column), JSON nested far deeper than a store is, or an unknown format stop at
once; otherwise every problem found (wrong types, missing fields, negative money, a product without
variants, duplicate ids, references to unknown categories, products, variants, users, addresses or
payment methods, money, stock or quantities past their limits, names with control characters) is
collected and the first ``MAX_REPORTED`` are raised together in one ``StoreFormatError``, each naming
its file and place (``store.json: products[3].variants[1].price: ...``). Nothing is half-loaded.

A store file may come from anyone, so the files it leads to stay in its folder: the path given is read
as it is, but a file found in that folder by name (``store.json`` or ``db.json`` of a directory, the
``products_file``, ``policy.md``) is refused when it is a link that leads out of the folder, and it must
be a regular file (not a device or a pipe). Money is at most ``MAX_CENTS`` (an order's items together
too), so every amount fits the database's 64-bit integers.

Not here: storing a store (the engine imports a ``StoreData``), writing tau2's format, and any judgement of
the data beyond consistency (prices that look too high, stock that looks wrong).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ponder.commerce.model import (
    Address,
    Category,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    PaymentMethod,
    PaymentRecord,
    Product,
    Review,
    StoreData,
    Variant,
)
from ponder.errors import UserError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_CENTS",
    "MAX_REPORTED",
    "PONDER_FILE",
    "PONDER_FORMAT",
    "PONDER_VERSION",
    "TAU2_FILE",
    "TEST_TOKEN_PREFIX",
    "StoreFormatError",
    "demo_store_path",
    "dump_ponder",
    "load_ponder",
    "load_store",
    "load_tau2",
]

PONDER_FORMAT: Final = "ponder-store"
PONDER_VERSION: Final = 1
PONDER_FILE: Final = "store.json"  # what load_store looks for in a directory, before TAU2_FILE
TAU2_FILE: Final = "db.json"
TAU2_POLICY_FILE: Final = "policy.md"
DEFAULT_MAX_BYTES: Final = 200 * 1024 * 1024  # per file read
MAX_REPORTED: Final = 20  # problems named in one error
MAX_CENTS: Final = 10**12  # any amount, and an order's items together: ten billion in the currency
MAX_STOCK: Final = 10**9
MAX_ITEM_QUANTITY: Final = 10**6  # of one line of an imported order
MAX_TIMESTAMP: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z
TEST_TOKEN_PREFIX: Final = "tok_test_"  # tokens the test payment provider approves

# tau2's order statuses -> ours. "pending (item modified)" is pending whose items were changed once.
TAU2_STATUSES: Final[Mapping[str, OrderStatus]] = {
    "pending": "pending",
    "pending (item modified)": "pending",
    "processed": "processed",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return requested": "return requested",
    "exchange requested": "exchange requested",
}


class StoreFormatError(UserError):
    """A store file that cannot be loaded; nothing was loaded. ``problems``: the first ``MAX_REPORTED``,
    each naming its file and the place in it; ``total``: how many were found."""

    def __init__(self, source: Path, problems: Sequence[str], total: int | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        self.total = len(self.problems) if total is None else total
        if self.total == 1:
            detail = self.problems[0]
        else:
            listed = "".join(f"\n  {p}" for p in self.problems)
            more = f"\n  ... and {self.total - len(self.problems)} more" if self.total > len(problems) else ""
            detail = f"{self.total} problems:{listed}{more}"
        super().__init__(f"cannot load the store {source}: {detail}")


# --- public functions ------------------------------------------------------------------------------------


def load_store(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StoreData:
    """The store in ``path``, in whichever format it is: Ponder's (a ``store.json``, or a directory
    holding one) or tau2 retail's (a ``db.json``, or a directory holding one)."""
    source = Path(path)
    if source.is_dir():
        if (source / PONDER_FILE).is_file():
            return load_ponder(source, max_bytes=max_bytes)
        if (source / TAU2_FILE).is_file():
            return load_tau2(source, max_bytes=max_bytes)
        raise StoreFormatError(source, [f"a directory with neither {PONDER_FILE} nor {TAU2_FILE} in it"])
    if source.suffix == ".jsonl":
        raise StoreFormatError(
            source, [f"{source.name}: a JSONL file holds products only; load the store.json that names it"]
        )
    raw = _read_json(source, max_bytes)
    if isinstance(raw, dict) and "format" in raw:
        return _ponder_store(raw, source, max_bytes)
    if isinstance(raw, dict) and {"products", "users", "orders"} <= raw.keys():
        return _tau2_store(raw, source, name="tau2 retail", policy=_tau2_policy(source, max_bytes))
    raise StoreFormatError(
        source,
        [
            f"{source.name}: unknown store format: expected a Ponder store "
            f'("format": "{PONDER_FORMAT}") or a tau2 retail database (top-level products, users, orders)'
        ],
    )


def load_ponder(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StoreData:
    """The store in a Ponder ``store.json`` (or the directory holding one), with its ``products_file``."""
    source = Path(path)
    if source.is_dir():  # the file is found in the folder: it stays in the folder
        source = _in_folder(source, PONDER_FILE, source / PONDER_FILE)
        return _ponder_store(_read_json(source, max_bytes, follow=False), source, max_bytes)
    return _ponder_store(_read_json(source, max_bytes), source, max_bytes)


def load_tau2(
    path: str | os.PathLike[str],
    *,
    name: str = "tau2 retail",
    policy: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> StoreData:
    """The store in a tau2-bench retail ``db.json`` (or the directory holding one). ``policy``: the
    store's policy; by default the text of the ``policy.md`` beside the file, if there is one."""
    source = Path(path)
    follow = not source.is_dir()
    if not follow:  # the file is found in the folder: it stays in the folder
        source = _in_folder(source, TAU2_FILE, source / TAU2_FILE)
    raw = _read_json(source, max_bytes, follow=follow)
    return _tau2_store(
        raw, source, name=name, policy=_tau2_policy(source, max_bytes) if policy is None else policy
    )


def dump_ponder(store: StoreData, path: str | os.PathLike[str], *, products_file: str | None = None) -> Path:
    """Write ``store`` in Ponder's format to ``path`` (a file, or a directory to hold ``store.json``);
    with ``products_file``, the products go one per line in that JSONL file beside it. Each file is
    replaced whole (written aside, then renamed). Returns the store.json written."""
    target = Path(path)
    if target.is_dir():
        target = target / PONDER_FILE
    doc: dict[str, Any] = {"format": PONDER_FORMAT, "version": PONDER_VERSION}
    doc.update(_plain(store))
    products = doc.pop("products", [])
    if products_file is not None:
        if Path(products_file).name != products_file:
            raise ValueError(f"products_file must be a file name beside {target.name}, not {products_file!r}")
        lines = "".join(json.dumps(p, ensure_ascii=False, allow_nan=False) + "\n" for p in products)
        _write_atomic(target.parent / products_file, lines)
        doc["products_file"] = products_file
    elif products:
        doc["products"] = products
    _write_atomic(target, json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=2) + "\n")
    return target


def demo_store_path() -> Path:
    """The demo store shipped with Ponder: a clothing, outdoor and home shop in Ponder's format."""
    found = resources.files("ponder").joinpath("commerce", "demo", PONDER_FILE)
    if not isinstance(found, Path):  # an install that is not plain files on disk (a zip)
        raise FileNotFoundError(f"the demo store is not a file on disk here: {found}")
    return found


# --- reading files ---------------------------------------------------------------------------------------


class _NotStoreJson(ValueError):
    """JSON that no store file holds: NaN or Infinity, or nesting far deeper than a store's."""


def _refuse_constant(name: str) -> Any:
    raise _NotStoreJson(f"{name} is not a JSON number")


_READ_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a pipe must not block the open
_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


def _read_bytes(path: Path, max_bytes: int, source: Path, *, follow: bool = True) -> bytes:
    """The bytes of the regular file ``path``; ``follow=False``: refused if ``path`` itself is a link."""
    try:
        fd = os.open(path, _READ_FLAGS | (0 if follow else _NO_FOLLOW))
    except FileNotFoundError:
        raise StoreFormatError(source, [f"{path}: no such file"]) from None
    except OSError as err:
        raise StoreFormatError(source, [f"{path}: cannot be read ({err.strerror or err})"]) from None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(fd)
            size = info.st_size
            if not stat.S_ISREG(info.st_mode):
                raise StoreFormatError(source, [f"{path}: not a file"])
            if size > max_bytes:
                raise StoreFormatError(
                    source, [f"{path.name}: {size:,} bytes, over the limit of {max_bytes:,}"]
                )
            data = file.read(max_bytes + 1)
        except OSError as err:
            raise StoreFormatError(source, [f"{path}: cannot be read ({err.strerror or err})"]) from None
    if len(data) > max_bytes:  # it grew while it was read
        raise StoreFormatError(source, [f"{path.name}: over the limit of {max_bytes:,} bytes"])
    return data


def _in_folder(folder: Path, name: str, source: Path) -> Path:
    """The file ``name`` of the store's ``folder``, links resolved; refused if a link leads out of it."""
    found = (folder / name).resolve()
    if not found.is_relative_to(folder.resolve()):
        raise StoreFormatError(
            source, [f"{name}: a link that leads out of the store's folder {folder}: not followed"]
        )
    return found


def _parse_json(data: bytes | str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, which JSON does not have, and nesting deeper than
    Python's JSON reader can go (a store is a few levels deep)."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise _NotStoreJson("nested too deeply (a store is a few levels deep)") from None


def _read_json(path: Path, max_bytes: int, *, follow: bool = True) -> Any:
    data = _read_bytes(path, max_bytes, path, follow=follow)
    try:
        return _parse_json(data)
    except json.JSONDecodeError as err:
        raise StoreFormatError(
            path, [f"{path.name}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"]
        ) from None
    except _NotStoreJson as err:
        raise StoreFormatError(path, [f"{path.name}: invalid JSON: {err}"]) from None
    except UnicodeDecodeError as err:
        raise StoreFormatError(path, [f"{path.name}: not UTF-8 text ({err.reason})"]) from None


def _tau2_policy(db_file: Path, max_bytes: int) -> str:
    if not (db_file.parent / TAU2_POLICY_FILE).is_file():
        return ""
    policy = _in_folder(db_file.parent, TAU2_POLICY_FILE, db_file)
    try:
        return _read_bytes(policy, max_bytes, db_file, follow=False).decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise StoreFormatError(db_file, [f"{policy.name}: not UTF-8 text ({err.reason})"]) from None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- problems --------------------------------------------------------------------------------------------

# Fields whose next location part is a key chosen by the data (written ["key"]), not a field name.
_KEYED: Final = frozenset(
    {"products", "users", "orders", "variants", "payment_methods", "options", "attributes"}
)
_MONEY: Final = frozenset({"price", "amount", "balance"})


def _where(prefix: str, loc: Sequence[str | int]) -> str:
    """A pydantic location as a path: ``products[3].variants[1].price``, ``users["ann"].email``."""
    out, field_before = prefix, ""
    for part in loc:
        if isinstance(part, int):
            out, field_before = f"{out}[{part}]", ""
        elif field_before in _KEYED:
            out, field_before = f"{out}[{json.dumps(part, ensure_ascii=False)}]", ""
        else:
            out, field_before = _at(out, part), part
    return out


@dataclass
class _Problems:
    """The problems of one load: the first MAX_REPORTED, each ``file: where: what``, and how many in all."""

    source: Path
    listed: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, file: str, where: str, what: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_REPORTED:
            self.listed.append(f"{file}: {where}: {what}" if where else f"{file}: {what}")

    def add_invalid(self, file: str, prefix: str, err: ValidationError) -> None:
        for e in err.errors(include_url=False):
            what = e["msg"]
            given = e.get("input")
            if e["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict | list):
                what += f" (got {json.dumps(given, ensure_ascii=False)[:60]})"
            if e["type"] == "int_type" and e["loc"] and e["loc"][-1] in _MONEY:
                what += "; money is an integer number of cents"
            self.add(file, _where(prefix, e["loc"]), what)

    def raise_any(self) -> None:
        if self.total:
            raise StoreFormatError(self.source, self.listed, self.total)


def _duplicates(ids: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index, id) of every id already seen earlier in ``ids``."""
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            yield i, item
        seen.add(item)


# --- Ponder's format -------------------------------------------------------------------------------------

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("a name is one line of text, without control characters")
    return text


_Id = Annotated[str, Field(min_length=1)]
_Name = Annotated[str, AfterValidator(_one_line)]  # shown on one line: in summaries, on the terminal
_Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _PCategory(_Strict):
    id: _Id
    name: _Name
    parent: str | None = None


class _PVariant(_Strict):
    id: _Id
    product_id: str | None = None  # optional: the product it is listed under
    options: dict[str, str] = {}
    price: _Cents
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)] | None = None
    available: bool = True


class _PReview(_Strict):
    author: str
    rating: Annotated[int, Field(ge=1, le=5)]
    text: str


class _PProduct(_Strict):
    id: _Id
    name: _Name
    variants: list[_PVariant]
    category: str = ""
    description: str = ""
    brand: str = ""
    attributes: dict[str, Any] = {}  # str, int, float or bool values: checked by _attribute_problems
    reviews: list[_PReview] = []
    image_url: str = ""


class _PAddress(_Strict):
    id: _Id
    line1: str
    city: str
    country: str
    line2: str = ""
    state: str = ""
    zip: str = ""
    name: str = ""


class _PPaymentMethod(_Strict):
    id: _Id
    kind: Literal["card", "gift_card", "paypal"]
    token: str = ""
    brand: str = ""
    last4: str = ""
    balance: _Cents | None = None


class _PCustomer(_Strict):
    user_id: _Id
    name: str = ""
    email: str = ""
    addresses: list[_PAddress] = []
    payment_methods: list[_PPaymentMethod] = []


class _POrderItem(_Strict):
    variant_id: _Id
    price: _Cents  # each, as sold
    quantity: Annotated[int, Field(ge=1, le=MAX_ITEM_QUANTITY)] = 1
    product_id: str | None = None  # these three default to the variant's
    name: _Name | None = None
    options: dict[str, str] | None = None


class _PPayment(_Strict):
    kind: Literal["charge", "refund"]
    amount: _Cents
    method_id: _Id


class _POrder(_Strict):
    id: _Id
    user_id: _Id
    status: OrderStatus
    items: list[_POrderItem]
    address: _PAddress | None = None
    address_id: str | None = None  # or: one of the customer's addresses, by id
    payments: list[_PPayment] = []
    created_at: Any = None  # seconds since 1970 or ISO 8601 with a timezone: checked by _timestamp


class _PStore(_Strict):
    format: str
    version: int
    name: _Name
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    policy: str = ""
    categories: list[_PCategory] = []
    products: list[Any] = []  # each checked as a _PProduct, so that JSONL lines get their own places
    products_file: str | None = None
    customers: list[_PCustomer] = []
    orders: list[_POrder] = []


def _ponder_store(raw: Any, source: Path, max_bytes: int) -> StoreData:
    file = source.name
    if not isinstance(raw, dict):
        raise StoreFormatError(source, [f"{file}: a store is a JSON object, not {_json_type(raw)}"])
    if raw.get("format") != PONDER_FORMAT:
        found = raw.get("format")
        raise StoreFormatError(
            source, [f"{file}: format: unknown store format {found!r} (expected {PONDER_FORMAT!r})"]
        )
    if raw.get("version") != PONDER_VERSION:
        found = raw.get("version")
        raise StoreFormatError(
            source, [f"{file}: version: {found!r} is not one this Ponder reads ({PONDER_VERSION})"]
        )
    problems = _Problems(source)
    try:
        doc: _PStore | None = _PStore.model_validate(raw)
    except ValidationError as err:
        problems.add_invalid(file, "", err)
        doc = None
    # Products are validated one by one, each at its own place: products[i], or a line of the JSONL file.
    inline = raw.get("products")
    placed = [(file, f"products[{i}]", p) for i, p in enumerate(inline)] if isinstance(inline, list) else []
    products_file = raw.get("products_file")
    if isinstance(products_file, str):
        if inline:
            problems.add(file, "products_file", "a store has products or a products_file, not both")
        elif Path(products_file).name != products_file:
            problems.add(file, "products_file", f"{products_file!r} must be a file name beside {file}")
        else:
            found = _in_folder(source.parent, products_file, source)
            placed = list(_jsonl_products(found, max_bytes, source, problems))
    products: list[tuple[str, str, _PProduct]] = []
    for pfile, where, given in placed:
        try:
            products.append((pfile, where, _PProduct.model_validate(given)))
        except ValidationError as err:
            problems.add_invalid(pfile, where, err)
    if doc is None:
        raise StoreFormatError(source, problems.listed, problems.total)
    store = _PonderBuilder(file, problems).build(doc, products)
    problems.raise_any()
    return store


def _jsonl_products(
    path: Path, max_bytes: int, source: Path, problems: _Problems
) -> Iterator[tuple[str, str, Any]]:
    """(file and line, "", the parsed line) for each non-blank line; a line that is not JSON is a problem."""
    for n, line in enumerate(_read_bytes(path, max_bytes, source, follow=False).splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{path.name}, line {n}"
        try:
            yield at, "", _parse_json(line)
        except json.JSONDecodeError as err:
            problems.add(at, "", f"invalid JSON at column {err.colno}: {err.msg}")
        except (_NotStoreJson, UnicodeDecodeError) as err:
            problems.add(at, "", f"invalid JSON: {err}")


class _PonderBuilder:
    """Checks what pydantic cannot (ids, references) and builds the dataclasses, noting each problem."""

    def __init__(self, file: str, problems: _Problems) -> None:
        self.file = file
        self.problems = problems
        self.variants: dict[str, tuple[Variant, Product]] = {}  # variant id -> it and its product

    def note(self, where: str, what: str, file: str | None = None) -> None:
        self.problems.add(file or self.file, where, what)

    def build(self, doc: _PStore, products: Sequence[tuple[str, str, _PProduct]]) -> StoreData:
        categories = self.categories(doc.categories)
        built = self.products(products, {c.id for c in categories})
        customers = self.customers(doc.customers)
        orders = self.orders(doc.orders, {c.user_id: c for c in customers})
        return StoreData(
            name=doc.name,
            currency=doc.currency,
            categories=categories,
            products=built,
            customers=customers,
            orders=orders,
            policy=doc.policy,
        )

    def categories(self, given: Sequence[_PCategory]) -> tuple[Category, ...]:
        for i, cid in _duplicates([c.id for c in given]):
            self.note(f"categories[{i}].id", f"duplicate category id {cid!r}")
        parents = {c.id: c.parent for c in given}
        for i, c in enumerate(given):
            if c.parent is not None and c.parent not in parents:
                self.note(f"categories[{i}].parent", f"unknown category {c.parent!r}")
                continue
            seen: set[str] = {c.id}
            at = c.parent
            while at is not None and at not in seen:
                seen.add(at)
                at = parents.get(at)
            if at == c.id:
                self.note(f"categories[{i}].parent", f"category {c.id!r} is its own ancestor")
        return tuple(Category(**c.model_dump()) for c in given)

    def products(
        self, given: Sequence[tuple[str, str, _PProduct]], categories: set[str]
    ) -> tuple[Product, ...]:
        out: list[Product] = []
        seen: set[str] = set()
        for file, where, p in given:
            if p.id in seen:
                self.note(_at(where, "id"), f"duplicate product id {p.id!r}", file)
            seen.add(p.id)
            if p.category and p.category not in categories:
                self.note(_at(where, "category"), f"unknown category {p.category!r}", file)
            if not p.variants:
                self.note(_at(where, "variants"), "a product needs at least one variant", file)
            for name, what in _attribute_problems(p.attributes):
                self.note(_at(where, f"attributes[{json.dumps(name)}]"), what, file)
            product = Product(
                **p.model_dump(exclude={"variants", "reviews"}),
                variants=tuple(
                    Variant(**v.model_dump(exclude={"product_id"}), product_id=p.id) for v in p.variants
                ),
                reviews=tuple(Review(**r.model_dump()) for r in p.reviews),
            )
            for j, v in enumerate(p.variants):
                if v.product_id is not None and v.product_id != p.id:
                    what = f"names product {v.product_id!r} but is listed under {p.id!r}"
                    self.note(_at(where, f"variants[{j}].product_id"), what, file)
                if v.id in self.variants:
                    self.note(_at(where, f"variants[{j}].id"), f"duplicate variant id {v.id!r}", file)
                else:
                    self.variants[v.id] = (product.variants[j], product)
            out.append(product)
        return tuple(out)

    def customers(self, given: Sequence[_PCustomer]) -> tuple[Customer, ...]:
        for i, uid in _duplicates([c.user_id for c in given]):
            self.note(f"customers[{i}].user_id", f"duplicate user id {uid!r}")
        for i, c in enumerate(given):
            for j, aid in _duplicates([a.id for a in c.addresses]):
                self.note(f"customers[{i}].addresses[{j}].id", f"duplicate address id {aid!r}")
            for j, mid in _duplicates([m.id for m in c.payment_methods]):
                self.note(f"customers[{i}].payment_methods[{j}].id", f"duplicate payment method id {mid!r}")
            for j, m in enumerate(c.payment_methods):
                for what in _payment_method_problems(m.kind, m.token, m.last4, m.balance):
                    self.note(f"customers[{i}].payment_methods[{j}]", what)
        return tuple(
            Customer(
                **c.model_dump(exclude={"addresses", "payment_methods"}),
                addresses=tuple(Address(**a.model_dump()) for a in c.addresses),
                payment_methods=tuple(PaymentMethod(**m.model_dump()) for m in c.payment_methods),
            )
            for c in given
        )

    def orders(self, given: Sequence[_POrder], customers: Mapping[str, Customer]) -> tuple[Order, ...]:
        for i, oid in _duplicates([o.id for o in given]):
            self.note(f"orders[{i}].id", f"duplicate order id {oid!r}")
        return tuple(self.order(f"orders[{i}]", o, customers.get(o.user_id)) for i, o in enumerate(given))

    def order(self, where: str, o: _POrder, customer: Customer | None) -> Order:
        if customer is None:
            self.note(f"{where}.user_id", f"unknown user {o.user_id!r}")
        if not o.items:
            self.note(f"{where}.items", "an order needs at least one item")
        items = tuple(self.order_item(f"{where}.items[{j}]", item) for j, item in enumerate(o.items))
        for what in _order_money_problems(
            [i.price * i.quantity for i in items], [p.amount for p in o.payments]
        ):
            self.note(where, what)
        address = Address(**o.address.model_dump()) if o.address is not None else None
        if o.address_id is not None:
            if o.address is not None:
                self.note(f"{where}.address_id", "an order has an address or an address_id, not both")
            address = (
                next((a for a in customer.addresses if a.id == o.address_id), None) if customer else None
            )
            if address is None and customer is not None:
                self.note(f"{where}.address_id", f"{o.user_id!r} has no address {o.address_id!r}")
        if customer is not None:
            methods = {m.id for m in customer.payment_methods}
            for j, pay in enumerate(o.payments):
                if pay.method_id not in methods:
                    what = f"{o.user_id!r} has no payment method {pay.method_id!r}"
                    self.note(f"{where}.payments[{j}].method_id", what)
        try:
            created_at = _timestamp(o.created_at)
        except ValueError as err:
            self.note(f"{where}.created_at", str(err))
            created_at = None
        return Order(
            id=o.id,
            user_id=o.user_id,
            status=o.status,
            items=items,
            address=address,
            payments=tuple(PaymentRecord(**p.model_dump()) for p in o.payments),
            created_at=created_at,
        )

    def order_item(self, where: str, item: _POrderItem) -> OrderItem:
        found = self.variants.get(item.variant_id)
        if found is None:
            self.note(f"{where}.variant_id", f"unknown variant {item.variant_id!r}")
            return OrderItem(
                **item.model_dump(exclude={"product_id", "name", "options"}),
                product_id=item.product_id or "",
                name=item.name or "",
                options=item.options or {},
            )
        variant, product = found
        if item.product_id is not None and item.product_id != product.id:
            what = f"variant {item.variant_id!r} is of product {product.id!r}, not {item.product_id!r}"
            self.note(f"{where}.product_id", what)
        return OrderItem(
            **item.model_dump(exclude={"product_id", "name", "options"}),
            product_id=product.id if item.product_id is None else item.product_id,
            name=product.name if item.name is None else item.name,
            options=dict(variant.options if item.options is None else item.options),
        )


def _at(where: str, sub: str) -> str:
    """``where`` and a place inside it: ``products[3]`` and ``id`` make ``products[3].id``."""
    return f"{where}.{sub}" if where else sub


def _attribute_problems(attributes: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, what is wrong) for each attribute that is not a string, a finite number or true/false."""
    for name, value in attributes.items():
        if not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            yield name, f"must be a string, a number or true/false, not {_json_type(value)}"


def _order_money_problems(lines: Sequence[int], payments: Sequence[int]) -> Iterator[str]:
    """An order whose items (each line's price times quantity) or payments add up past MAX_CENTS."""
    if sum(lines) > MAX_CENTS:
        yield f"its items add up to more than {MAX_CENTS:,} cents"
    if sum(payments) > MAX_CENTS:
        yield f"its payments add up to more than {MAX_CENTS:,} cents"


def _payment_method_problems(kind: str, token: str, last4: str, balance: int | None) -> Iterator[str]:
    if kind in ("card", "paypal") and not token:
        yield f"a {kind} needs the payment provider's token"
    if last4 and not re.fullmatch(r"\d{4}", last4):
        yield f"last4 must be four digits, not {last4!r}"
    if kind == "gift_card" and balance is None:
        yield "a gift card needs a balance"
    if kind != "gift_card" and balance is not None:
        yield "only a gift card has a balance"


def _timestamp(value: object) -> float | None:
    """Seconds since 1970 from a number or an ISO 8601 time with a timezone; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if not 0 <= value <= MAX_TIMESTAMP:
            raise ValueError(f"{value!r} is not a time between 1970 and 9999")
        return float(value)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError(f"{value!r} has no timezone (add Z or +00:00)")
        if not 0 <= when.timestamp() <= MAX_TIMESTAMP:
            raise ValueError(f"{value!r} is not a time between 1970 and 9999")
        return when.timestamp()
    raise ValueError(f"must be seconds since 1970 or an ISO 8601 time, not {_json_type(value)}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- writing Ponder's format -----------------------------------------------------------------------------

# Fields dump_ponder leaves out because the nesting says them: a variant's product.
_NOT_WRITTEN: Final[Mapping[type, frozenset[str]]] = {Variant: frozenset({"product_id"})}


def _plain(value: Any) -> Any:
    """A model value as JSON data: dataclasses as objects without the fields at their defaults."""
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        skip = _NOT_WRITTEN.get(type(value), frozenset())
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name in skip:
                continue
            if f.default is not MISSING and item == f.default:
                continue
            if f.default_factory is not MISSING and item == f.default_factory():
                continue
            out[f.name] = _plain(item)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --- tau2-bench retail -----------------------------------------------------------------------------------

_Dollars = Annotated[float, Field(ge=0, le=MAX_CENTS / 100, allow_inf_nan=False)]


class _Tau2(BaseModel):
    # Strict types, but fields tau2 adds along the way (cancel_reason, exchange_items, ...) are ignored.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _T2Variant(_Tau2):
    item_id: _Id
    options: dict[str, str]
    available: bool
    price: _Dollars


class _T2Product(_Tau2):
    name: _Name
    product_id: _Id
    variants: dict[str, _T2Variant]


class _T2Name(_Tau2):
    first_name: str
    last_name: str


class _T2Address(_Tau2):
    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class _T2PaymentMethod(_Tau2):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: _Id
    brand: str = ""  # credit cards
    last_four: str = ""  # credit cards
    balance: _Dollars | None = None  # gift cards


class _T2User(_Tau2):
    user_id: _Id
    name: _T2Name
    address: _T2Address
    email: str
    payment_methods: dict[str, _T2PaymentMethod]


class _T2OrderItem(_Tau2):
    name: _Name
    product_id: str
    item_id: str
    price: _Dollars
    options: dict[str, str]


class _T2Payment(_Tau2):
    transaction_type: Literal["payment", "refund"]
    amount: _Dollars
    payment_method_id: str


class _T2Order(_Tau2):
    order_id: _Id
    user_id: str
    address: _T2Address
    items: list[_T2OrderItem]
    status: Literal[
        "pending",
        "pending (item modified)",
        "processed",
        "delivered",
        "cancelled",
        "return requested",
        "exchange requested",
    ]
    payment_history: list[_T2Payment]


class _T2Db(_Tau2):
    products: dict[str, _T2Product]
    users: dict[str, _T2User]
    orders: dict[str, _T2Order]


def _cents(dollars: float) -> int:
    """Dollars as integer cents: the float's shortest decimal form, rounded half-even to the cent."""
    return int((Decimal(repr(dollars)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def _tau2_store(raw: Any, source: Path, *, name: str, policy: str) -> StoreData:
    problems = _Problems(source)
    try:
        db = _T2Db.model_validate(raw)
    except ValidationError as err:
        problems.add_invalid(source.name, "", err)
        raise StoreFormatError(source, problems.listed, problems.total) from None
    builder = _Tau2Builder(source.name, problems)
    store = StoreData(
        name=name,
        currency="USD",
        products=builder.products(db.products),
        categories=tuple(builder.categories.values()),
        customers=builder.customers(db.users),
        orders=builder.orders(db.orders),
        policy=policy,
    )
    problems.raise_any()
    return store


class _Tau2Builder:
    def __init__(self, file: str, problems: _Problems) -> None:
        self.file = file
        self.problems = problems
        self.categories: dict[str, Category] = {}  # product name -> its category
        self.variants: dict[str, str] = {}  # item id -> product id
        self.by_user: dict[str, Customer] = {}

    def note(self, where: str, what: str) -> None:
        self.problems.add(self.file, where, what)

    def category(self, product_name: str) -> str:
        if product_name not in self.categories:
            taken = {c.id for c in self.categories.values()}
            slug, n = _slug(product_name), 2
            cid = slug
            while cid in taken:
                cid, n = f"{slug}-{n}", n + 1
            self.categories[product_name] = Category(id=cid, name=product_name)
        return self.categories[product_name].id

    def products(self, given: Mapping[str, _T2Product]) -> tuple[Product, ...]:
        out: list[Product] = []
        for key, p in given.items():
            where = f"products[{json.dumps(key)}]"
            if p.product_id != key:
                self.note(f"{where}.product_id", f"{p.product_id!r} is not the key it is filed under")
            if not p.variants:
                self.note(f"{where}.variants", "a product needs at least one variant")
            variants: list[Variant] = []
            for vkey, v in p.variants.items():
                vwhere = f"{where}.variants[{json.dumps(vkey)}]"
                if v.item_id != vkey:
                    self.note(f"{vwhere}.item_id", f"{v.item_id!r} is not the key it is filed under")
                if v.item_id in self.variants:
                    self.note(f"{vwhere}.item_id", f"duplicate item id {v.item_id!r}")
                self.variants.setdefault(v.item_id, p.product_id)
                variants.append(
                    Variant(
                        id=v.item_id,
                        product_id=p.product_id,
                        options=dict(v.options),
                        price=_cents(v.price),
                        available=v.available,
                    )
                )
            out.append(
                Product(
                    id=p.product_id, name=p.name, variants=tuple(variants), category=self.category(p.name)
                )
            )
        return tuple(out)

    def customers(self, given: Mapping[str, _T2User]) -> tuple[Customer, ...]:
        for key, u in given.items():
            where = f"users[{json.dumps(key)}]"
            if u.user_id != key:
                self.note(f"{where}.user_id", f"{u.user_id!r} is not the key it is filed under")
            full_name = f"{u.name.first_name} {u.name.last_name}".strip()
            methods: list[PaymentMethod] = []
            for mkey, m in u.payment_methods.items():
                mwhere = f"{where}.payment_methods[{json.dumps(mkey)}]"
                if m.id != mkey:
                    self.note(f"{mwhere}.id", f"{m.id!r} is not the key it is filed under")
                methods.append(self.payment_method(mwhere, m))
            self.by_user[u.user_id] = Customer(
                user_id=u.user_id,
                name=full_name,
                email=u.email,
                addresses=(_tau2_address("default", u.address, full_name),),
                payment_methods=tuple(methods),
            )
        return tuple(self.by_user.values())

    def payment_method(self, where: str, m: _T2PaymentMethod) -> PaymentMethod:
        if m.source == "gift_card":
            if m.balance is None:
                self.note(f"{where}.balance", "a gift card needs a balance")
            return PaymentMethod(id=m.id, kind="gift_card", balance=_cents(m.balance or 0.0))
        token = TEST_TOKEN_PREFIX + m.id
        if m.source == "paypal":
            return PaymentMethod(id=m.id, kind="paypal", token=token)
        if not re.fullmatch(r"\d{4}", m.last_four):
            self.note(f"{where}.last_four", f"must be four digits, not {m.last_four!r}")
        return PaymentMethod(id=m.id, kind="card", token=token, brand=m.brand, last4=m.last_four)

    def orders(self, given: Mapping[str, _T2Order]) -> tuple[Order, ...]:
        return tuple(self.order(f"orders[{json.dumps(key)}]", key, o) for key, o in given.items())

    def order(self, where: str, key: str, o: _T2Order) -> Order:
        if o.order_id != key:
            self.note(f"{where}.order_id", f"{o.order_id!r} is not the key it is filed under")
        customer = self.by_user.get(o.user_id)
        if customer is None:
            self.note(f"{where}.user_id", f"unknown user {o.user_id!r}")
        if not o.items:
            self.note(f"{where}.items", "an order needs at least one item")
        for j, item in enumerate(o.items):
            product_id = self.variants.get(item.item_id)
            if product_id is None:
                self.note(f"{where}.items[{j}].item_id", f"unknown item {item.item_id!r}")
            elif product_id != item.product_id:
                what = f"item {item.item_id!r} is of product {product_id!r}, not {item.product_id!r}"
                self.note(f"{where}.items[{j}].product_id", what)
        address = _tau2_address("shipping", o.address, customer.name if customer else "")
        if customer is not None:
            methods = {m.id for m in customer.payment_methods}
            for j, pay in enumerate(o.payment_history):
                if pay.payment_method_id not in methods:
                    what = f"{o.user_id!r} has no payment method {pay.payment_method_id!r}"
                    self.note(f"{where}.payment_history[{j}].payment_method_id", what)
            if replace(address, id="default") == customer.addresses[0]:
                address = customer.addresses[0]
        for what in _order_money_problems(
            [_cents(i.price) for i in o.items], [_cents(p.amount) for p in o.payment_history]
        ):
            self.note(where, what)
        items = (
            OrderItem(
                variant_id=i.item_id,
                product_id=i.product_id,
                name=i.name,
                options=i.options,
                price=_cents(i.price),
            )
            for i in o.items
        )
        payments = (
            PaymentRecord(
                kind="charge" if p.transaction_type == "payment" else "refund",
                amount=_cents(p.amount),
                method_id=p.payment_method_id,
            )
            for p in o.payment_history
        )
        return Order(
            id=o.order_id,
            user_id=o.user_id,
            status=TAU2_STATUSES[o.status],
            items=tuple(items),
            address=address,
            payments=tuple(payments),
        )


def _tau2_address(address_id: str, a: _T2Address, name: str) -> Address:
    return Address(
        id=address_id,
        line1=a.address1,
        line2=a.address2,
        city=a.city,
        state=a.state,
        country=a.country,
        zip=a.zip,
        name=name,
    )

"""Convert a UCP sample store (the CSV folder the conformance suite ships, e.g. ``test_data/flower_shop``)
into Ponder's store file, so the bench loads it through Ponder's own import (``ponder shop load`` /
``load_store``).

Ponder's import reads its own ``store.json`` and tau2-bench's ``db.json``; it cannot read these CSVs, so this
is the smallest general converter, by column name only (no id, product or file content is recognised):

- ``products.csv`` (id, title, price in cents, image_url) + ``inventory.csv`` (product_id, quantity): one
  product per row with one variant of the same id, its price and stock (no inventory row: no stock limit).
- ``customers.csv`` (id, name, email) + ``addresses.csv`` (id, customer_id, street_address, city, state,
  postal_code, country): a customer per row, user id = email lower-cased (as the UCP layer names its buyer),
  with their addresses.

- ``discounts.csv`` (code, type percentage|fixed_amount, value, description): the store's
  ``discount_codes``;
- ``shipping_rates.csv`` (id, country_code or ``default``, service_level, price, title): its
  ``shipping_options`` (``default``: no ``countries``, the rest of the world) with their service level: a
  country's rate replaces the default rate of the same level (commerce/pricing.py);
- ``promotions.csv`` (id, type free_shipping, min_subtotal, eligible_item_ids): ``promotions`` of kind
  free_shipping over ``min_subtotal``, limited to carts holding one of ``eligible_item_ids`` (``items``).

Not converted, because Ponder's store format has nowhere to put them (what a real importer in src/ needs,
issue 20 "merchant concepts"):

- ``payment_instruments.csv`` (id, type, brand, last_digits, token, handler_id): instruments bound to a
  payment handler id, and tied to no customer (Ponder's saved methods belong to a customer);
- an importer for this CSV folder format itself (``load_store`` telling it apart by ``products.csv``).

``skipped`` lists the files present and not converted, for the bench to report.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_CONVERTED = ("payment_instruments.csv",)


@dataclass
class Converted:
    store: dict[str, Any]  # a Ponder store file's JSON
    skipped: list[str] = field(default_factory=list)  # files present that Ponder's format cannot hold


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / name
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


def convert(folder: Path, *, name: str | None = None, currency: str = "USD") -> Converted:
    """The store file for the CSV store in ``folder`` (its name defaults to the folder's)."""
    stock = {r["product_id"]: int(r["quantity"]) for r in _rows(folder, "inventory.csv")}
    products = []
    for r in _rows(folder, "products.csv"):
        variant: dict[str, Any] = {"id": r["id"], "price": int(r["price"])}
        if r["id"] in stock:
            variant["stock"] = stock[r["id"]]
        product: dict[str, Any] = {"id": r["id"], "name": r["title"], "variants": [variant]}
        if r.get("image_url"):
            product["image_url"] = r["image_url"]
        products.append(product)
    addresses: dict[str, list[dict[str, str]]] = {}
    for r in _rows(folder, "addresses.csv"):
        address = {"id": r["id"], "line1": r["street_address"], "city": r["city"], "country": r["country"]}
        address |= {k: r[c] for k, c in (("state", "state"), ("zip", "postal_code")) if r.get(c)}
        addresses.setdefault(r["customer_id"], []).append(address)
    customers = []
    for r in _rows(folder, "customers.csv"):
        customer: dict[str, Any] = {"user_id": r["email"].lower() or r["id"], "name": r["name"]}
        if r["email"]:
            customer["email"] = r["email"]
        if r["id"] in addresses:
            customer["addresses"] = addresses[r["id"]]
        customers.append(customer)
    skipped = [n for n in NOT_CONVERTED if (folder / n).is_file()]
    codes = [
        {"code": r["code"], "kind": r["type"], "value": int(r["value"])}
        | ({"title": r["description"]} if r.get("description") else {})
        for r in _rows(folder, "discounts.csv")
    ]
    options = [
        {"id": r["id"], "title": r["title"] or r["id"], "price": int(r["price"])}
        | ({} if r["country_code"].lower() == "default" else {"countries": [r["country_code"].upper()]})
        | ({"service_level": r["service_level"].lower()} if r.get("service_level") else {})
        for r in _rows(folder, "shipping_rates.csv")
    ]
    promotions = []
    for r in _rows(folder, "promotions.csv"):
        if r["type"] != "free_shipping":
            skipped.append(f"promotions.csv: {r['id']} (kind {r['type']!r})")
            continue
        promotion: dict[str, Any] = {
            "id": r["id"],
            "kind": "free_shipping",
            "title": r.get("description") or r["id"],
        }
        if r.get("min_subtotal"):
            promotion["min_subtotal"] = int(r["min_subtotal"])
        items = json.loads(r.get("eligible_item_ids") or "[]")  # the store's item ids
        if items:
            promotion["items"] = [str(i) for i in items]
        promotions.append(promotion)
    store = {
        "format": "ponder-store",
        "version": 1,
        "name": name or folder.name.replace("_", " ").title(),
        "currency": currency,
        "categories": [],
        "products": products,
        "customers": customers,
        "orders": [],
        "discount_codes": codes,
        "shipping_options": options,
        "promotions": promotions,
    }
    return Converted(store, skipped)

"""What the store-file tests share: the tau2 sample, a small valid Ponder store to mutate into bad ones,
and a helper that loads a file expecting a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.commerce.formats import StoreFormatError, load_store
from ponder.errors import UserError

TAU2_SAMPLE = Path(__file__).parent.parent / "data" / "tau2_retail_sample.json"

Doc = dict[str, Any]


def tau2_doc() -> Doc:
    return json.loads(TAU2_SAMPLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def ponder_doc() -> Doc:
    """A small valid Ponder store, for mutating into bad ones."""
    return {
        "format": "ponder-store",
        "version": 1,
        "name": "Test shop",
        "currency": "EUR",
        "policy": "Returns within 30 days.",
        "categories": [
            {"id": "clothing", "name": "Clothing"},
            {"id": "shoes", "name": "Shoes", "parent": "clothing"},
        ],
        "products": [
            {
                "id": "tee",
                "name": "Tee",
                "category": "clothing",
                "attributes": {"material": "cotton", "weight_g": 180, "organic": True, "rating": 4.5},
                "reviews": [{"author": "ann", "rating": 5, "text": "Soft."}],
                "variants": [
                    {"id": "tee-red-m", "options": {"color": "red", "size": "M"}, "price": 1999, "stock": 3},
                    {
                        "id": "tee-red-l",
                        "options": {"color": "red", "size": "L"},
                        "price": 1999,
                        "available": False,
                    },
                ],
            },
            {
                "id": "clog",
                "name": "Clog",
                "category": "shoes",
                "variants": [{"id": "clog-40", "options": {"size": "40"}, "price": 4500}],
            },
        ],
        "customers": [
            {
                "user_id": "ann",
                "name": "Ann",
                "addresses": [{"id": "home", "line1": "1 Quay", "city": "Brest", "country": "FR"}],
                "payment_methods": [
                    {
                        "id": "visa",
                        "kind": "card",
                        "token": "tok_test_visa_4242",
                        "brand": "visa",
                        "last4": "4242",
                    },
                    {"id": "gift", "kind": "gift_card", "balance": 1000},
                ],
            }
        ],
        "orders": [
            {
                "id": "o1",
                "user_id": "ann",
                "status": "delivered",
                "items": [{"variant_id": "tee-red-m", "price": 1799, "quantity": 2}],
                "address_id": "home",
                "payments": [{"kind": "charge", "amount": 3598, "method_id": "visa"}],
                "created_at": "2025-05-01T12:00:00+00:00",
            }
        ],
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def refusal(path: Path, **kwargs: Any) -> str:
    with pytest.raises(StoreFormatError) as caught:
        load_store(path, **kwargs)
    assert isinstance(caught.value, UserError)
    return str(caught.value)


def set_at(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets ``a.0.b`` (dots; numbers index lists) to ``value``."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate

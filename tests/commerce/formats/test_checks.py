"""Problems are collected and reported together, named by file and place, and capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.commerce.formats import MAX_REPORTED, StoreFormatError, load_store

from .conftest import ponder_doc, write


def test_problems_are_reported_together(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["products"][1]["variants"] = []
    doc["orders"][0]["user_id"] = "bob"
    with pytest.raises(StoreFormatError) as caught:
        load_store(write(tmp_path / "store.json", doc))
    assert caught.value.total == 2
    assert "2 problems" in str(caught.value)
    assert [p.split(":")[1].strip() for p in caught.value.problems] == [
        "products[1].variants",
        "orders[0].user_id",
    ]


def test_many_problems_are_capped(tmp_path: Path) -> None:
    doc = ponder_doc()
    doc["products"] = [
        {"id": f"p{i}", "name": "P", "variants": [{"id": f"v{i}", "price": -1}]}
        for i in range(MAX_REPORTED + 5)
    ]
    doc["orders"] = []
    with pytest.raises(StoreFormatError) as caught:
        load_store(write(tmp_path / "store.json", doc))
    assert caught.value.total == MAX_REPORTED + 5
    assert len(caught.value.problems) == MAX_REPORTED
    assert str(caught.value).endswith("... and 5 more")

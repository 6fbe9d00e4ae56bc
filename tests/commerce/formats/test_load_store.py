"""``load_store`` tells the formats apart, and refuses what is neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import refusal, write


def test_directory_without_a_store(tmp_path: Path) -> None:
    assert "neither store.json nor db.json" in refusal(tmp_path)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"products": {}, "users": {}}, "unknown store format"),
        ([1, 2], "unknown store format"),
        ({"format": "shopify-export", "version": 1}, "format: unknown store format 'shopify-export'"),
        ({"format": "ponder-store", "version": 2, "name": "x"}, "version: 2 is not one this Ponder reads"),
    ],
)
def test_unknown_format(tmp_path: Path, doc: Any, expected: str) -> None:
    assert expected in refusal(write(tmp_path / "x.json", doc))


def test_jsonl_alone_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    assert "holds products only" in refusal(path)

"""``ponder shop export``: the store written back out as a store file, to stdout or a file, which ``ponder
shop load`` reads back into the same store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.commerce.formats import load_store

from .test_shop import run


def test_export_writes_the_store_with_its_order_history_and_load_reads_it_back(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    run("shop", "fulfil", "HP-1004", "--status", "processed", "--carrier", "UPS", "--tracking", "1Z999AA1")
    exported = json.loads(run("shop", "export"))
    assert (exported["format"], exported["name"]) == ("ponder-store", "Harbor & Pine")
    order = next(o for o in exported["orders"] if o["id"] == "HP-1004")
    assert order["status"] == "processed"
    assert order["history"][-1] | {"at": 0} == {
        "status": "processed",
        "at": 0,
        "note": "processed by the store",
        "carrier": "UPS",
        "tracking_number": "1Z999AA1",
    }
    assert {c["user_id"]: c["name"] for c in exported["customers"]}["ann"] == "Ann Whitaker"

    written = tmp_path / "store.json"
    assert "exported Harbor & Pine: 73 products" in run("shop", "export", "-o", str(written))
    assert json.loads(written.read_text(encoding="utf-8")) == exported
    run("shop", "load", str(written))
    assert json.loads(run("shop", "export")) == exported


def test_export_puts_a_big_catalogs_products_in_a_jsonl_file_beside_it(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    run("shop", "export", "-o", str(tmp_path), "--products-file", "products.jsonl")
    doc = json.loads((tmp_path / "store.json").read_text(encoding="utf-8"))
    assert "products" not in doc and doc["products_file"] == "products.jsonl"
    assert len((tmp_path / "products.jsonl").read_text(encoding="utf-8").splitlines()) == 73
    assert len(load_store(tmp_path).products) == 73


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("--account", "nobody"), 2, "Account 'nobody' has no store to export"),
        (("--products-file", "p.jsonl"), 2, "--products-file needs -o"),
        (("-o", "{tmp}/no/such/folder/store.json"), 1, "cannot write"),
    ],
    ids=["no store", "products file without -o", "no such folder"],
)
def test_export_refuses_what_it_cannot_do(
    tmp_path: Path, args: tuple[str, ...], code: int, said: str
) -> None:
    run("shop", "load", "--demo")
    out = run("shop", "export", *(a.format(tmp=tmp_path) for a in args), code=code)
    assert said in out


def test_a_tau2_database_loaded_and_exported_as_tau2_is_tau2s_own_again(tmp_path: Path) -> None:
    sample = Path(__file__).parent.parent / "commerce" / "data" / "tau2_retail_sample.json"
    run("shop", "load", str(sample))
    exported = json.loads(run("shop", "export", "--format", "tau2"))
    expected = without_nulls(json.loads(sample.read_text(encoding="utf-8")))
    assert "exchange_items" in expected["orders"]["#W2611340"]  # type: ignore[index]  (one waits for items)
    assert without_nulls(exported) == expected
    written = tmp_path / "db.json"
    assert "as tau2's db.json" in run("shop", "export", "--format", "tau2", "-o", str(written))
    assert json.loads(written.read_text(encoding="utf-8")) == exported


def without_nulls(value: object) -> object:
    """A tau2 document as its canonical form compares it: fields at null left out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value

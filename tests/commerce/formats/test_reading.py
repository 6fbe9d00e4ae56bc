"""Store files are read as untrusted input: missing files, invalid JSON, NaN, files over the size limit,
nesting far too deep, links out of the store's folder and files that are not regular files are refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ponder.commerce.formats import load_store

from .conftest import TAU2_SAMPLE, ponder_doc, refusal, write


def test_missing_file(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nope.json")
    assert "nope.json: no such file" in message


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text('{\n  "format": "ponder-store",\n  "version": 1\n  "name": "x"\n}\n', encoding="utf-8")
    assert "store.json: invalid JSON at line 4, column 3" in refusal(path)


def test_nan_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text(TAU2_SAMPLE.read_text(encoding="utf-8").replace("50.88", "NaN"), encoding="utf-8")
    assert "db.json: invalid JSON: NaN is not a JSON number" in refusal(path)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "store.json", ponder_doc())
    assert load_store(path, max_bytes=path.stat().st_size).name == "Test shop"
    message = refusal(path, max_bytes=100)
    assert "store.json:" in message and "over the limit of 100" in message


def test_json_nested_far_too_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert "store.json: invalid JSON: nested too deeply" in refusal(path)


def test_a_jsonl_line_nested_far_too_deep_is_refused(tmp_path: Path) -> None:
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    (tmp_path / "products.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert "products.jsonl, line 1: invalid JSON: nested too deeply" in refusal(
        write(tmp_path / "store.json", doc)
    )


def _outside_product(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.jsonl"
    secret.parent.mkdir()
    secret.write_text(json.dumps(ponder_doc()["products"][0]) + "\n", encoding="utf-8")
    return secret


def test_a_products_file_that_links_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    (folder / "products.jsonl").symlink_to(_outside_product(tmp_path))
    message = refusal(write(folder / "store.json", doc))
    assert "products.jsonl: a link that leads out of the store's folder" in message
    assert message.endswith(": not followed")


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    doc = ponder_doc()
    products = doc.pop("products")
    doc["products_file"] = "products.jsonl"
    (tmp_path / "catalog-2025.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products))
    (tmp_path / "products.jsonl").symlink_to("catalog-2025.jsonl")
    assert [p.id for p in load_store(write(tmp_path / "store.json", doc)).products] == ["tee", "clog"]


def test_files_found_in_a_store_folder_do_not_link_out_of_it(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere.json", ponder_doc())
    folder = tmp_path / "ponder"
    folder.mkdir()
    (folder / "store.json").symlink_to(outside)
    assert "store.json: a link that leads out of the store's folder" in refusal(folder)
    assert load_store(outside).name == "Test shop"  # the file named itself is read, link or not
    tau2 = tmp_path / "tau2"
    tau2.mkdir()
    shutil.copy(TAU2_SAMPLE, tau2 / "db.json")
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret", encoding="utf-8")
    (tau2 / "policy.md").symlink_to(secret)
    assert "policy.md: a link that leads out of the store's folder" in refusal(tau2)


def test_a_products_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    doc = ponder_doc()
    del doc["products"], doc["orders"]
    doc["products_file"] = "products.jsonl"
    os.mkfifo(tmp_path / "products.jsonl")  # a pipe: reading it would wait for a writer forever
    assert "products.jsonl: not a file" in refusal(write(tmp_path / "store.json", doc))

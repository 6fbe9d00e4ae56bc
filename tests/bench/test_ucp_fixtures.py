"""The UCP conformance bench's converter (bench/_ucp_fixtures.py): a CSV store folder in the shape the UCP
suite ships becomes a Ponder store file that Ponder's own import reads. The CSVs here are written by the
test, not the suite's (so nothing depends on its ids).

bench/ goes on sys.path, as running ``python bench/ucp_conformance.py`` puts it there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _ucp_fixtures import convert
from ponder.commerce.formats import load_store


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_products_stock_customers_and_addresses_load_through_ponders_import(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.csv",
        "id,title,price,image_url\nmug,Blue Mug,1250,https://x.test/m.jpg\npen,Pen,300,\n",
    )
    write(tmp_path, "inventory.csv", "product_id,quantity\nmug,7\n")
    write(tmp_path, "customers.csv", "id,name,email\nc1,Ann Lee,Ann@Example.com\n")
    write(
        tmp_path,
        "addresses.csv",
        "id,customer_id,street_address,city,state,postal_code,country\na1,c1,1 High St,Leeds,,LS1,GB\n",
    )
    write(tmp_path, "discounts.csv", "code,type,value,description\nX,percentage,10,ten\n")
    converted = convert(tmp_path, name="Test Shop")
    file = tmp_path / "store.json"
    file.write_text(json.dumps(converted.store))

    store = load_store(file)

    assert store.name == "Test Shop"
    mug, pen = store.products
    assert (mug.id, mug.name, mug.image_url) == ("mug", "Blue Mug", "https://x.test/m.jpg")
    assert [(v.id, v.price, v.stock) for v in mug.variants] == [("mug", 1250, 7)]
    assert pen.variants[0].price == 300 and pen.image_url == ""
    (customer,) = store.customers
    assert (customer.user_id, customer.name, customer.email) == (
        "ann@example.com",
        "Ann Lee",
        "Ann@Example.com",
    )
    (address,) = customer.addresses
    assert (address.id, address.line1, address.city, address.zip, address.state, address.country) == (
        "a1",
        "1 High St",
        "Leeds",
        "LS1",
        "",
        "GB",
    )
    assert converted.skipped == []


def test_discounts_rates_and_promotions_become_the_stores_pricing_rules(tmp_path: Path) -> None:
    write(tmp_path, "products.csv", "id,title,price,image_url\nmug,Blue Mug,1250,\n")
    codes = "code,type,value,description\nTEN,percentage,10,Ten off\nFIVE,fixed_amount,500,\n"
    write(tmp_path, "discounts.csv", codes)
    rates = (
        "id,country_code,service_level,price,title\nstd,default,standard,400,Std\nfast,GB,express,900,Fast\n"
    )
    write(tmp_path, "shipping_rates.csv", rates)
    promos = "id,type,min_subtotal,eligible_item_ids,description\np1,free_shipping,5000,,Over 50\n"
    promos += 'p2,free_shipping,,"[""mug""]",Mugs\n'
    write(tmp_path, "promotions.csv", promos)
    write(tmp_path, "payment_instruments.csv", "id,type,brand,last_digits,token,handler_id\n")
    converted = convert(tmp_path)
    file = tmp_path / "store.json"
    file.write_text(json.dumps(converted.store))

    store = load_store(file)

    assert [(c.code, c.kind, c.value) for c in store.discount_codes] == [
        ("TEN", "percentage", 10),
        ("FIVE", "fixed_amount", 500),
    ]
    options = [(o.id, o.price, tuple(o.countries), o.service_level) for o in store.shipping_options]
    assert options == [("std", 400, (), "standard"), ("fast", 900, ("GB",), "express")]
    assert [(p.id, p.min_subtotal, p.items) for p in store.promotions] == [
        ("p1", 5000, ()),
        ("p2", 0, ("mug",)),
    ]
    assert converted.skipped == ["payment_instruments.csv"]

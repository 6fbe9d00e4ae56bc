"""Helpers shared by the benchmarks: settings in a throwaway-free data dir, medians, model loading, and a
scratch database (a SQLite file, or a fresh PostgreSQL schema)."""

from __future__ import annotations

import json
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ponder.commerce.model import Address, Customer, PaymentMethod, Product, StoreData, Variant
from ponder.config import Settings, load_settings
from ponder.models.embedded.catalog import CATALOG, EmbeddedModelSpec, find_embedded
from ponder.models.embedded.weights import ensure_weights, missing_parts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def settings() -> Settings:
    return load_settings()


def installed_models(names: list[str] | None = None) -> list[EmbeddedModelSpec]:
    specs = [find_embedded(n) for n in names] if names else list(CATALOG)
    return [s for s in specs if s is not None and not missing_parts(s)]


def weights(spec: EmbeddedModelSpec) -> Path:
    return ensure_weights(spec, settings().models_dir)


def median(values: list[float]) -> float:
    return statistics.median(values)


def emit(name: str, payload: dict[str, Any]) -> None:
    """Print a result line and append it to bench/results/NAME.jsonl (kept in git: the figures reported)."""
    line = json.dumps({"bench": name, **payload})
    print(line)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with (out / f"{name}.jsonl").open("a") as f:
        f.write(line + "\n")
    sys.stdout.flush()


@contextmanager
def scratch_database(url: str | None, sqlite_file: Path, prefix: str = "bench") -> Iterator[tuple[str, str]]:
    """``(target, backend)``: the SQLite file ``sqlite_file`` when ``url`` is None, else a fresh schema on
    the PostgreSQL server at ``url`` (as tests/conftest.py makes them), dropped afterwards."""
    if not url:
        yield str(sqlite_file), "sqlite"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", "postgresql"
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def buyer_store(name: str, provider: Any, tees: tuple[Variant, ...]) -> StoreData:
    """The money benches' store: T-shirts (``tees``, variants of product "tee") and a cap at 9.00 EUR, and
    one customer, "buyer", with a home address and a Visa tokenized by ``provider``."""
    token, brand, last4 = provider.tokenize("4242 4242 4242 4242")
    return StoreData(
        name=name,
        currency="EUR",
        products=(Product("tee", "T-shirt", tees), Product("cap", "Cap", (Variant("cap", "cap", {}, 900),))),
        customers=(
            Customer(
                "buyer",
                addresses=(Address("home", "1 Main St", "Lisbon", "PT"),),
                payment_methods=(PaymentMethod("visa", "card", token, brand, last4),),
            ),
        ),
    )

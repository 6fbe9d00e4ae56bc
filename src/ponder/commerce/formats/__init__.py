"""Store files: load a whole store into a ``StoreData`` from Ponder's own format or from tau2-bench's retail
database, and write one back in Ponder's format.

``load_store`` tells the two apart: a directory holding ``store.json`` (Ponder) or ``db.json`` (tau2), a
JSON object with ``"format": "ponder-store"`` (Ponder), or one with top-level ``products``, ``users`` and
``orders`` and no ``format`` (tau2). Anything else is an unknown format.

- checks.py: ``StoreFormatError``, the problems of one load, and the checks both formats share
- reading.py: reading files safely (size limit, links out of the folder, JSON no store holds), writing whole
- ponder.py: Ponder's own format, read (``load_ponder``) and written (``dump_ponder``)
- tau2.py: tau2-bench's retail database (``load_tau2``)

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

import os
from importlib import resources
from pathlib import Path

from ponder.commerce.formats.checks import MAX_CENTS, MAX_REPORTED, StoreFormatError
from ponder.commerce.formats.ponder import (
    PONDER_FILE,
    PONDER_FORMAT,
    PONDER_VERSION,
    dump_ponder,
    load_ponder,
    ponder_store,
)
from ponder.commerce.formats.reading import DEFAULT_MAX_BYTES, read_json
from ponder.commerce.formats.tau2 import TAU2_FILE, TEST_TOKEN_PREFIX, load_tau2, tau2_policy, tau2_store
from ponder.commerce.model import StoreData

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

# --- detecting the format --------------------------------------------------------------------------------


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
    raw = read_json(source, max_bytes)
    if isinstance(raw, dict) and "format" in raw:
        return ponder_store(raw, source, max_bytes)
    if isinstance(raw, dict) and {"products", "users", "orders"} <= raw.keys():
        return tau2_store(raw, source, name="tau2 retail", policy=tau2_policy(source, max_bytes))
    raise StoreFormatError(
        source,
        [
            f"{source.name}: unknown store format: expected a Ponder store "
            f'("format": "{PONDER_FORMAT}") or a tau2 retail database (top-level products, users, orders)'
        ],
    )


def demo_store_path() -> Path:
    """The demo store shipped with Ponder: a clothing, outdoor and home shop in Ponder's format."""
    found = resources.files("ponder").joinpath("commerce", "demo", PONDER_FILE)
    if not isinstance(found, Path):  # an install that is not plain files on disk (a zip)
        raise FileNotFoundError(f"the demo store is not a file on disk here: {found}")
    return found

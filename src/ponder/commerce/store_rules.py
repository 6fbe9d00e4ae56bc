"""A store's rules (``model.StoreRules``) as stored: one JSON object on the store's row, read by the
operations that enforce them (orders.py, swaps.py, payment_changes.py, the shopping preset) in their own
transaction. A rule left out of the object has its default, so a store imported before a rule existed
keeps Ponder's behaviour.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy.engine import Connection

from ponder.commerce.model import StoreRules
from ponder.store.database import sql

__all__ = ["read_rules", "rules_json"]


def rules_json(rules: StoreRules) -> str:
    """The rules as stored: only those that differ from the defaults."""
    default = StoreRules()
    changed: dict[str, Any] = {
        f.name: getattr(rules, f.name)
        for f in dataclasses.fields(StoreRules)
        if getattr(rules, f.name) != getattr(default, f.name)
    }
    return json.dumps(changed, sort_keys=True)


def read_rules(db: Connection, account: str) -> StoreRules:
    """The account's store rules (the defaults for an account without a store)."""
    raw = db.execute(sql("SELECT rules FROM stores WHERE account = :account"), {"account": account}).scalar()
    stored: dict[str, Any] = json.loads(raw) if raw else {}
    known = {f.name for f in dataclasses.fields(StoreRules)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known
    }
    return StoreRules(**values)

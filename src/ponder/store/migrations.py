"""The schema, as an ordered list of migrations. Append only: a released migration is never edited.

``PRAGMA user_version`` records how many have run. Each runs in its own transaction (see database.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS"]


def m001_keys_and_limits(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,            -- public identifier, shown in lists: "key_" + 12 hex
            account TEXT NOT NULL,          -- who owns it; all data is scoped by (account, user)
            tier TEXT NOT NULL,             -- a tier name from the settings (limits and prices)
            secret_sha256 TEXT NOT NULL UNIQUE,  -- the key itself is never stored
            prefix TEXT NOT NULL,           -- its first characters, to recognise it in a list
            name TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            revoked_at REAL
        )
        """
    )
    db.execute("CREATE INDEX api_keys_account ON api_keys (account)")
    # GCRA state of the requests-per-minute limit: the theoretical arrival time of the next request.
    db.execute("CREATE TABLE rate_state (key_id TEXT PRIMARY KEY, tat REAL NOT NULL)")
    # Tokens used per key per UTC day (YYYY-MM-DD), already multiplied by the mode's price.
    db.execute(
        "CREATE TABLE token_usage (key_id TEXT NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL, "
        "PRIMARY KEY (key_id, day))"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [m001_keys_and_limits]

"""Where perception keeps what it read, so the same image or clip is not read twice: ``MemoryCache`` (one
process: the CLI) or ``DatabaseCache`` (the server's database: every replica shares what any one read, and
a restart keeps it).

A key is the media's kind, its sha256 and the scope it was sent in (the server's account), so no account
learns from a hit what another sent. An entry is the text the part became and its report. Entries are
derived from what people sent (a transcript, the text in a photo), so the database keeps them a day at most
(``max_age_s``) and at most ``max_entries``, the oldest going first.

Not here: reading media (perceive.py and the engines), or deciding what to cache (every image and clip).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from ponder.store.database import Database, sql

__all__ = ["DatabaseCache", "MemoryCache", "PerceptionCache"]

Entry = tuple[str, dict[str, Any]]  # (the text the part became, its report)


class PerceptionCache(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def put(self, key: str, entry: Entry) -> None: ...


class MemoryCache:
    """The last ``size`` entries, in this process."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()  # turns perceive in worker threads, several at once

    def get(self, key: str) -> Entry | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class DatabaseCache:
    """Entries in the database's ``perception_cache``, shared by every replica."""

    def __init__(self, db: Database, *, max_entries: int = 10_000, max_age_s: float = 86_400.0) -> None:
        self.db = db
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._puts = 0

    def get(self, key: str) -> Entry | None:
        with self.db.reading() as db:
            row = db.execute(
                sql("SELECT text, report FROM perception_cache WHERE key = :key AND at > :since"),
                {"key": _row_key(key), "since": time.time() - self.max_age_s},
            ).first()
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def put(self, key: str, entry: Entry) -> None:
        text, report = entry
        now = time.time()
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO perception_cache (key, text, report, at) VALUES (:key, :text, :report, :at) "
                    "ON CONFLICT (key) DO UPDATE SET text = excluded.text, report = excluded.report, "
                    "at = excluded.at"
                ),
                {"key": _row_key(key), "text": text, "report": json.dumps(report), "at": now},
            )
            self._puts += 1
            if self._puts % 100 == 1:  # now and then: what is too old, and what is beyond the bound, goes
                db.execute(
                    sql("DELETE FROM perception_cache WHERE at <= :since"), {"since": now - self.max_age_s}
                )
                db.execute(
                    sql(
                        "DELETE FROM perception_cache WHERE key IN (SELECT key FROM perception_cache "
                        "ORDER BY at DESC LIMIT -1 OFFSET :keep)"
                        if self.db.dialect == "sqlite"
                        else "DELETE FROM perception_cache WHERE key IN (SELECT key FROM perception_cache "
                        "ORDER BY at DESC OFFSET :keep)"
                    ),
                    {"keep": self.max_entries},
                )


def _row_key(key: str) -> str:
    """The key as stored: its sha256 (a key holds a NUL between scope and digest, which PostgreSQL's text
    does not take)."""
    return hashlib.sha256(key.encode()).hexdigest()

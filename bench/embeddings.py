"""Embeddings per second on E5 for a batch of short texts: the model called directly, and ``POST
/v1/embeddings`` of a real ``ponder serve`` (float and base64 answers), side by side.

    python bench/embeddings.py                  # 64 texts a batch, 10 batches each way
    python bench/embeddings.py --batch 64 --trials 3

The texts are short product and support sentences (6 to 10 words). The direct figure is
``E5Embedder.query`` on the batch; the server's adds the key's check, parsing, the response's rendering and
the loopback round trip. Medians of the trials; the model is loaded (and one batch run) before timing.
Prints a JSON line and appends it to bench/results/embeddings.jsonl.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from _common import emit
from _server import serve
from ponder.memory.embeddings import E5Embedder

WORDS = (
    "red running shoes for trail and road",
    "how do I return a sweater that does not fit",
    "a waterproof jacket with a hood and two pockets",
    "my order arrived late and the box was damaged",
    "blue wool socks in a pack of three",
    "can I change the delivery address of my order",
    "lightweight backpack for hiking with a rain cover",
    "the zip on my bag broke after a week",
)


def texts(n: int) -> list[str]:
    return [f"{WORDS[i % len(WORDS)]} (item {i})" for i in range(n)]


def per_second(n: int, seconds: list[float]) -> float:
    return round(n / statistics.median(seconds), 1)


def direct(batch: list[str], trials: int) -> float:
    embedder = E5Embedder()
    embedder.query(batch)  # loads the model
    seconds = []
    for _ in range(trials):
        started = time.perf_counter()
        embedder.query(batch)
        seconds.append(time.perf_counter() - started)
    return per_second(len(batch), seconds)


def served(batch: list[str], trials: int) -> dict[str, float]:
    figures = {}
    with serve("scripted:ok", log_level="warning") as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:
            for fmt in ("float", "base64"):
                body = {"model": "multilingual-e5-small", "input": batch, "encoding_format": fmt}
                client.post("/v1/embeddings", json=body).raise_for_status()  # loads the model
                seconds = []
                for _ in range(trials):
                    started = time.perf_counter()
                    client.post("/v1/embeddings", json=body).raise_for_status()
                    seconds.append(time.perf_counter() - started)
                figures[fmt] = per_second(len(batch), seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    batch = texts(args.batch)
    result = {"batch": args.batch, "trials": args.trials, "direct_per_s": direct(batch, args.trials)}
    server = served(batch, args.trials)
    result |= {"server_float_per_s": server["float"], "server_base64_per_s": server["base64"]}
    emit("embeddings", result)


if __name__ == "__main__":
    main()

"""Several answers in one request (``n``) against the same answers asked one request at a time.

Method. A fresh ``ponder serve`` (bench/_server.py) on the embedded model asked for. Per trial, in
alternating order: one request with ``n`` answers (rows of one llama.cpp batch over the shared prompt),
and ``n`` requests in a row with one answer each; temperature 0.8, ``--max-tokens`` per answer, the same
prompt. Reports the aggregate completion tokens per second of each (all answers' tokens over the wall
time), their ratio, and the wall time per trial; appends to bench/results/n_choices.jsonl.

    python bench/n_choices.py                      # the 1.5B default, n=4, 3 trials
    python bench/n_choices.py --model embedded:qwen2.5-coder-0.5b --n 4 --trials 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import serve

RESULTS = Path(__file__).resolve().parent / "results" / "n_choices.jsonl"
PROMPT = "Write a short paragraph about why the sea is salty."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--model", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args(argv)
    together: list[tuple[int, float]] = []
    apart: list[tuple[int, float]] = []
    with serve(args.model) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=served.key, max_retries=0, timeout=900)
        ask = {
            "model": "ponder-instant",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": args.max_tokens,
            "temperature": 0.8,
            "extra_body": {"memory": False},  # the same prompt every time: no facts recalled or learned
        }
        client.chat.completions.create(**{**ask, "max_tokens": 4})  # the model loaded, the prefix cached
        for trial in range(args.trials):
            order = (_together, _apart) if trial % 2 == 0 else (_apart, _together)
            for run in order:
                tokens, seconds = run(client, ask, args.n, trial)
                (together if run is _together else apart).append((tokens, seconds))
                print(
                    f"trial {trial + 1} {run.__name__[1:]:8s} {tokens:4d} tokens in {seconds:6.1f} s",
                    flush=True,
                )
    rate_together = statistics.median(t / s for t, s in together)
    rate_apart = statistics.median(t / s for t, s in apart)
    print(
        f"\n{args.model}, n={args.n}, up to {args.max_tokens} tokens an answer, {args.trials} trials, medians"
    )
    print(f"one request with n={args.n}:    {rate_together:6.1f} completion tokens/s")
    print(f"{args.n} requests in a row:     {rate_apart:6.1f} completion tokens/s")
    print(f"ratio (together / in a row): {rate_together / rate_apart:.2f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        row = {"model": args.model, "n": args.n, "max_tokens": args.max_tokens, "trials": args.trials}
        f.write(
            json.dumps({**row, "together_tps": rate_together, "apart_tps": rate_apart, "at": time.time()})
            + "\n"
        )
    return 0


def _together(client: openai.OpenAI, ask: dict, n: int, trial: int) -> tuple[int, float]:
    started = time.perf_counter()
    reply = client.chat.completions.create(**ask, n=n, seed=1000 * trial)
    assert len(reply.choices) == n
    return (reply.usage.completion_tokens if reply.usage else 0), time.perf_counter() - started


def _apart(client: openai.OpenAI, ask: dict, n: int, trial: int) -> tuple[int, float]:
    started = time.perf_counter()
    tokens = 0
    for i in range(n):
        reply = client.chat.completions.create(**ask, seed=1000 * trial + i)
        tokens += reply.usage.completion_tokens if reply.usage else 0
    return tokens, time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())

"""Decode speed of Ponder's embedded engine against raw llama-cpp-python, side by side in one run,
and both against the machine's memory-bandwidth ceiling.

For each round, the same GGUF, prompt, thread count and greedy settings run through:
  raw    -- llama_cpp.Llama.create_completion(stream=True), timed from the first chunk to the last;
  ponder -- EmbeddedModel.stream (template, engine thread, asyncio bridge), its Usage.decode_time_s.
Each round runs both, one right after the other (alternating which goes first), so the machine's noise
(these are shared VMs: speeds swing 30% minute to minute) hits a pair alike; the figure is the median of the
per-round ratios.

The ceiling: CPU decoding reads every weight once per token, so tokens/s cannot exceed
(read bandwidth) / (model bytes). Bandwidth is measured here with numpy, one reader thread per core.

    python bench/decode_overhead.py [--model qwen2.5-coder-1.5b] [--tokens 96] [--rounds 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from _common import emit, installed_models, median, settings, weights
from ponder.config import DEFAULT_MODEL
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.engine import import_llama_cpp
from ponder.models.embedded.threads import usable_cores

QUESTION = "Explain in detail how a compiler turns source code into machine code, step by step."


def read_bandwidth_gb_s(threads: int, size_mb: int = 1024, repeats: int = 5) -> float:
    """Best sustained read bandwidth: each thread sums a slice of a large array (numpy frees the GIL)."""
    data = np.ones(size_mb * (1 << 20) // 8, dtype=np.float64)
    slices = np.array_split(data, threads)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(np.sum, slices))
            best = max(best, data.nbytes / (time.perf_counter() - started) / 1e9)
    return best


def raw_decode(llm: object, prompt: str, tokens: int) -> tuple[float, int]:
    first = last = 0.0
    count = 0
    for chunk in llm.create_completion(  # type: ignore[attr-defined]
        prompt, max_tokens=tokens, temperature=0.0, top_k=40, top_p=0.95, min_p=0.05, stream=True
    ):
        if not chunk["choices"][0]["text"]:  # the closing chunk carries only finish_reason
            continue
        now = time.perf_counter()
        first = first or now
        last = now
        count += 1
    return (count - 1) / (last - first), count


async def run(args: argparse.Namespace) -> None:
    spec = installed_models([args.model])[0]
    path = weights(spec)
    llama_cpp = import_llama_cpp()
    model = EmbeddedModel(
        spec=spec, models_dir=settings().models_dir, context_length=2048, threads=args.threads
    )
    messages = [Message.system("You are a helpful assistant."), Message.user(QUESTION)]
    request = ModelSettings(max_tokens=args.tokens, temperature=0.0)
    engine = await model.load()
    assert model._template is not None
    prompt_text = model._template.render(messages)
    raw = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=2048,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    raw_tps, ponder_tps, counts = [], [], set()

    async def ponder_round() -> None:
        engine.llm.reset()  # no KV reuse across rounds: both sides prefill the same prompt every time
        response = await model.request(messages, request)
        assert response.usage.tokens_per_second is not None
        ponder_tps.append(response.usage.tokens_per_second)
        counts.add(response.usage.completion_tokens)

    def raw_round() -> None:
        raw.reset()
        tps, count = raw_decode(raw, prompt_text, args.tokens)
        raw_tps.append(tps)
        counts.add(count)

    for i in range(args.rounds):  # alternate who goes first, so neither side always follows the other
        if i % 2:
            await ponder_round()
            raw_round()
        else:
            raw_round()
            await ponder_round()
    ratios = [p / r for p, r in zip(ponder_tps, raw_tps, strict=True)]
    await model.aclose()
    raw.close()
    bandwidth = read_bandwidth_gb_s(args.threads)
    ceiling = bandwidth * 1e9 / spec.size
    emit(
        "decode_overhead",
        {
            "model": f"embedded:{spec.name}",
            "threads": args.threads,
            "tokens": sorted(counts),
            "raw_tok_s_median": round(median(raw_tps), 2),
            "ponder_tok_s_median": round(median(ponder_tps), 2),
            "ratio_ponder_over_raw": round(median(ratios), 3),  # median of per-round paired ratios
            "ratio_quartiles": [round(q, 3) for q in statistics.quantiles(ratios, n=4)],
            "read_bandwidth_gb_s": round(bandwidth, 2),
            "model_bytes": spec.size,
            "ceiling_tok_s": round(ceiling, 1),
            "ponder_fraction_of_ceiling": round(median(ponder_tps) / ceiling, 3),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL.partition(":")[2])
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=usable_cores())
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

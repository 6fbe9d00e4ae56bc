"""Batched decoding on the embedded engine: N sequences in one llama.cpp batch against one sequence alone.

Prints two ratios, measured side by side in one run (median over rounds):
  decode -- aggregate tokens/s of N sequences decoding together / tokens/s of one sequence alone
            (target: at least 1.8 at N=4);
  prefill -- time to the first token of N sequences over a shared prompt / that of one
            (target: at most 1.3 at N=4): the prompt is evaluated once and shared through the KV cache.

    python bench/batch_decode.py [--model qwen2.5-coder-1.5b] [--n 4] [--tokens 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

from _common import emit, installed_models, median, settings
from ponder.config import DEFAULT_MODEL
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.batch import BatchDecoder, SequenceRequest
from ponder.models.embedded.engine import import_llama_cpp
from ponder.models.embedded.threads import usable_cores

PROMPT = (
    "You are a careful assistant. Read the passage and answer at length.\n\n"
    + "The history of computing spans mechanical calculators, vacuum tubes, transistors and chips. " * 14
    + "\n\nWrite a long, detailed essay about how computers changed science."
)


def run_batch(
    decoder: BatchDecoder, prefix: list[int], n: int, tokens: int, threads: int
) -> tuple[float, float]:
    """(seconds to the first token, aggregate decode tokens/s) for n sequences."""
    requests = [SequenceRequest(suffix=(), max_tokens=tokens, temperature=0.8, seed=1 + i) for i in range(n)]
    started = time.perf_counter()
    results = decoder.generate(
        prefix, requests, threads=threads, cancel=threading.Event(), emit=lambda i, t: None
    )
    firsts = [r.first_token_at for r in results if r.first_token_at]
    lasts = [r.last_token_at for r in results if r.last_token_at]
    produced = sum(r.completion_tokens for r in results)
    return min(firsts) - started, (produced - n) / (max(lasts) - min(firsts))


async def main_async(args: argparse.Namespace) -> None:
    spec = installed_models([args.model])[0]
    model = EmbeddedModel(
        spec=spec, models_dir=settings().models_dir, context_length=4096, threads=args.threads
    )
    engine = await model.load()
    prefix = await model.prompt_tokens([Message.user(PROMPT)], ModelSettings())
    llama_cpp = import_llama_cpp()

    def measure() -> dict[str, object]:
        decoder = BatchDecoder(llama_cpp, engine.llm, n_ctx=4096, n_seq_max=args.n)
        one_prefill, one_tps, many_prefill, many_tps = [], [], [], []
        try:
            run_batch(decoder, prefix, 1, 8, args.threads)  # warm-up
            for i in range(args.rounds):  # alternate the order, so neither side always goes second
                order = [1, args.n] if i % 2 == 0 else [args.n, 1]
                for n in order:
                    prefill, tps = run_batch(decoder, prefix, n, args.tokens, args.threads)
                    (one_prefill if n == 1 else many_prefill).append(prefill)
                    (one_tps if n == 1 else many_tps).append(tps)
        finally:
            decoder.close()
        return {
            "model": f"embedded:{spec.name}",
            "threads": args.threads,
            "sequences": args.n,
            "prompt_tokens": len(prefix),
            "one_tok_s": round(median(one_tps), 2),
            "batch_aggregate_tok_s": round(median(many_tps), 2),
            "decode_ratio": round(median(many_tps) / median(one_tps), 3),
            "one_prefill_s": round(median(one_prefill), 3),
            "batch_prefill_s": round(median(many_prefill), 3),
            "prefill_ratio": round(median(many_prefill) / median(one_prefill), 3),
        }

    result = await asyncio.get_running_loop().run_in_executor(engine.executor, measure)
    await model.aclose()
    emit("batch_decode", result)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL.partition(":")[2])
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=usable_cores())
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

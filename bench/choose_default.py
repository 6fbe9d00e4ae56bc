"""Choose the embedded default by measurement: answer quality (GSM8K accuracy) and speed, per model.

Runs the first N problems of ../shared/data/gsm8k-train-300.jsonl through Ponder's Instant path on each
installed embedded model (greedy decoding, so runs repeat), and prints accuracy, decode tokens/s, median
time to first token and the mean time per answer.

    python bench/choose_default.py --n 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from _common import DATA, emit, installed_models, median, settings
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel

SYSTEM = (
    "Solve the math word problem. Reason briefly step by step, then end with a last line of the form "
    "'Answer: <number>'."
)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> str | None:
    tail = text.split("Answer:")[-1] if "Answer:" in text else text
    found = NUMBER.findall(tail)
    if not found:
        return None
    value = found[0] if "Answer:" in text else found[-1]
    value = value.replace(",", "").rstrip(".")
    return value[:-2] if value.endswith(".0") else value


async def evaluate(name: str, problems: list[dict[str, str]], max_tokens: int) -> dict[str, object]:
    spec = installed_models([name])[0]
    model = EmbeddedModel(spec=spec, models_dir=settings().models_dir, context_length=2048)
    await model.load()
    correct, ttfts, tps, walls, tokens = 0, [], [], [], 0
    try:
        for problem in problems:
            messages = [Message.system(SYSTEM), Message.user(problem["question"])]
            started = time.perf_counter()
            response = await model.request(messages, ModelSettings(max_tokens=max_tokens, temperature=0))
            walls.append(time.perf_counter() - started)
            correct += final_number(response.message.text) == problem["answer"]
            if response.usage.time_to_first_token_s is not None:
                ttfts.append(response.usage.time_to_first_token_s)
            if response.usage.tokens_per_second:
                tps.append(response.usage.tokens_per_second)
            tokens += response.usage.completion_tokens
    finally:
        await model.aclose()
    return {
        "model": f"embedded:{name}",
        "problems": len(problems),
        "accuracy": round(correct / len(problems), 3),
        "decode_tok_s_median": round(median(tps), 1),
        "ttft_s_median": round(median(ttfts), 3),
        "seconds_per_answer_mean": round(sum(walls) / len(walls), 2),
        "answer_tokens_mean": round(tokens / len(problems), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=30, help="problems per model")
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument(
        "--models", nargs="*", default=["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"]
    )
    args = parser.parse_args()
    with (DATA / "gsm8k-train-300.jsonl").open() as f:
        problems = [json.loads(line) for line in f][: args.n]
    for name in args.models:
        if not installed_models([name]):
            print(f"skip {name}: weights not installed")
            continue
        emit("choose_default", asyncio.run(evaluate(name, problems, args.max_tokens)))


if __name__ == "__main__":
    main()

"""Time to first token for a short question, warm (model loaded, one request already served), per model.

"Warm" is how a running chat or server sees it: the engine is loaded and the system prompt's KV is still
cached from the previous request, so only the new question is evaluated. The same figure with the cache
cleared before each request (the whole prompt evaluated) is printed beside it.

    python bench/ttft.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio

from _common import emit, installed_models, median, settings
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.modes.instant import InstantMode

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What is 12 times 12?",
    "Who wrote Hamlet?",
    "What colour is the sky on a clear day?",
    "What is the boiling point of water in Celsius?",
    "Name a prime number greater than 10.",
]


async def measure(name: str, repeats: int) -> dict[str, object]:
    spec = installed_models([name])[0]
    model = EmbeddedModel(spec=spec, models_dir=settings().models_dir, context_length=2048)
    engine = await model.load()
    mode = InstantMode()

    async def once(question: str) -> float:
        ttft = None
        async for event in mode.run(model, [Message.user(question)], ModelSettings(max_tokens=1)):
            if event.kind == "done":
                ttft = event.response.usage.time_to_first_token_s
        assert ttft is not None
        return ttft

    await once("Hello")  # warm-up
    warm = [await once(QUESTIONS[i % len(QUESTIONS)]) for i in range(repeats)]
    full = []
    for i in range(repeats):
        engine.llm.reset()
        full.append(await once(QUESTIONS[i % len(QUESTIONS)]))
    await model.aclose()
    return {
        "model": f"embedded:{name}",
        "ttft_warm_s_median": round(median(warm), 3),
        "ttft_uncached_prompt_s_median": round(median(full), 3),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for spec in installed_models():
        emit("ttft", asyncio.run(measure(spec.name, args.repeats)))


if __name__ == "__main__":
    main()

"""Several answers to one turn (``n`` > 1): Instant's single pass, sampled ``n`` times at once.

The answers are branches of one conversation (``Model.stream_many``): on the embedded engine, rows of one
llama.cpp batch over the shared prompt, whose KV is computed once; on an OpenAI-compatible server,
concurrent requests it batches on its side. Each branch has its own seed (the request's, plus its index),
so at a temperature above 0 the answers differ.

The first answer streams as ``TextDelta`` and is the turn's reply (the one stored in a session); the others
stream as ``ChoiceDelta`` and come back in ``details["choices"]`` (text, finish reason, tokens). Usage counts
every answer's tokens. No tools, no reasoning and no structured output: a turn that needs those is a 400 at
the surface, not a silent single answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from ponder.errors import BackendError
from ponder.messages import ChoiceDelta, Event, Message, ModelResponse, ResponseDone, TextDelta
from ponder.models.base import Branch, Model, ModelSettings
from ponder.modes.base import Mode, with_system

__all__ = ["MAX_SAMPLES", "SamplesMode"]

MAX_SAMPLES = 8


class SamplesMode(Mode):
    name = "instant"

    def __init__(self, system_prompt: str | None = None, *, samples: int = 2) -> None:
        super().__init__(system_prompt)
        self.samples = samples

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        conversation = with_system(messages, self.system("instant"))
        seed = settings.seed if settings.seed is not None else 0
        branches = [Branch(replace(settings, seed=seed + i)) for i in range(self.samples)]
        done: dict[int, ModelResponse] = {}
        failed: dict[int, BaseException] = {}
        async for item in model.stream_many(conversation, branches):
            if item.error is not None:
                failed[item.index] = item.error
            elif isinstance(item.event, ResponseDone):
                done[item.index] = item.event.response
            elif isinstance(item.event, TextDelta):
                yield item.event if item.index == 0 else ChoiceDelta(item.index, item.event.text)
        if failed:
            index, error = min(failed.items())
            raise BackendError(f"answer {index + 1} of {self.samples} failed: {error}")
        first = done[0]
        usage = replace(first.usage, completion_tokens=sum(r.usage.completion_tokens for r in done.values()))
        choices: list[dict[str, Any]] = [
            {
                "index": i,
                "text": done[i].message.text,
                "finish_reason": done[i].finish_reason,
                "completion_tokens": done[i].usage.completion_tokens,
            }
            for i in sorted(done)
            if i > 0
        ]
        yield ResponseDone(replace(first, usage=usage, details={**first.details, "choices": choices}))

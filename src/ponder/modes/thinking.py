"""Thinking mode: reason first, under a token budget, then answer.

The turn is two model passes over one growing assistant reply, so the KV cache carries the first into the
second:

1. **Reasoning.** The reply opens with ``<think>``; the model reasons until it writes ``</think>`` or the
   budget runs out. Its text streams as ``ReasoningDelta``.
2. **Answer.** If the budget ran out, the reasoning is closed for the model (thought compression: a short
   "time is up" line, then ``</think>``) and the answer is forced; otherwise the model's own closing stands.
   The answer has its own token allowance (``max_tokens``), so the budget can never starve it, and a reply
   that still comes back empty is retried once with the answer started for it.

Reasoning tokens are counted apart from answer tokens. The reasoning step is where a tool loop (call,
observe, continue) goes once tools exist: a pass that ends in tool calls runs them, appends the results
and reasons on, under the same budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import ClassVar

from ponder.errors import BackendError
from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    ReasoningDelta,
    ReasoningPart,
    ResponseDone,
    TextDelta,
    TextPart,
    Usage,
)
from ponder.models.base import Model, ModelSettings
from ponder.modes.base import Mode, with_system
from ponder.modes.budgets import reasoning_budget
from ponder.prompts import load_prompt

__all__ = ["CLOSE", "OPEN", "ThinkingMode", "close_reasoning"]

OPEN = "<think>\n"
CLOSE = "</think>"
_ANSWER_START = "Answer:"


def close_reasoning(reasoning: str, compressed: bool) -> str:
    """The assistant text that ends the reasoning, compressed when the budget ran out."""
    tail = load_prompt("thinking_compress") if compressed else ""
    return f"{OPEN}{reasoning.rstrip()}{tail}\n{CLOSE}\n\n"


class ThinkingMode(Mode):
    name: ClassVar[str] = "thinking"

    def __init__(
        self, system_prompt: str | None = None, *, budget: int | None = None, effort: str | None = None
    ) -> None:
        super().__init__(system_prompt)
        self.budget = reasoning_budget(budget, effort)

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        conversation = with_system(messages, self.system("thinking"))
        reasoning_settings = replace(
            settings, max_tokens=self.budget, stop=(CLOSE, *settings.stop), assistant_prefix=OPEN
        )
        first: ModelResponse | None = None
        async for event in model.stream(conversation, reasoning_settings):
            if isinstance(event, TextDelta):
                yield ReasoningDelta(event.text)
            elif isinstance(event, ResponseDone):
                first = event.response
        assert first is not None
        reasoning = first.message.text
        compressed = first.finish_reason == "length"
        answer_settings = replace(settings, assistant_prefix=close_reasoning(reasoning, compressed))
        second = None
        async for event in model.stream(conversation, answer_settings):
            if isinstance(event, TextDelta):
                yield event
            elif isinstance(event, ResponseDone):
                second = event.response
        assert second is not None
        retried = not second.message.text.strip()
        if retried:  # never an empty reply: start the answer for the model
            retry = replace(
                answer_settings, assistant_prefix=answer_settings.assistant_prefix + _ANSWER_START
            )
            second = await model.request(conversation, retry)
            if not second.message.text.strip():
                raise BackendError(f"{model.name} gave an empty answer twice after reasoning")
            yield TextDelta(f"{_ANSWER_START}{second.message.text}")
        yield ResponseDone(_combine(first, second, retried, self.budget, compressed))


def _combine(
    first: ModelResponse, second: ModelResponse, retried: bool, budget: int, compressed: bool
) -> ModelResponse:
    text = (_ANSWER_START if retried else "") + second.message.text
    usage = Usage(
        prompt_tokens=first.usage.prompt_tokens,
        completion_tokens=first.usage.completion_tokens + second.usage.completion_tokens,
        reasoning_tokens=first.usage.completion_tokens,
        time_to_first_token_s=first.usage.time_to_first_token_s,
        total_time_s=first.usage.total_time_s + second.usage.total_time_s,
        decode_time_s=first.usage.decode_time_s + second.usage.decode_time_s,
    )
    answer_first = second.usage.time_to_first_token_s
    details = {
        "thinking": {
            "budget": budget,
            "compressed": compressed,
            "answer_first_token_s": None
            if answer_first is None
            else round(first.usage.total_time_s + answer_first, 4),
        }
    }
    message = Message("assistant", (ReasoningPart(first.message.text), TextPart(text)))
    return ModelResponse(message, usage, second.model, second.finish_reason, details)

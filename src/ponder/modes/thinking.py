"""Thinking mode: reason first, under a token budget, then answer.

The turn is two model passes over one growing assistant reply, so the KV cache carries the first into the
second:

1. **Reasoning.** The reply opens with ``<think>``; the model reasons until it writes ``</think>`` or the
   budget runs out. Its text streams as ``ReasoningDelta``. A tight budget (below the default, which fits
   what the model usually writes) is stated in the system prompt, so the model plans short reasoning
   instead of being cut off in the middle of it.
2. **Answer.** If the budget ran out, the reasoning is closed for the model (thought compression: a short
   "time is up" line, then ``</think>``) and the answer is forced; otherwise the model's own closing stands.
   The answer has its own token allowance (``max_tokens``), so the budget can never starve it, and a reply
   that still comes back empty is retried once with the answer started for it. A structured output's
   schema holds the answer pass only (it then calls no tools); the reasoning stays free.

Reasoning tokens are counted apart from answer tokens. The reasoning step holds the tool loop (call,
observe, continue): a pass that ends in tool calls runs them (acting.py), appends the calls and results to
the conversation and reasons on in a new pass, under what is left of the same budget; the answer pass
offers no tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

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
    TokenLogprobs,
    Usage,
)
from ponder.models.base import Model, ModelSettings
from ponder.modes.acting import Acting, sum_usage
from ponder.modes.base import Mode, with_system
from ponder.modes.budgets import budget_note, reasoning_budget
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

__all__ = ["CLOSE", "OPEN", "ThinkingMode", "close_reasoning"]

OPEN = "<think>\n"
CLOSE = "</think>"
_ANSWER_START = "Answer:"


def close_reasoning(reasoning: str, compressed: bool) -> str:
    """The assistant text that ends the reasoning, compressed when the budget ran out."""
    tail = load_prompt("thinking_compress") if compressed else ""
    return f"{OPEN}{reasoning.rstrip()}{tail}\n{CLOSE}\n\n"


class ThinkingMode(Mode):
    name = "thinking"

    def __init__(
        self,
        system_prompt: str | None = None,
        *,
        budget: int | None = None,
        effort: str | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        super().__init__(system_prompt, tools=tools)
        self.budget = reasoning_budget(budget, effort)

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        system, note = self.system("thinking"), budget_note(self.budget)
        conversation = with_system(messages, f"{system} {note}" if note else system)
        acting = Acting(self.tools)
        passes: list[ModelResponse] = []  # reasoning passes: one, or one per tool round plus the last
        spoken: list[ModelResponse] = []  # answer passes that called tools instead of answering
        while True:
            async for event in self._reason(model, conversation, settings, acting, passes):
                yield event
            if acting.wants_tools(passes[-1]):  # calls for the API client: the turn ends with them
                yield ResponseDone(_calls_for_client(passes, passes[-1], self.budget))
                return
            compressed = passes[-1].finish_reason == "length"
            prefix = close_reasoning(passes[-1].message.text, compressed)
            # the answer may call tools, unless it must be the structured output's JSON
            answering = acting.final(settings) if settings.json_schema else acting.settings(settings)
            answer_settings = replace(answering, assistant_prefix=prefix)
            answer: ModelResponse | None = None
            async for event in model.stream([*conversation, *acting.history], answer_settings):
                if isinstance(event, ResponseDone):
                    answer = event.response
                elif not isinstance(event, TokenLogprobs):
                    yield event
            assert answer is not None
            if not acting.wants_tools(answer):
                break
            if acting.client_side(answer):
                yield ResponseDone(_calls_for_client(passes, answer, self.budget))
                return
            spoken.append(answer)  # it answered with tool calls: run them, then think about the results
            async for event in acting.act(answer, prefix=prefix):
                yield event
        answer_conversation = [*conversation, *acting.history]
        retried = not answer.message.text.strip()
        if retried:  # never an empty reply: start the answer for the model
            retry = replace(acting.final(answer_settings), assistant_prefix=prefix + _ANSWER_START)
            answer = await model.request(answer_conversation, retry)
            if not answer.message.text.strip():
                raise BackendError(f"{model.name} gave an empty answer twice after reasoning")
            yield TextDelta(f"{_ANSWER_START}{answer.message.text}")
        yield ResponseDone(_combine(passes, spoken, answer, retried, self.budget, compressed, acting.log))

    async def _reason(
        self,
        model: Model,
        conversation: list[Message],
        settings: ModelSettings,
        acting: Acting,
        passes: list[ModelResponse],
    ) -> AsyncIterator[Event]:
        """Reasoning passes, with tool rounds between them, until the reasoning closes or the budget is spent.

        Appends each pass to ``passes``; the last one ends the reasoning (or holds calls for the API client).
        """
        while True:
            spent = sum(p.usage.completion_tokens for p in passes)
            if spent >= self.budget:  # the budget went on earlier passes: answer from what is known
                passes.append(ModelResponse(Message("assistant", ()), Usage(), model.name, "length"))
                return
            reasoning_settings = replace(
                acting.settings(settings),
                max_tokens=self.budget - spent,
                stop=(CLOSE, *settings.stop),
                assistant_prefix=OPEN,
                json_schema=None,  # reasoning is free; the answer alone is held to a schema
            )
            current: ModelResponse | None = None
            async for event in model.stream([*conversation, *acting.history], reasoning_settings):
                if isinstance(event, TextDelta):
                    yield ReasoningDelta(event.text)
                elif isinstance(event, ResponseDone):
                    current = event.response
                elif not isinstance(event, TokenLogprobs):  # log probabilities are an Instant answer's
                    yield event  # tool calls
            assert current is not None
            passes.append(current)
            if not acting.wants_tools(current) or acting.client_side(current):
                return
            async for event in acting.act(current, prefix=OPEN):
                yield event


def _calls_for_client(passes: list[ModelResponse], last: ModelResponse, budget: int) -> ModelResponse:
    reasoning = "".join(p.message.text for p in passes)
    spent = sum(p.usage.completion_tokens for p in passes)
    usage = replace(sum_usage(*(p.usage for p in passes)), reasoning_tokens=spent)
    message = Message("assistant", (ReasoningPart(reasoning), *last.message.tool_calls))
    details = {"thinking": {"budget": budget, "compressed": False, "answer_first_token_s": None}}
    return ModelResponse(message, usage, last.model, "tool_calls", details)


def _combine(
    passes: list[ModelResponse],
    spoken: list[ModelResponse],
    second: ModelResponse,
    retried: bool,
    budget: int,
    compressed: bool,
    tool_log: list[dict[str, Any]],
) -> ModelResponse:
    text = (_ANSWER_START if retried else "") + second.message.text
    reasoning_tokens = sum(p.usage.completion_tokens for p in passes)
    usage = sum_usage(*(p.usage for p in passes), *(p.usage for p in spoken), second.usage)
    usage.reasoning_tokens = reasoning_tokens
    before_answer = sum(p.usage.total_time_s for p in [*passes, *spoken])
    answer_first = second.usage.time_to_first_token_s
    details: dict[str, Any] = {
        "thinking": {
            "budget": budget,
            "compressed": compressed,
            "answer_first_token_s": None if answer_first is None else round(before_answer + answer_first, 4),
        }
    }
    if tool_log:
        details["tools"] = tool_log
    reasoning = "\n".join(p.message.text for p in passes if p.message.text)
    message = Message("assistant", (ReasoningPart(reasoning), TextPart(text)))
    return ModelResponse(message, usage, second.model, second.finish_reason, details)

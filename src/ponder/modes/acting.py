"""One tool round of a mode's tool loop: run the calls a model response made, and extend the conversation.

Every mode acts the same way: the model calls tools, Ponder runs them (ToolRunner: validation, parallel calls,
error results), and the model reads the results in the next pass. This module holds that shared step; the
modes decide how many passes there are (Instant: one round; Thinking and each Contemplating sub-agent: rounds
until the reasoning ends, the budget is spent or ``MAX_TOOL_ROUNDS`` is reached).

Tool results are data, never instructions: the prompts tell the model so, and nothing here executes text a
tool returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolResultEvent,
    ToolResultPart,
    Usage,
)
from ponder.models.base import ModelSettings
from ponder.tools.base import ToolContext
from ponder.tools.runner import ToolRunner

__all__ = ["MAX_TOOL_ROUNDS", "Acting", "sum_usage"]

MAX_TOOL_ROUNDS = 8  # tool rounds in one turn (per sub-agent): a model that keeps calling is stopped


@dataclass
class Acting:
    """The tool state of one line of work (a turn, or one sub-agent): its runner and its exchanges so far."""

    runner: ToolRunner | None
    context: ToolContext = field(default_factory=ToolContext)
    history: list[Message] = field(default_factory=list)  # assistant tool calls and tool results, in order
    rounds: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)  # one entry per call: what was asked, what came

    def settings(self, settings: ModelSettings) -> ModelSettings:
        """``settings`` with the tools offered, while tool rounds are left."""
        if self.runner is None or not self.runner.tools or self.rounds >= MAX_TOOL_ROUNDS:
            return self.final(settings)
        # A required call is the first pass's: once tools have answered, the model may answer in words.
        # A pass that may call tools is not held to a structured output's schema (a call is no JSON reply):
        # the mode answers under the schema in a pass of its own (``final``).
        choice = settings.tool_choice if self.rounds == 0 else "auto"
        return replace(settings, tools=self.runner.definitions(), tool_choice=choice, json_schema=None)

    def final(self, settings: ModelSettings) -> ModelSettings:
        """``settings`` for an answer in words: the tools stay in the prompt, whose prefix (and the model's
        cache of it) is then the tool rounds', but none may be called (tool_choice "none")."""
        if self.runner is None or not self.runner.tools:
            return replace(settings, tools=(), tool_choice="auto")
        return replace(settings, tools=self.runner.definitions(), tool_choice="none")

    def wants_tools(self, response: ModelResponse) -> bool:
        return response.finish_reason == "tool_calls" and bool(response.message.tool_calls)

    def client_side(self, response: ModelResponse) -> bool:
        """The calls are for the API client to run: the turn ends with them."""
        return self.runner is not None and self.runner.client_side(response.message.tool_calls)

    async def act(
        self, response: ModelResponse, *, prefix: str = "", agent: int | None = None
    ) -> AsyncIterator[Event]:
        """Run the calls of ``response`` and record the exchange (``prefix``: what the reply began with)."""
        calls: Sequence[ToolCallPart] = response.message.tool_calls
        if self.runner is None:
            results = [ToolResultPart(c.call_id, c.name, "No tools are available.", True) for c in calls]
        else:
            results = await self.runner.run(calls, self.context)
        self.rounds += 1
        text = prefix + response.message.text
        said = (TextPart(text),) if text else ()
        self.history += [Message("assistant", (*said, *calls)), Message("tool", tuple(results))]
        for call, result in zip(calls, results, strict=True):
            self.log.append(
                {
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "result": result.content,
                    "is_error": result.is_error,
                }
            )
        for result in results:
            yield ToolResultEvent(result, agent)


def sum_usage(first: Usage, *rest: Usage) -> Usage:
    """The usage of passes made one after another: tokens add up, the first token is the first pass's."""
    total = Usage(**{**first.__dict__})
    for usage in rest:
        total.prompt_tokens = max(total.prompt_tokens, usage.prompt_tokens)  # each pass re-reads the turn
        total.completion_tokens += usage.completion_tokens
        total.reasoning_tokens += usage.reasoning_tokens
        total.total_time_s += usage.total_time_s
        total.decode_time_s += usage.decode_time_s
    return total

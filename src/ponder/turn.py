"""Running one turn through a mode, and its outcome: the answer, the mode, and what it cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.errors import BackendError
from ponder.messages import Event, Message, ModelResponse, ResponseDone, ToolCallPart, Usage
from ponder.models.base import Model, ModelSettings
from ponder.modes.base import Mode

__all__ = ["TurnResult", "run_turn"]


@dataclass(frozen=True)
class TurnResult:
    text: str
    reasoning: str
    usage: Usage
    model: str
    mode: str
    finish_reason: str
    details: dict[str, Any]
    tool_calls: tuple[ToolCallPart, ...] = ()  # calls the turn ended with, for the API client to run
    logprobs: tuple[dict[str, Any], ...] = ()  # the answer's tokens with their log probabilities, if asked

    @classmethod
    def from_response(cls, response: ModelResponse, mode: str) -> TurnResult:
        details = {k: v for k, v in response.details.items() if k != "logprobs"}
        return cls(
            text=response.message.text,
            reasoning=response.message.reasoning,
            usage=response.usage,
            model=response.model,
            mode=mode,
            finish_reason=response.finish_reason,
            details=details,
            tool_calls=tuple(response.message.tool_calls),
            logprobs=tuple(response.details.get("logprobs") or ()),
        )

    def to_dict(self, *, reasoning: bool = False) -> dict[str, Any]:
        usage = self.usage
        tps = usage.tokens_per_second
        data: dict[str, Any] = {
            "answer": self.text,
            "model": self.model,
            "mode": self.mode,
            "finish_reason": self.finish_reason,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "answer_tokens": usage.answer_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
                "completion_tokens": usage.completion_tokens,
                "time_to_first_token_s": _round(usage.time_to_first_token_s),
                "tokens_per_second": _round(tps),
                "total_time_s": _round(usage.total_time_s),
            },
            **self.details,
        }
        if reasoning:
            data["reasoning"] = self.reasoning
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


async def run_turn(
    mode: Mode,
    model: Model,
    messages: Sequence[Message],
    settings: ModelSettings,
    on_event: Callable[[Event], None] | None = None,
) -> TurnResult:
    """Run one turn to the end, passing every event to ``on_event``; return its result."""
    response: ModelResponse | None = None
    async for event in mode.run(model, messages, settings):
        if on_event is not None:
            on_event(event)
        if isinstance(event, ResponseDone):
            response = event.response
    if response is None:
        raise BackendError(f"{model.name} ended its stream without a final response")
    return TurnResult.from_response(response, mode.name)

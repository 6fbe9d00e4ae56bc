"""Instant mode: one model pass, no extended reasoning, the lowest time to first token.

It adds the system prompt when the conversation has none and streams the model's answer as it comes. With
tools, it allows one tool round: if the model calls tools, they run and a second pass answers from their
results (the tools still shown, so the prompt's cached prefix serves, but none may be called). It
deliberately does no planning, no reasoning budget and no voting: those are the other modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from ponder.messages import Event, Message, ModelResponse, ResponseDone
from ponder.models.base import Model, ModelSettings
from ponder.modes.acting import Acting, sum_usage
from ponder.modes.base import Mode, with_system

__all__ = ["InstantMode"]


class InstantMode(Mode):
    name = "instant"

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        conversation = with_system(messages, self.system("instant"))
        acting = Acting(self.tools)
        first: ModelResponse | None = None
        async for event in model.stream(conversation, acting.settings(settings)):
            if isinstance(event, ResponseDone):
                first = event.response
            else:
                yield event
        assert first is not None
        if not acting.wants_tools(first) or acting.client_side(first):
            yield ResponseDone(first)
            return
        async for event in acting.act(first):
            yield event
        second: ModelResponse | None = None  # one round only: the answer comes in words
        async for event in model.stream([*conversation, *acting.history], acting.final(settings)):
            if isinstance(event, ResponseDone):
                second = event.response
            else:
                yield event
        assert second is not None
        details = {"tools": acting.log}
        yield ResponseDone(replace(second, usage=sum_usage(first.usage, second.usage), details=details))

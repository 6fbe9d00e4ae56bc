"""Instant mode: one model pass, no extended reasoning, the lowest time to first token.

It adds the system prompt when the conversation has none and streams the model's answer as it comes. With
tools, it allows one tool round: if the model calls tools, they run and a second pass answers from their
results (the tools still shown, so the prompt's cached prefix serves, but none may be called). With a
structured output's schema, a pass that may call tools is held back; when it answers in words that are not
the JSON asked for, a pass under the schema answers instead. It
deliberately does no planning, no reasoning budget and no voting: those are the other modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from ponder.messages import Event, Message, ModelResponse, ResponseDone, TextDelta
from ponder.models.base import Model, ModelSettings
from ponder.models.structured import parsed
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
        first_settings = acting.settings(settings)
        held = first_settings.json_schema != settings.json_schema  # structured output, tools offered
        async for event in model.stream(conversation, first_settings):
            if isinstance(event, ResponseDone):
                first = event.response
            elif not (held and isinstance(event, TextDelta)):
                yield event
        assert first is not None
        if held and not acting.wants_tools(first) and settings.json_schema is not None:
            if parsed(first.message.text, settings.json_schema) is None:  # words, not the JSON asked for
                async for event in model.stream(conversation, acting.final(settings)):
                    if isinstance(event, ResponseDone):
                        first = replace(event.response, usage=sum_usage(first.usage, event.response.usage))
                    else:
                        yield event
            else:
                yield TextDelta(first.message.text)
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

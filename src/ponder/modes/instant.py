"""Instant mode: one model pass, no extended reasoning, the lowest time to first token.

It adds the system prompt when the conversation has none and streams the model's answer as it comes.
It deliberately does no planning, no reasoning budget and no voting: those are the other modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from ponder.messages import Event, Message
from ponder.models.base import Model, ModelSettings
from ponder.modes.base import Mode, with_system

__all__ = ["InstantMode"]


class InstantMode(Mode):
    name: ClassVar[str] = "instant"

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        conversation = with_system(messages, self.system("instant"))
        async for event in model.stream(conversation, settings):
            yield event

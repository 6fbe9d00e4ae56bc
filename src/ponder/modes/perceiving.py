"""Perception before reasoning: any mode, given a turn with images or audio, sees them as text first.

``PerceivingMode`` wraps a mode. When the conversation holds image or audio parts it runs perception
(``ponder.perception``), yields one ``PerceptionEvent`` per part, runs the wrapped mode on the perceived
conversation, and adds the reports to the final response's ``details["perception"]``, so every result
says which path read each part. A conversation with neither goes straight through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from ponder.messages import Event, Message, PerceptionEvent, ResponseDone
from ponder.models.base import Model, ModelSettings
from ponder.modes.base import Mode
from ponder.perception import Perception, has_media

__all__ = ["PerceivingMode"]


class PerceivingMode(Mode):
    def __init__(self, inner: Mode, perception: Perception) -> None:
        super().__init__(inner.system_prompt, tools=inner.tools)
        self.name = inner.name
        self.inner = inner
        self.perception = perception

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        if not has_media(messages):
            async for event in self.inner.run(model, messages, settings):
                yield event
            return
        perceived, reports = await self.perception.perceive(messages, native_images=model.accepts_images)
        for report in reports:
            yield PerceptionEvent(report)
        async for event in self.inner.run(model, perceived, settings):
            if isinstance(event, ResponseDone):
                details = {**event.response.details, "perception": reports}
                event = ResponseDone(replace(event.response, details=details))
            yield event

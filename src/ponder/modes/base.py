"""What a reasoning mode is: a way to spend compute on one turn, producing a stream of events.

A mode is configuration plus ``run``; it does not own the model, which is passed in, so one loaded model
serves every mode. Every mode's stream ends with one ``ResponseDone`` whose usage covers the whole turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from ponder.messages import Event, Message
from ponder.models.base import Model, ModelSettings
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

__all__ = ["Mode", "with_system"]


def with_system(messages: Sequence[Message], prompt: str) -> list[Message]:
    """The conversation with ``prompt`` as its system message, unless it already has one."""
    conversation = list(messages)
    if not conversation or conversation[0].role != "system":
        conversation.insert(0, Message.system(prompt))
    return conversation


class Mode(ABC):
    name: str  # instant, thinking, contemplating or auto

    def __init__(self, system_prompt: str | None = None, *, tools: ToolRunner | None = None) -> None:
        self.system_prompt = system_prompt  # None: the mode's own prompt from prompts/
        self.tools = tools  # what the model may call during the turn; None: no tools

    def system(self, default_prompt: str) -> str:
        prompt = self.system_prompt or load_prompt(default_prompt)
        if self.tools is not None and self.tools.tools:
            prompt = f"{prompt}\n\n{load_prompt('tools')}"
        return prompt

    @abstractmethod
    def run(self, model: Model, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        """Answer the last user message of ``messages``, as a stream of events."""

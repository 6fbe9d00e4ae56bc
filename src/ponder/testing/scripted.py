"""ScriptedModel: the shipped test double for every mode, tool loop and endpoint.

A script is a list of steps, consumed one per call to ``request``/``stream``:

* a ``str``                 -> an assistant reply with that text
* a ``list[str]``           -> the same, streamed as those deltas
* a ``ToolCallPart``        -> a reply that calls one tool (a list of them: parallel calls)
* a ``ModelResponse``       -> returned as is
* a ``BaseException``       -> raised
* a callable ``(messages, settings) -> step`` -> called, and its result treated as a step

With ``default``, the model answers every call after the script with that step: ``scripted:TEXT`` as a
model spec is such a model (the zero-cost model of the server benchmarks).

Every call is recorded (``calls``), and ``assert_all_used()`` fails a test that scripted more than it ran.
The fake never looks at prompt text to decide what to answer: the script decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    Part,
    ResponseDone,
    TextDelta,
    TextPart,
    ToolCallEvent,
    ToolCallPart,
    Usage,
)
from ponder.models.base import Model, ModelSettings

__all__ = ["RecordedCall", "ScriptedModel", "Step"]

Step: TypeAlias = (
    "str | list[str] | ToolCallPart | list[ToolCallPart] | ModelResponse | BaseException | StepFunction"
)
StepFunction: TypeAlias = "Callable[[Sequence[Message], ModelSettings], Step]"


@dataclass(frozen=True)
class RecordedCall:
    messages: tuple[Message, ...]
    settings: ModelSettings


class ScriptedModel(Model):
    def __init__(
        self,
        steps: Sequence[Step] = (),
        *,
        name: str = "scripted",
        delay_s: float = 0.0,
        default: Step | None = None,
        record: bool = True,
        vision: bool = False,
    ) -> None:
        self.accepts_images = vision  # True: image parts reach it as they are, like a vision model
        self._steps: list[Step] = list(steps)
        self._default = default  # the step for every call once the script is used up (None: fail)
        self._record = record  # False: keep no log of calls (a long-running server)
        self._name = name
        self._delay_s = delay_s  # pause between streamed deltas, to test cancellation and progress
        self.calls: list[RecordedCall] = []

    @property
    def name(self) -> str:
        return self._name

    def add(self, *steps: Step) -> None:
        self._steps.extend(steps)

    def assert_all_used(self) -> None:
        if self._steps:
            raise AssertionError(f"{len(self._steps)} scripted step(s) were never used: {self._steps!r}")

    async def request(self, messages: Sequence[Message], settings: ModelSettings) -> ModelResponse:
        return self._next(messages, settings)[1]

    async def stream(self, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        deltas, response = self._next(messages, settings)
        for text in deltas:
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            yield TextDelta(text)
        for call in response.message.tool_calls:
            yield ToolCallEvent(call)
        yield ResponseDone(response)

    def _next(self, messages: Sequence[Message], settings: ModelSettings) -> tuple[list[str], ModelResponse]:
        if self._record:
            self.calls.append(RecordedCall(tuple(messages), settings))
        if self._steps:
            step = self._steps.pop(0)
        elif self._default is not None:
            step = self._default
        else:
            raise AssertionError("ScriptedModel ran out of steps: script another reply for this call")
        while callable(step) and not isinstance(step, BaseException | type):
            step = step(messages, settings)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, ModelResponse):
            return [step.message.text] if step.message.text else [], step
        deltas: list[str] = []
        parts: list[Part] = []
        finish = "stop"
        calls = isinstance(step, ToolCallPart) or (
            isinstance(step, list) and bool(step) and all(isinstance(s, ToolCallPart) for s in step)
        )
        if calls and settings.tool_choice == "none":
            raise AssertionError(f"The script calls a tool where tool_choice is 'none' (words): {step!r}")
        if isinstance(step, str):
            deltas = [step]
        elif isinstance(step, ToolCallPart):
            parts, finish = [step], "tool_calls"
        elif calls:
            parts, finish = list(step), "tool_calls"  # type: ignore[arg-type]
        elif isinstance(step, list):
            deltas = [str(s) for s in step]
        else:
            raise TypeError(f"Not a script step: {step!r}")
        text = "".join(deltas)
        if text:
            parts.insert(0, TextPart(text))
        prompt_tokens = sum(len(m.text.split()) for m in messages)
        completion_tokens = sum(len(d.split()) for d in deltas) or len(deltas)
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            time_to_first_token_s=0.0,
            total_time_s=0.0,
        )
        message = Message("assistant", tuple(parts))
        return deltas, ModelResponse(message, usage, self._name, finish)  # type: ignore[arg-type]

"""The one interface every model backend implements.

A backend has ONE required method, ``request``: messages and settings in, a whole ``ModelResponse`` out.
``stream`` is optional; the default falls back to ``request`` and replays the answer as events, so every
caller can consume a stream whatever the backend. Settings here are the ones every backend understands;
provider-only knobs live in each backend's own constructor.

Cancellation is asyncio's: cancelling the task that awaits ``request`` or iterates ``stream`` must stop the
backend's work (the embedded engine stops decoding; HTTP backends close the connection).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    ReasoningDelta,
    ResponseDone,
    TextDelta,
    ToolCallEvent,
)

__all__ = ["Branch", "BranchEvent", "Model", "ModelInfo", "ModelSettings"]


@dataclass(frozen=True)
class ModelSettings:
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()  # JSON-schema tool definitions (OpenAI "function" shape)
    # required: the reply is tool calls, nothing else. none: the tools are shown (the prompt stays the one of
    # the tool rounds before, so a cached prefix is reused) but the reply is words: the last round of a loop.
    tool_choice: Literal["auto", "required", "none"] = "auto"
    # Text the assistant's reply already starts with: the model continues it (and the response's text
    # excludes it). Thinking uses it to open and close the reasoning; Contemplating to set each agent's angle.
    assistant_prefix: str = ""
    # The reply is one JSON value that matches this JSON schema (structured output): the embedded engine
    # generates it under a grammar made from the schema; an OpenAI-compatible server gets it as
    # ``response_format``. The schema is not shown to the model: say in the prompt what the fields mean.
    json_schema: dict[str, Any] | None = None
    # Sampling as OpenAI's fields say: penalties on tokens already generated (by count, or once present),
    # a bias added to the logits of given token ids (-100 bans, 100 forces), and the log probabilities of
    # the tokens chosen with the ``logprobs`` most likely at each step (None: none; 0: the chosen token's).
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    logprobs: int | None = None
    # A stable key of the conversation (a hash of its owner and session), sent to an OpenAI-compatible
    # engine as a header so a session-aware router keeps one conversation on one engine and its prefix cache
    # hot; "" : none (a turn without a session). The embedded engine keeps conversations itself.
    routing_key: str = ""


@dataclass(frozen=True)
class Branch:
    """One of several continuations of the same conversation (a Contemplating sub-agent)."""

    settings: ModelSettings  # its own budget, seed and assistant_prefix
    # Messages of this branch alone, after the shared conversation (a sub-agent's tool calls and results).
    history: tuple[Message, ...] = ()
    # Thought compression: when the budget (settings.max_tokens) is spent without an end, ``closer`` is
    # appended to the branch's text and it gets ``after_close`` more tokens to commit to an answer.
    closer: str = ""
    after_close: int = 0


@dataclass(frozen=True)
class BranchEvent:
    """An event of branch ``index``; a failed branch ends with ``error`` set instead of a ResponseDone."""

    index: int
    event: Event | None
    error: BaseException | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What ``ponder models`` shows about a model."""

    spec: str
    backend: str
    ready: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Model(ABC):
    """A chat model behind a backend."""

    # The model reads image parts itself (a vision model). When False, perception turns them into text.
    accepts_images: bool = False

    @property
    @abstractmethod
    def name(self) -> str:
        """The model's spec, as a user would write it after ``--model``."""

    @abstractmethod
    async def request(self, messages: Sequence[Message], settings: ModelSettings) -> ModelResponse:
        """Generate one whole response."""

    async def stream(self, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        """Generate a response as events, ending with ``ResponseDone``. Falls back to ``request``."""
        response = await self.request(messages, settings)
        for event in replay(response):
            yield event

    async def stream_many(
        self,
        messages: Sequence[Message],
        branches: Sequence[Branch],
        halt: Callable[[int], bool] | None = None,
    ) -> AsyncIterator[BranchEvent]:
        """Run several branches of one conversation at once, interleaving their events.

        The default runs one ``stream`` per branch concurrently (an OpenAI-compatible server batches them on
        its side). A branch that fails yields a ``BranchEvent`` with ``error`` and the others go on;
        ``halt(i)`` returning True stops branch i early. Cancelling the iteration cancels every branch.
        Backends that can share work between branches (the embedded engine) override this.
        """
        queue: asyncio.Queue[BranchEvent | None] = asyncio.Queue()

        async def run(index: int, branch: Branch) -> None:
            try:
                async for event in self._stream_branch(messages, branch):
                    await queue.put(BranchEvent(index, event))
                    if halt is not None and halt(index) and not isinstance(event, ResponseDone):
                        break
            except Exception as err:  # reported as this branch's failure; the others go on
                await queue.put(BranchEvent(index, None, err))
            finally:
                await queue.put(None)

        tasks = [asyncio.create_task(run(i, b)) for i, b in enumerate(branches)]
        try:
            remaining = len(tasks)
            while remaining:
                item = await queue.get()
                if item is None:
                    remaining -= 1
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _stream_branch(self, messages: Sequence[Message], branch: Branch) -> AsyncIterator[Event]:
        """One branch as a stream; a spent budget gets the closer and a second, short pass."""
        messages = [*messages, *branch.history]
        first: ModelResponse | None = None
        async for event in self.stream(messages, branch.settings):
            if isinstance(event, ResponseDone):
                first = event.response
            else:
                yield event
        assert first is not None
        if first.finish_reason != "length" or not branch.closer:
            yield ResponseDone(first)
            return
        yield TextDelta(branch.closer)
        prefix = branch.settings.assistant_prefix + first.message.text + branch.closer
        closing = replace(branch.settings, assistant_prefix=prefix, max_tokens=branch.after_close)
        second = await self.request(messages, closing)
        if second.message.text:
            yield TextDelta(second.message.text)
        usage = replace(
            first.usage,
            completion_tokens=first.usage.completion_tokens + second.usage.completion_tokens,
            total_time_s=first.usage.total_time_s + second.usage.total_time_s,
        )
        text = first.message.text + branch.closer + second.message.text
        yield ResponseDone(
            replace(first, message=Message.assistant(text), usage=usage, finish_reason=second.finish_reason)
        )

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the backend holds (connections, engine threads)."""


def replay(response: ModelResponse) -> list[Event]:
    """The events a stream would have produced for ``response``."""
    events: list[Event] = []
    if response.message.reasoning:
        events.append(ReasoningDelta(response.message.reasoning))
    if response.message.text:
        events.append(TextDelta(response.message.text))
    events.extend(ToolCallEvent(call) for call in response.message.tool_calls)
    events.append(ResponseDone(response))
    return events

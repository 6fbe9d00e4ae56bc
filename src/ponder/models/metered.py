"""``MeteredModel``: a model that counts what each of its calls spent, however the call ended, and caps
every call's ``max_tokens`` by an allowance.

The server charges a key for the tokens of its turn. A turn's usage comes with its final response, but a
stream the client closed, a request it cancelled, a timeout or a failure never gets there, and the model
worked all the same. The meter sits between the turn and the model and sees every call (Thinking's passes,
Contemplating's batched agents, tool rounds): a call that finished counts the usage it reported; one that
ended early counts the text deltas it streamed (one per generated token on the embedded engine and from
OpenAI-compatible servers) and an estimate of its prompt (four characters a token). Its count follows the
modes' own usage: completions add up, the prompt counts once, at its largest (every pass and agent re-reads
the same turn, whose prefix the engine keeps). With an ``allowance``, each call's ``max_tokens`` is cut to
what is left of it after the calls before (shared evenly by the branches of one batch), so a turn cannot
generate past what its key's day has left; the prompt is counted on top.

It does not admit, refuse or store anything: the server reads ``tokens`` when the turn ends and charges it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from ponder.messages import Event, Message, ModelResponse, ReasoningDelta, ResponseDone, TextDelta, Usage
from ponder.models.base import Branch, BranchEvent, Model, ModelSettings

__all__ = ["MeteredModel", "estimate_prompt_tokens"]

_CHARS_PER_TOKEN = 4


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """A rough token count of the messages' text (for calls that never reported their usage)."""
    return sum(len(m.text) + len(m.reasoning) for m in messages) // _CHARS_PER_TOKEN


class MeteredModel(Model):
    """``inner`` with a meter; one per turn (the inner model is shared and is not closed here)."""

    def __init__(self, inner: Model, allowance: int | None = None) -> None:
        self.inner = inner
        self.accepts_images = inner.accepts_images
        self.allowance = allowance  # tokens the turn may still generate in all; None: no cap
        self._prompt = 0  # the largest prompt of the calls that are over
        self._completion = 0  # tokens the calls that are over generated
        self._live: dict[int, tuple[int, int]] = {}  # a running call -> (its prompt estimate, deltas so far)
        self._ids = itertools.count()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def tokens(self) -> int:
        """Tokens spent so far: the calls that are over, and what the running ones have spent yet."""
        prompt = max([self._prompt, *(p for p, _ in self._live.values())])
        return prompt + self._completion + sum(d for _, d in self._live.values())

    async def request(self, messages: Sequence[Message], settings: ModelSettings) -> ModelResponse:
        settings = self._capped(settings)
        call = self._open(messages)
        response: ModelResponse | None = None
        try:
            response = await self.inner.request(messages, settings)
            return response
        finally:
            self._close(call, None if response is None else response.usage)

    async def stream(self, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        settings = self._capped(settings)
        call = self._open(messages)
        try:
            async for event in self.inner.stream(messages, settings):
                self._see(call, event)
                yield event
        finally:
            self._close(call, None)

    async def stream_many(
        self,
        messages: Sequence[Message],
        branches: Sequence[Branch],
        halt: Callable[[int], bool] | None = None,
    ) -> AsyncIterator[BranchEvent]:
        capped = [replace(b, settings=self._capped(b.settings, share=len(branches))) for b in branches]
        calls = [self._open([*messages, *b.history]) for b in branches]
        try:
            async for item in self.inner.stream_many(messages, capped, halt):
                if item.event is not None:
                    self._see(calls[item.index], item.event)
                yield item
        finally:
            for call in calls:
                self._close(call, None)

    # --- the meter ------------------------------------------------------------------------------------------

    def _capped(self, settings: ModelSettings, share: int = 1) -> ModelSettings:
        if self.allowance is None:
            return settings
        left = max(1, (self.allowance - self.tokens) // share)  # a call asks for one token at least
        return settings if settings.max_tokens <= left else replace(settings, max_tokens=left)

    def _open(self, messages: Sequence[Message]) -> int:
        call = next(self._ids)
        self._live[call] = (estimate_prompt_tokens(messages), 0)
        return call

    def _see(self, call: int, event: Event) -> None:
        if isinstance(event, ResponseDone):
            self._close(call, event.response.usage)
        elif isinstance(event, TextDelta | ReasoningDelta) and call in self._live:
            prompt, deltas = self._live[call]
            self._live[call] = (prompt, deltas + 1)

    def _close(self, call: int, usage: Usage | None) -> None:
        """Move a call's tokens from running to spent: its reported usage, or what was seen of it."""
        seen = self._live.pop(call, None)
        if seen is None:
            return  # already closed
        prompt, generated = seen if usage is None else (usage.prompt_tokens, usage.completion_tokens)
        self._prompt = max(self._prompt, prompt)
        self._completion += generated

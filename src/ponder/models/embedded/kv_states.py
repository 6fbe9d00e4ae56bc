"""Conversations' KV states kept in memory, so that a prompt which pushed one out does not cost its prefill.

The engine has one context, and its KV cache holds the last prompt only. When another prompt comes in
between two turns of a conversation (post-turn learning, a shopping reply written on the store's policy,
another customer's turn), the next turn of the first conversation used to evaluate its whole prompt again:
seconds per thousand tokens on a small CPU. ``KvStates`` keeps the states the engine is about to overwrite
(a copy of llama.cpp's sequence state, with the tokens it holds), least recently used out past a byte cap;
the engine restores the one that shares the longest prefix with a new prompt when it covers more than what
the context still holds.

Only the engine's worker thread uses it (no lock). It keeps nothing on disk: prefix_cache.py does that for
the stable system turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KvStates", "SavedState", "common_prefix"]

DEFAULT_MAX_BYTES = 256 << 20
MIN_GAIN = 64  # tokens: a state is kept, or restored, only when it saves at least this much prefill


@dataclass(frozen=True)
class SavedState:
    tokens: tuple[int, ...]  # what the sequence held
    data: bytearray  # llama.cpp's sequence state (writable: llama.cpp's API takes a mutable buffer)


class KvStates:
    """Sequence states by the tokens they hold, newest use last, at most ``max_bytes`` of them."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[tuple[int, ...], SavedState] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._states)

    def keep(self, tokens: Sequence[int], data: bytearray) -> None:
        """Keep the state of a sequence holding ``tokens`` (replacing any state it extends)."""
        key = tuple(tokens)
        if len(data) > self.max_bytes:
            return
        for other in [k for k in self._states if key[: len(k)] == k]:  # prefixes of it are worth less
            self._drop(other)
        self._states[key] = SavedState(key, data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._states)))

    def best(self, prompt: Sequence[int], covered: int) -> tuple[SavedState, int] | None:
        """The kept state sharing the longest prefix with ``prompt``, and that length, if it covers at least
        ``MIN_GAIN`` tokens more than ``covered`` (what the context already holds of the prompt)."""
        found: tuple[SavedState, int] | None = None
        for state in self._states.values():
            shared = common_prefix(state.tokens, prompt)
            if shared >= covered + MIN_GAIN and (found is None or shared > found[1]):
                found = (state, shared)
        if found is not None:
            self._states.move_to_end(found[0].tokens)
        return found

    def _drop(self, key: tuple[int, ...]) -> None:
        self._bytes -= len(self._states.pop(key).data)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many tokens ``a`` and ``b`` share from their start."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n

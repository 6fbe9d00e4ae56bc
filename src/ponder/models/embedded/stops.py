"""Stop sequences over a stream of text pieces.

Text that might be the start of a stop sequence is held back until the next piece settles it, so a stop
sequence never leaks into the output, even when it arrives split across tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopMatcher"]


class StopMatcher:
    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._held = ""
        self.matched: str | None = None  # the stop sequence that was reached, once one is

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add ``piece``; return (text safe to emit, whether a stop sequence was reached)."""
        if not self._stops:
            return piece, False
        text = self._held + piece
        found = [(i, s) for s in self._stops if (i := text.find(s)) >= 0]
        if found:
            cut, self.matched = min(found)
            self._held = ""
            return text[:cut], True
        hold = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(text)), hold, -1):
                if text.endswith(stop[:length]):
                    hold = length
                    break
        self._held = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

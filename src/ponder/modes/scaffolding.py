"""Keeping a mode's scaffolding out of what the person reads: the forced ``Answer:`` prefix.

Thinking and Contemplating ask the model to commit to an answer (``Answer: 11``) and, when its budget runs
out or it says nothing, start the answer for it with ``Answer:``. That marker is for the modes (the vote
reads it), not for the person: a reply that opens with it is shown without it. ``AnswerPrefix`` does this on
a stream of text deltas (the prefix may arrive split over several); ``strip_answer_prefix`` on whole text.
A last ``Answer:`` line after an explanation is the model's own wording and stays.

It does not change what the modes vote on, or what a model is sent.
"""

from __future__ import annotations

import re

__all__ = ["AnswerPrefix", "strip_answer_prefix"]

_PREFIX = re.compile(r"\A\s*(?:\*\*)?(?:final answer|answer)\s*(?:\*\*)?\s*[:=]\s*(?:\*\*)?[ \t]*", re.I)
_DECIDE_AT = 24  # characters (after leading space): enough to hold the longest prefix and what follows


def strip_answer_prefix(text: str) -> str:
    """``text`` without a leading ``Answer:`` (or ``Final answer:``); other text as it is."""
    match = _PREFIX.match(text)
    return text[match.end() :] if match else text


class AnswerPrefix:
    """A filter over a reply's text deltas: the same text, minus a leading ``Answer:``.

    It holds the first characters back only while they may still be that prefix (a reply that starts with
    anything but an ``a``, ``f`` or ``*`` passes at once), then lets everything through unchanged; ``flush``
    returns what is held when the reply ends early.
    """

    def __init__(self) -> None:
        self._held = ""
        self._decided = False

    def feed(self, text: str) -> str:
        if self._decided:
            return text
        self._held += text
        start = self._held.lstrip()
        if start and start[0].lower() not in "af*":
            return self._decide(self._held)
        if len(start) >= _DECIDE_AT or "\n" in start:
            return self._decide(strip_answer_prefix(self._held))
        return ""

    def flush(self) -> str:
        """What is held back (a reply that ended within its first characters), prefix stripped."""
        return "" if self._decided else self._decide(strip_answer_prefix(self._held))

    def _decide(self, text: str) -> str:
        self._decided, self._held = True, ""
        return text

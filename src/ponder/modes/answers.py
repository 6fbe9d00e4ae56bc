"""Final answers: find one in a sub-agent's text, and vote among several.

An answer is checkable when the text commits to one: a ``\\boxed{...}`` or a last ``Answer:`` line. Numbers
are normalised (``$1,200.00`` and ``1200`` are the same vote); other answers compare case- and
space-insensitively. Text that commits to nothing has no answer and does not vote.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Vote", "final_answer", "normalise", "vote"]

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER = re.compile(r"(?:final answer|answer)\s*(?:is)?\s*[:=]\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


def final_answer(text: str) -> str | None:
    """The answer ``text`` commits to, normalised; None when it commits to none."""
    boxed = _BOXED.findall(text)
    if boxed:
        return normalise(boxed[-1])
    lines = _ANSWER.findall(text)
    if lines:
        return normalise(lines[-1])
    return None


def normalise(answer: str) -> str | None:
    answer = answer.strip().strip("*").strip()
    number = _NUMBER.search(answer)
    if number:
        value = number.group().replace("$", "").replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        return value or None
    cleaned = " ".join(answer.lower().rstrip(".").split())
    if not cleaned or cleaned.startswith("<"):  # "Answer: <number>" copied from the instructions
        return None
    return cleaned


@dataclass(frozen=True)
class Vote:
    winner: str | None
    counts: dict[str, int]  # answer -> votes
    majority: bool  # the winner holds more than half of all voters, absent ones included


def vote(answers: Sequence[str | None], voters: int) -> Vote:
    """Majority vote; ties go to the answer given first. ``voters`` counts agents without an answer too."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return Vote(None, {}, False)
    order = {a: i for i, a in reversed(list(enumerate(answers)))}
    winner = max(counts, key=lambda a: (counts[a], -order[a]))
    return Vote(winner, dict(counts), counts[winner] * 2 > voters)

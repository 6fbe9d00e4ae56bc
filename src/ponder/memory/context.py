"""What the model is given from memory: the recalled facts, and a session's history fitted to its context.

- ``recall_note``: the recalled memories as a system message placed just before the new turn, labelled as
  notes from earlier conversations (data about the user, to use when relevant).
- ``fit_history``: when a resumed session is longer than its share of the context, the oldest turns are
  dropped whole (a turn is a user message and what answered it) until the rest fits, and a note says how
  many messages were left out and what the user asked in them. A message is never cut in the middle.

Token counts are estimated (``estimate_tokens``: about three characters per token, which overestimates for
English and most tokenizers), because the history is fitted before any backend is asked to count.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.memory.memories import Memory
from ponder.messages import Message, TextPart, ToolCallPart, ToolResultPart

__all__ = ["estimate_tokens", "fit_history", "recall_note"]

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 8  # role markers and separators of a chat template, per message
QUESTIONS_IN_NOTE = 5
QUESTION_CHARS = 80


def estimate_tokens(message: Message) -> int:
    chars = 0
    for part in message.parts:
        if isinstance(part, TextPart):
            chars += len(part.text)
        elif isinstance(part, ToolCallPart):
            chars += len(part.name) + len(str(part.arguments))
        elif isinstance(part, ToolResultPart):
            chars += len(part.content)
    return MESSAGE_OVERHEAD + int(chars / CHARS_PER_TOKEN) + 1


def recall_note(memories: Sequence[Memory]) -> Message | None:
    if not memories:
        return None
    lines = "\n".join(f"- {m.text}" for m in memories)
    return Message.system(
        "Notes about the user from earlier conversations (facts they told you; use them when they are "
        f"relevant to this request, and do not mention them otherwise):\n{lines}"
    )


def fit_history(history: Sequence[Message], budget_tokens: int) -> tuple[list[Message], int, Message | None]:
    """(the newest whole turns that fit in ``budget_tokens``, how many messages were dropped, a note)."""
    turns: list[list[Message]] = []
    for message in history:
        if message.role == "user" and (not turns or turns[-1][-1].role != "user"):
            turns.append([])
        if not turns:
            turns.append([])
        turns[-1].append(message)
    kept: list[list[Message]] = []
    used = 0
    for turn in reversed(turns):
        cost = sum(estimate_tokens(m) for m in turn)
        if used + cost > budget_tokens:
            break
        kept.insert(0, turn)
        used += cost
    dropped = [m for turn in turns[: len(turns) - len(kept)] for m in turn]
    fitted = [m for turn in kept for m in turn]
    if not dropped:
        return fitted, 0, None
    asked = [_short(m.text) for m in dropped if m.role == "user" and m.text.strip()]
    shown = "; ".join(f'"{q}"' for q in asked[-QUESTIONS_IN_NOTE:])
    more = f" (and {len(asked) - QUESTIONS_IN_NOTE} earlier)" if len(asked) > QUESTIONS_IN_NOTE else ""
    note = Message.system(
        f"The first {len(dropped)} messages of this conversation are not shown, to fit the context."
        + (f" In them the user asked{more}: {shown}." if shown else "")
    )
    return fitted, len(dropped), note


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= QUESTION_CHARS:
        return text
    return (text[:QUESTION_CHARS].rsplit(" ", 1)[0] or text[:QUESTION_CHARS]) + "…"

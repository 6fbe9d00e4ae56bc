"""The memory of a running Ponder: one object that the CLI and the server share around every turn.

``before_turn`` resumes the session (if one is named), fits its history to the context, and recalls what is
known about the user; ``after_turn`` stores the turn once it has succeeded; ``learn`` asks the model for
durable facts in what the user said and remembers them. The stores underneath (sessions, memories, users)
can be used on their own; this is the order in which a turn uses them.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.config import MemoryConfig
from ponder.memory.context import fit_history, recall_note
from ponder.memory.embeddings import E5Embedder, Embedder
from ponder.memory.extraction import extract_stated, outside_words, statements, user_words
from ponder.memory.memories import Change, Memory, MemoryStore
from ponder.memory.owner import Owner
from ponder.memory.sessions import Resumed, SessionStore
from ponder.memory.users import UserStore
from ponder.messages import Message, Part, TextPart, ToolCallPart
from ponder.models.base import Model
from ponder.store.database import Database

__all__ = ["MemoryService", "TurnMemory", "reply_of"]

INLINE_CHARS = 1_000  # a turn this short is read for facts on the event loop (at most about 60 µs)


@dataclass
class TurnMemory:
    """What memory prepared for one turn, and what it did after it."""

    owner: Owner
    messages: list[Message]  # what the mode runs on
    new: list[Message]  # the turn's own messages (the client's, not yet stored)
    resumed: Resumed | None = None
    recalled: list[tuple[Memory, float]] = field(default_factory=list)
    trimmed: int = 0  # history messages left out to fit the context
    recall_s: float = 0.0
    turn: int | None = None  # its number in the session, once stored
    said: list[Message] = field(default_factory=list)  # the new messages as perceived (media as text)
    enabled: bool = True  # recall and learning; False: the turn is only stored
    learned: list[Change] = field(default_factory=list)

    @property
    def session_id(self) -> str | None:
        return None if self.resumed is None else self.resumed.session.id

    def report(self) -> dict[str, Any]:
        """For ``--json`` and ``usage.ponder.memory``."""
        return {
            "user": self.owner.user,
            "project": self.owner.project or None,
            "session": self.session_id,
            "turn": self.turn,
            "history_messages": 0 if self.resumed is None else len(self.resumed.history),
            "trimmed_messages": self.trimmed,
            "recalled": [{"id": m.id, "text": m.text, "score": round(s, 3)} for m, s in self.recalled],
            "recall_s": round(self.recall_s, 4),
            "learned": [
                {"action": c.action, "id": c.memory.id, "text": c.memory.text}
                | ({"replaced": c.replaced.text} if c.replaced else {})
                for c in self.learned
            ],
        }


class MemoryService:
    def __init__(self, db: Database, config: MemoryConfig, embedder: Embedder | None = None) -> None:
        self.db = db
        self.config = config
        self.embedder = embedder or E5Embedder()
        self.users = UserStore(db)
        self.sessions = SessionStore(db)
        self.memories = MemoryStore(db, self.embedder)

    def before_turn(
        self,
        owner: Owner,
        session_id: str | None,
        incoming: Sequence[Message],
        context_tokens: int,
        *,
        enabled: bool = True,
    ) -> TurnMemory:
        """The messages to run: system messages, then history (fitted), recalled notes, the new turn.

        ``enabled=False`` (or ``memory.enabled = false``): no recall, and ``learn`` does nothing.
        """
        system = [m for m in incoming if m.role == "system"]
        resumed = None
        if session_id is not None:
            resumed = self.sessions.resume(owner, session_id, incoming)
            history, new = resumed.history, resumed.new
        else:
            self.users.ensure(owner)
            conversation = [m for m in incoming if m.role != "system"]
            history, new = conversation[:-1], conversation[-1:]
            # A client without a session sends its history along: only the trailing user message is new.
        turn = TurnMemory(owner, [], list(new), resumed, enabled=enabled and self.config.enabled)
        if turn.enabled and self.config.recall_k > 0:
            query = user_words(new) or (new[-1].text if new else "")
            started = time.perf_counter()
            turn.recalled = self.memories.recall(
                owner, query, self.config.recall_k, self.config.recall_min_score
            )
            turn.recall_s = time.perf_counter() - started
        budget = int(context_tokens * self.config.history_share)
        fitted, turn.trimmed, trim_note = fit_history(history, budget)
        note = recall_note([m for m, _ in turn.recalled])
        turn.messages = [
            *system,
            *([trim_note] if trim_note else []),
            *fitted,
            *([note] if note else []),
            *new,
        ]
        return turn

    def after_turn(
        self, turn: TurnMemory, reply: Message, *, perceived: Sequence[Message] | None = None, **meta: Any
    ) -> None:
        """Store the turn (its new messages, as perceived, and the reply) in its session, if it has one.

        ``perceived``: the turn's new messages after perception (the last ``len(turn.new)`` messages of the
        perceived conversation); None when there was no media.
        """
        messages = list(perceived) if perceived is not None else turn.new
        turn.said = messages = [m for m in messages if m.role != "system"]
        if turn.resumed is None:
            return
        prints: list[str | None] = [*turn.resumed.fingerprints[: len(messages)], None]
        reply_meta = {k: v for k, v in meta.items() if v is not None}
        turn.turn = self.sessions.record(
            turn.owner,
            turn.resumed.session.id,
            [*messages, reply],
            fingerprints=prints,
            meta=[{} for _ in messages] + [reply_meta],
            branch_at=turn.resumed.branch_at,
        )

    async def learn(self, turn: TurnMemory, model: Model) -> list[Change]:
        """Extract durable facts from what the user said in this turn and remember them; what text from
        outside (tool results, images) claims about the user is stored pending, for the user to confirm."""
        stated = await self.stated(turn)
        if stated is None:
            return []
        learned = await self.learn_stated(turn.owner, turn.session_id, turn.turn, *stated, model)
        turn.learned = learned
        return learned

    async def stated(self, turn: TurnMemory) -> tuple[str, str] | None:
        """What the turn says about the user, in their own words and in outside text (tool results, images):
        what ``learn_stated`` extracts from; None when learning is off or the turn states nothing (most: no
        model call, no write follow)."""
        if not (turn.enabled and self.config.extract):
            return None
        said = turn.said or turn.new

        # Gathering the words: off the loop for a long turn (it may hold thousands of messages), at once for a
        # short one (tens of microseconds).
        def gather() -> tuple[str, str]:
            return statements(user_words(said)), statements(outside_words(said))

        short = sum(len(p.text) for m in said for p in m.parts if isinstance(p, TextPart)) <= INLINE_CHARS
        mine, outside = gather() if short else await asyncio.to_thread(gather)
        return (mine, outside) if mine or outside else None

    async def learn_stated(
        self, owner: Owner, session: str | None, number: int | None, mine: str, outside: str, model: Model
    ) -> list[Change]:
        """Remember what ``stated`` gathered: the facts the user stated as theirs, and what outside text
        claims about them as pending (one model call for each that is not empty)."""
        remember = functools.partial(self.memories.remember, owner, session=session, turn=number)
        learned: list[Change] = []
        own = await extract_stated(model, mine)
        if own:
            learned += await asyncio.to_thread(remember, own, "conversation")
        claimed = await extract_stated(model, outside)  # tool results, text in images: untrusted
        if claimed:
            learned += await asyncio.to_thread(remember, claimed, "tool")
        return learned


def reply_of(text: str, tool_calls: Sequence[ToolCallPart] = ()) -> Message:
    """The assistant message a turn ended with, as a client would send it back."""
    parts: list[Part] = [TextPart(text)] if text or not tool_calls else []
    return Message("assistant", (*parts, *tool_calls))

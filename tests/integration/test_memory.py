"""Memory on real models: extraction by the embedded Qwen 0.5B, recall with the shipped E5 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.config import MemoryConfig
from ponder.memory.extraction import extract
from ponder.memory.memories import TOPICS, Candidate
from ponder.memory.owner import Owner
from ponder.memory.service import MemoryService, reply_of
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.modes import InstantMode
from ponder.store import open_database
from ponder.turn import run_turn

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_extraction_returns_facts_about_the_user(qwen_small: EmbeddedModel) -> None:
    facts = await extract(qwen_small, "I'm vegetarian and my shoe size is 43. Can you suggest a recipe?")
    assert facts and all(isinstance(f, Candidate) and f.text and f.topic in TOPICS for f in facts)
    assert await extract(qwen_small, "What is 17 * 23?") == []  # no statement: no model call, no fact


async def test_a_turn_is_stored_learned_from_and_recalled(qwen_small: EmbeddedModel, tmp_path: Path) -> None:
    service = MemoryService(open_database(tmp_path / "p.db"), MemoryConfig())
    ann, bob = Owner(user="ann"), Owner(user="bob")
    turn = service.before_turn(
        ann, "s1", [Message.user("I live in Porto and I am allergic to peanuts.")], 2048
    )
    result = await run_turn(
        InstantMode(), qwen_small, turn.messages, ModelSettings(max_tokens=40, temperature=0)
    )
    service.after_turn(turn, reply_of(result.text), mode=result.mode)
    learned = await service.learn(turn, qwen_small)
    assert learned and {c.action for c in learned} <= {"added", "merged", "replaced"}
    stored = service.memories.list_memories(ann)
    assert all(m.source_session == "s1" and m.source_turn == 0 for m in stored)
    assert [m.message.role for m in service.sessions.history(ann, "s1")] == ["user", "assistant"]

    later = service.before_turn(ann, None, [Message.user("Is this satay sauce safe for me to eat?")], 2048)
    assert 0 < len(later.recalled) <= 3
    assert {m.id for m, _ in later.recalled} <= {m.id for m in stored}
    assert later.messages[-2].role == "system" and "Notes about the user" in later.messages[-2].text
    assert service.before_turn(bob, None, [Message.user("Is this satay sauce safe?")], 2048).recalled == []

"""Learning after a turn as a durable job: what a turn states is queued in the job table, and any worker
(another replica, this one restarted) carries it out later, with the model the turn ran on; a turn that
states nothing queues nothing."""

from __future__ import annotations

import functools

from ponder.config import MemoryConfig
from ponder.memory.learning import LEARN_JOB, queue_learning, run_learning
from ponder.memory.owner import Owner
from ponder.memory.service import MemoryService, TurnMemory
from ponder.messages import Message
from ponder.store import open_database
from ponder.store.async_jobs import AsyncJobWorker
from ponder.store.jobs import JobQueue
from ponder.testing import HashingEmbedder, ScriptedModel

CARL = Owner("acme", "carl")
EXTRACTED = '{"topic": "size", "slot": "shoe size", "fact": "The user wears shoe size 44."}]'


async def test_what_a_turn_stated_is_learned_by_whichever_worker_takes_the_job(database_url: str) -> None:
    db = open_database(database_url)
    memory = MemoryService(db, MemoryConfig(extract=True), HashingEmbedder())
    turn = TurnMemory(CARL, [], [Message.user("My shoe size is 44.")])
    stated = await memory.stated(turn)
    assert stated is not None and "44" in stated[0]
    queue_learning(db, turn, stated, "scripted:extractor")  # the replica that answered dies here
    assert memory.memories.list_memories(CARL) == []

    asked: list[str] = []
    model = ScriptedModel([EXTRACTED])

    def model_of(spec: str) -> ScriptedModel:
        asked.append(spec)
        return model

    other = AsyncJobWorker(
        JobQueue(db), {LEARN_JOB: functools.partial(run_learning, lambda: memory, model_of)}
    )
    assert await other.run_due() == 1
    assert [m.text for m in memory.memories.list_memories(CARL)] == ["The user wears shoe size 44."]
    assert asked == ["scripted:extractor"]


async def test_a_turn_that_states_nothing_queues_nothing(database_url: str) -> None:
    db = open_database(database_url)
    memory = MemoryService(db, MemoryConfig(extract=True), HashingEmbedder())
    assert await memory.stated(TurnMemory(CARL, [], [Message.user("What time is it?")])) is None
    off = MemoryService(db, MemoryConfig(extract=False), HashingEmbedder())
    assert await off.stated(TurnMemory(CARL, [], [Message.user("My shoe size is 44.")])) is None

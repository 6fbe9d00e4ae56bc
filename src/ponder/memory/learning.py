"""Learning from a turn later, as a durable job (``memory.learn``) in the one job table, so a replica that
dies after answering loses nothing it was about to learn, and any replica may do the learning.

At the end of a turn the surface asks what the turn states about the user (``MemoryService.stated``: no
model call, and nothing at all for most turns); when there is something, ``queue_learning`` writes it as a
job. ``run_learning`` is the job's handler (the server's async job worker, store/async_jobs.py): the
extraction model calls and the writes (``MemoryService.learn_stated``), with the model the turn ran on.
A repeat of the job after a crash remembers the same facts again, which ``remember`` folds into the ones
it already holds.

Not here: what is extracted and how it is kept (extraction.py, memories.py).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ponder.memory.owner import Owner
from ponder.store.database import Database
from ponder.store.jobs import enqueue

if TYPE_CHECKING:
    from ponder.conversation import Turn
    from ponder.memory.service import MemoryService, TurnMemory
    from ponder.models.base import Model

__all__ = ["LEARN_JOB", "queue_learning", "queue_stated", "run_learning"]

LEARN_JOB: Final = "memory.learn"


def queue_learning(db: Database, turn: TurnMemory, stated: tuple[str, str], model: str) -> None:
    """Queue the learning of what ``turn`` stated (``MemoryService.stated``), with ``model``'s spec."""
    owner = turn.owner
    mine, outside = stated
    where = f"{turn.session_id}:{turn.turn}" if turn.session_id else secrets.token_hex(8)
    payload = {
        "account": owner.account,
        "user": owner.user,
        "project": owner.project,
        "session": turn.session_id,
        "turn": turn.turn,
        "mine": mine,
        "outside": outside,
        "model": model,
    }
    with db.transaction() as conn:
        enqueue(conn, LEARN_JOB, f"{owner.account}:{owner.user}:{where}", payload, max_attempts=5)


async def queue_stated(db: Database, turn: Turn, model: str) -> None:
    """Queue what the finished ``turn`` stated about the user (``Turn.stated``: no model call; most turns
    state nothing and queue nothing), to be learned with ``model``'s spec; the write in a worker thread.
    Every surface calls it before the turn's answer is final (the HTTP routes, the messaging channels)."""
    if not turn.learns:
        return
    stated = await turn.stated()
    if stated is None or turn.memory is None:
        return
    await asyncio.to_thread(queue_learning, db, turn.memory, stated, model)


async def run_learning(
    memory: Callable[[], MemoryService], model_of: Callable[[str], Model], payload: dict[str, Any]
) -> None:
    """The ``memory.learn`` job."""
    owner = Owner(payload["account"], payload["user"], payload.get("project") or "")
    await memory().learn_stated(
        owner,
        payload["session"],
        payload["turn"],
        payload["mine"],
        payload["outside"],
        model_of(payload["model"]),
    )

"""The person's data over HTTP: sessions, memories, and forgetting a user, scoped to the key's account.

Every route names the user with ``?user=`` (default ``me``), within the API key's account; a key never sees
another account's users. The operations are those of ``ponder memory``, ``ponder sessions`` and
``ponder forget-me``:

- ``GET /v1/sessions``, ``GET /v1/sessions/{id}`` (``?all=true``: branches too), ``DELETE /v1/sessions/{id}``
- ``GET /v1/memories`` (``?all=true``: replaced facts too), ``POST /v1/memories`` (``{"text", "topic",
  "slot"}``), ``DELETE /v1/memories/{id}``, ``POST /v1/memories/{id}/confirm``, ``GET /v1/memories/export``
- ``DELETE /v1/users/{user}``: everything stored about the user, gone.

The stores are synchronous (SQL, and E5 for a new memory): they run in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ponder.errors import PonderError, UserError
from ponder.memory.memories import TOPICS
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.service import MemoryService
from ponder.server.auth import Principal
from ponder.server.errors import ApiError, from_ponder_error

__all__ = [
    "NewMemory",
    "add_memory",
    "confirm_memory",
    "delete_session",
    "export_memories",
    "forget_memory",
    "forget_user",
    "get_session",
    "list_memories",
    "list_sessions",
    "owner_of",
]

T = TypeVar("T")


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=500, description="One fact about the user.")
    topic: str = Field(default="other", description="One of: " + ", ".join(TOPICS) + ".")
    slot: str = Field(default="", max_length=60, description="What it is about; a newer fact replaces.")
    user: str | None = Field(default=None, description="Whose memory (default: the query's user, or me).")
    project: str | None = None


def owner_of(principal: Principal, user: str | None, project: str | None = None) -> Owner:
    try:
        return Owner(principal.account, user or DEFAULT_USER, project or "")
    except UserError as err:
        raise ApiError(400, str(err), param="project" if project else "user") from None


async def _run(work: Callable[[], T]) -> T:
    try:
        return await asyncio.to_thread(work)
    except PonderError as err:
        raise from_ponder_error(err) from err


async def list_sessions(memory: MemoryService, owner: Owner, limit: int) -> dict[str, Any]:
    found = await _run(lambda: memory.sessions.list_sessions(owner, limit))
    return {"object": "list", "data": [s.to_dict() for s in found]}


async def get_session(
    memory: MemoryService, owner: Owner, session_id: str, everything: bool
) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        info = memory.sessions.info(owner, session_id)
        stored = (memory.sessions.transcript if everything else memory.sessions.history)(owner, session_id)
        return info.to_dict() | {"object": "session", "messages": [m.to_dict() for m in stored]}

    return await _run(read)


async def delete_session(memory: MemoryService, owner: Owner, session_id: str) -> dict[str, Any]:
    gone = await _run(lambda: memory.sessions.delete(owner, session_id))
    return {"object": "session.deleted", "id": session_id, "deleted": True, "messages": gone}


async def list_memories(memory: MemoryService, owner: Owner, everything: bool) -> dict[str, Any]:
    statuses = ("active", "pending", "superseded") if everything else ("active", "pending")
    found = await _run(lambda: memory.memories.list_memories(owner, statuses=statuses))
    return {"object": "list", "data": [m.to_dict() for m in found]}


async def add_memory(memory: MemoryService, owner: Owner, new: NewMemory) -> dict[str, Any]:
    if new.topic not in TOPICS:
        raise ApiError(400, f"Unknown topic '{new.topic}'. Topics: {', '.join(TOPICS)}.", param="topic")
    change = await _run(lambda: memory.memories.add(owner, new.text, new.topic, new.slot))
    return {
        "object": "memory.change",
        "action": change.action,
        "memory": change.memory.to_dict(),
        "replaced": None if change.replaced is None else change.replaced.to_dict(),
    }


async def forget_memory(memory: MemoryService, owner: Owner, memory_id: int) -> dict[str, Any]:
    gone = await _run(lambda: memory.memories.forget(owner, memory_id))
    return {"object": "memory.deleted", "id": gone.id, "deleted": True}


async def confirm_memory(memory: MemoryService, owner: Owner, memory_id: int) -> dict[str, Any]:
    change = await _run(lambda: memory.memories.confirm(owner, memory_id))
    return {"object": "memory.change", "action": change.action, "memory": change.memory.to_dict()}


async def export_memories(memory: MemoryService, owner: Owner) -> dict[str, Any]:
    return await _run(lambda: memory.memories.export(owner))


async def forget_user(memory: MemoryService, owner: Owner) -> dict[str, Any]:
    """Everything about the user, deleted; 404 when nothing was stored (nothing to forget)."""

    def forget() -> dict[str, int]:
        memory.users.require(owner)
        return memory.users.forget(owner)

    deleted = await _run(forget)
    return {"object": "user.deleted", "user": owner.user, "deleted": True, "rows": deleted}

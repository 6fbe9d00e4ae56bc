"""The memory routes (tag ``memory``): a user's stored sessions, what is remembered about them, and
forgetting them. Each is the caller's account; ``user`` names whose data within it (default: the key's).
The work is server/memory.py's (in a worker thread); this module only routes and answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse

from ponder.server import memory as memory_api
from ponder.server.routes.depends import ERRORS, Caller, State

__all__ = ["All", "User", "router"]

router = APIRouter(tags=["memory"], responses=ERRORS)

# Query parameters (module level: annotations are resolved by name).
User = Annotated[str | None, Query(description="Whose data, within the key's account (default: me).")]
Project = Annotated[str | None, Query(description="The user's project.")]
All = Annotated[bool, Query(alias="all", description="Also replaced facts / earlier versions.")]
MemoryId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1, description="A memory's id.")]


@router.get("/v1/sessions")
async def sessions_list(
    state: State, caller: Caller, user: User = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> JSONResponse:
    """The user's stored sessions, most recent first."""
    owner = memory_api.owner_of(caller.principal, user)
    return JSONResponse(await memory_api.list_sessions(state.memory, owner, limit), headers=caller.headers)


@router.get("/v1/sessions/{session_id}")
async def sessions_get(
    state: State, caller: Caller, session_id: str, user: User = None, everything: All = False
) -> JSONResponse:
    """A stored conversation: its active messages (all=true: every stored version)."""
    owner = memory_api.owner_of(caller.principal, user)
    body = await memory_api.get_session(state.memory, owner, session_id, everything)
    return JSONResponse(body, headers=caller.headers)


@router.delete("/v1/sessions/{session_id}")
async def sessions_delete(state: State, caller: Caller, session_id: str, user: User = None) -> JSONResponse:
    """Delete a session and every message in it."""
    owner = memory_api.owner_of(caller.principal, user)
    body = await memory_api.delete_session(state.memory, owner, session_id)
    return JSONResponse(body, headers=caller.headers)


@router.get("/v1/memories")
async def memories_list(
    state: State, caller: Caller, user: User = None, project: Project = None, everything: All = False
) -> JSONResponse:
    """What is remembered about the user (pending memories wait for confirmation)."""
    owner = memory_api.owner_of(caller.principal, user, project)
    body = await memory_api.list_memories(state.memory, owner, everything)
    return JSONResponse(body, headers=caller.headers)


@router.post("/v1/memories")
async def memories_add(
    state: State, caller: Caller, new: memory_api.NewMemory, user: User = None
) -> JSONResponse:
    """Remember a fact about the user, as if they had said it."""
    owner = memory_api.owner_of(caller.principal, new.user or user, new.project)
    return JSONResponse(await memory_api.add_memory(state.memory, owner, new), headers=caller.headers)


@router.get("/v1/memories/export")
async def memories_export(state: State, caller: Caller, user: User = None) -> JSONResponse:
    """Everything remembered about the user, replaced facts included."""
    owner = memory_api.owner_of(caller.principal, user)
    return JSONResponse(await memory_api.export_memories(state.memory, owner), headers=caller.headers)


@router.delete("/v1/memories/{memory_id:int}")
async def memories_forget(
    state: State, caller: Caller, memory_id: MemoryId, user: User = None
) -> JSONResponse:
    """Forget one memory (and the older facts it replaced)."""
    owner = memory_api.owner_of(caller.principal, user)
    body = await memory_api.forget_memory(state.memory, owner, memory_id)
    return JSONResponse(body, headers=caller.headers)


@router.post("/v1/memories/{memory_id:int}/confirm")
async def memories_confirm(
    state: State, caller: Caller, memory_id: MemoryId, user: User = None
) -> JSONResponse:
    """Confirm a pending memory (one from a tool or other content the user did not write)."""
    owner = memory_api.owner_of(caller.principal, user)
    body = await memory_api.confirm_memory(state.memory, owner, memory_id)
    return JSONResponse(body, headers=caller.headers)


@router.delete("/v1/users/{user}")
async def users_forget(state: State, caller: Caller, user: str) -> JSONResponse:
    """Forget the user: every session, memory and interest signal, deleted."""
    owner = memory_api.owner_of(caller.principal, user)
    return JSONResponse(await memory_api.forget_user(state.memory, owner), headers=caller.headers)

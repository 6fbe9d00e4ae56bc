"""The interest routes (tag ``interests``): recording a user's interest events, and reading their profile.
Parsing and scoring are server/interests.py's and memory's; this module only routes and answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ponder.server.interests import get_profile, record_events
from ponder.server.routes.depends import ERRORS, Caller, State

__all__ = ["router"]

router = APIRouter(tags=["interests"], responses=ERRORS)


@router.post("/v1/interests/events")
async def interests_record(request: Request, state: State, caller: Caller) -> JSONResponse:
    """Record interest events: JSON {"user", "events": [...]}, or JSONL (application/x-ndjson)."""
    body = await record_events(
        state.interests,
        caller.principal,
        await request.body(),
        request.headers.get("content-type"),
        max_bytes=state.settings.memory.max_import_bytes,
    )
    return JSONResponse(body, headers=caller.headers)


@router.get("/v1/users/{user}/interests")
async def interests_profile(state: State, caller: Caller, user: str) -> JSONResponse:
    """The user's interest profile: categories and items with decayed weights, and why."""
    return JSONResponse(await get_profile(state.interests, caller.principal, user), headers=caller.headers)

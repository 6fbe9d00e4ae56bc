"""``POST /v1/interests/events`` and ``GET /v1/users/{user}/interests``: the serving functions.

The route authenticates and admits the request (as for chat) and hands over the principal and the body;
these functions parse, call the ``InterestStore`` and return the JSON reply, or raise ``ApiError``:

- ``POST /v1/interests/events``, JSON ``{"user": "...", "events": [{"kind", "item", ...}, ...]}``, the user
  defaulting to the principal's user or "me"; or JSONL (``Content-Type: application/x-ndjson``), one event
  per line, each naming its ``user`` or taking that default. Nothing is stored unless every event is valid.
  400 names the first bad event (``events[2]``) or line (``line 7``) in ``param`` and lists up to 20 in
  the message; 413 for more than ``MAX_EVENTS_PER_REQUEST`` events, or JSONL over the store's import
  limit (the server's ``max_body_bytes`` caps every body before this runs).
- ``GET /v1/users/{user}/interests``: the profile as ``InterestProfile.to_dict``; 404 for a user the account
  does not have.

Both are scoped to the principal's account: a key never reads or writes another account's users. Parsing the
body and the store run in a worker thread, since a body may be large and a profile may embed item texts, and
neither must stall the event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

from ponder.errors import PonderError
from ponder.memory.interests import MAX_IMPORT_BYTES, ImportTooLargeError, InterestStore, InvalidEventsError
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.memory.users import UnknownUserError
from ponder.server.auth import Principal
from ponder.server.errors import ApiError, from_ponder_error

__all__ = ["JSONL_TYPES", "MAX_EVENTS_PER_REQUEST", "get_profile", "record_events"]

JSONL_TYPES: Final = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})
MAX_EVENTS_PER_REQUEST: Final = 100_000  # larger imports: `ponder interests import`, or several requests


async def record_events(
    store: InterestStore,
    principal: Principal,
    body: bytes,
    content_type: str | None,
    *,
    max_bytes: int = MAX_IMPORT_BYTES,
    max_events: int = MAX_EVENTS_PER_REQUEST,
) -> dict[str, Any]:
    """Record a batch of events; the reply says how many, per user. ``max_bytes`` bounds a JSONL body
    (pass ``settings.memory.max_import_bytes``); ``max_events`` bounds either kind."""
    default_user = principal.user or DEFAULT_USER
    try:
        if _media_type(content_type) in JSONL_TYPES:
            summary = await asyncio.to_thread(
                lambda: store.import_jsonl(
                    principal.account,
                    body.splitlines(),
                    default_user=default_user,
                    max_bytes=max_bytes,
                    max_events=max_events,
                )
            )
            return {"object": "interests.recorded", "recorded": summary.events, "users": summary.users}
        user, events = await asyncio.to_thread(_json_body, body, default_user, max_events)
        owner = _owner(principal.account, user)
        recorded = await asyncio.to_thread(store.record, owner, events)
    except InvalidEventsError as err:
        raise ApiError(400, str(err), code="invalid_events", param=err.problems[0].where) from None
    except ImportTooLargeError as err:
        raise ApiError(413, str(err), code="import_too_large") from None
    except PonderError as err:
        raise from_ponder_error(err) from None
    return {
        "object": "interests.recorded",
        "recorded": recorded,
        "users": {user: recorded} if recorded else {},
    }


async def get_profile(
    store: InterestStore, principal: Principal, user: str, *, top: int = 20, with_vector: bool = False
) -> dict[str, Any]:
    """The user's interest profile: the ``top`` of each list, and the embedding vector if asked for."""
    owner = _owner(principal.account, user)
    try:
        profile = await asyncio.to_thread(store.profile, owner)
    except UnknownUserError as err:
        raise ApiError(404, str(err), code="user_not_found", param="user") from None
    except PonderError as err:
        raise from_ponder_error(err) from None
    return {"object": "interests.profile"} | profile.to_dict(top, with_vector)


def _json_body(body: bytes, default_user: str, max_events: int) -> tuple[str, list[Any]]:
    """(user, events) of a JSON body; the events themselves are checked by the store."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(400, f"The request body is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ApiError(400, 'The request body must be a JSON object: {"user": ..., "events": [...]}.')
    unknown = sorted(set(value) - {"user", "events"})
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    events = value.get("events")
    if not isinstance(events, list):
        raise ApiError(400, "'events' must be a list of events.", param="events")
    if len(events) > max_events:
        raise ApiError(
            413,
            f"{len(events):,} events in one request; the most is {max_events:,}: send several requests.",
            code="too_many_events",
            param="events",
        )
    user = value.get("user")
    user = default_user if user is None else user
    if not isinstance(user, str):
        raise ApiError(400, "'user' must be a string.", param="user")
    return user, events


def _owner(account: str, user: str) -> Owner:
    try:
        return Owner(account, user)
    except PonderError as err:
        raise ApiError(400, str(err), param="user") from None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()

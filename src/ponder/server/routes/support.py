"""The hand-off queue over HTTP (tag ``support``), for the person who answers tickets from their own tools:
the account's tickets, and a reply delivered into the messaging thread a ticket came from
(ponder/channels/handoff.py). Any key of the store's account may use them, as for ``/v1/orders/{id}/status``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ponder.channels.handoff import reply_to_ticket
from ponder.errors import PonderError
from ponder.server.errors import from_ponder_error
from ponder.server.routes.depends import ERRORS, Caller, State
from ponder.server.routes.memory import All

__all__ = ["router"]

router = APIRouter(tags=["support"], responses=ERRORS)

TicketId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1, description="A support ticket's id.")]


class TicketReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    close: bool = False  # close the ticket too: the assistant answers the thread again


@router.get("/v1/support/tickets")
async def tickets_list(state: State, caller: Caller, everything: All = False) -> JSONResponse:
    """The account's open support tickets, oldest first (all=true: closed ones too)."""
    account = caller.principal.account
    tickets = await asyncio.to_thread(
        state.shop.support.list_tickets, account, status=None if everything else "open"
    )
    body = {"object": "list", "data": [t.to_dict() for t in tickets]}
    return JSONResponse(body, headers=caller.headers)


@router.post("/v1/support/tickets/{ticket_id}/reply")
async def tickets_reply(
    state: State, caller: Caller, ticket_id: TicketId, reply: TicketReply
) -> JSONResponse:
    """A person's answer, delivered into the messaging thread the ticket came from."""
    shop = state.shop
    try:
        done = await asyncio.to_thread(
            reply_to_ticket,
            shop.db,
            shop.support,
            caller.principal.account,
            ticket_id,
            reply.text,
            close=reply.close,
        )
    except PonderError as err:
        raise from_ponder_error(err) from None
    body = {
        "ticket": ticket_id,
        "channel": done.channel,
        "thread": done.thread,
        "messages": done.parts,
        "closed": done.closed,
    }
    return JSONResponse(body, headers=caller.headers)

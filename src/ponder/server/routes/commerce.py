"""The store's own shopping routes (tag ``shopping``): a user's pending actions and their confirmation or
decline, a customer's orders, and the store moving an order forward. The work is server/actions.py's and
server/orders.py's over the shop; the UCP routes for outside agents are server/ucp/.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ponder.server import actions as actions_api
from ponder.server import orders as orders_api
from ponder.server.memory import owner_of
from ponder.server.routes.depends import ERRORS, Caller, State
from ponder.server.routes.memory import All, User

__all__ = ["router"]

router = APIRouter(tags=["shopping"], responses=ERRORS)


@router.get("/v1/actions")
async def actions_list(
    state: State, caller: Caller, user: User = None, everything: All = False
) -> JSONResponse:
    """The user's pending actions (all=true: decided ones too)."""
    owner = owner_of(caller.principal, user)
    return JSONResponse(await actions_api.list_actions(state.shop, owner, everything), headers=caller.headers)


@router.post("/v1/actions/{action_id}/confirm")
async def actions_confirm(
    state: State, caller: Caller, action_id: str, decision: actions_api.Decision
) -> JSONResponse:
    """Confirm a proposed order, cancellation or return with its token: it is carried out, once."""
    owner = owner_of(caller.principal, decision.user)
    body = await actions_api.decide(state.shop, owner, action_id, decision.token, confirm=True)
    return JSONResponse(body, headers=caller.headers)


@router.post("/v1/actions/{action_id}/decline")
async def actions_decline(
    state: State, caller: Caller, action_id: str, decision: actions_api.Decision
) -> JSONResponse:
    """Decline a proposed action: nothing is done, and its token stops working."""
    owner = owner_of(caller.principal, decision.user)
    body = await actions_api.decide(state.shop, owner, action_id, decision.token, confirm=False)
    return JSONResponse(body, headers=caller.headers)


@router.get("/v1/orders")
async def orders_list(state: State, caller: Caller, user: User = None) -> JSONResponse:
    """The customer's orders, with their payments and status history."""
    owner = owner_of(caller.principal, user)
    return JSONResponse(await orders_api.list_orders(state.shop, owner), headers=caller.headers)


@router.post("/v1/orders/{order_id}/status")
async def orders_advance(
    state: State, caller: Caller, order_id: str, change: orders_api.StatusChange
) -> JSONResponse:
    """The store moves an order forward: pending -> processed -> delivered (never back)."""
    body = await orders_api.advance(state.shop, caller.principal.account, order_id, change)
    return JSONResponse(body, headers=caller.headers)

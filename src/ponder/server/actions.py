"""``/v1/actions``: the pending actions of the shopping mode, confirmed or declined by the person's client.

A shopping turn's response carries each proposed action, with its token, in its ``ponder`` field. The
client shows the summary to the person (the store's records: what changes and what money moves, one fact
a line) and, apart and labelled as the assistant's words, its ``assistant_note`` when there is one (the
reason the model gave), both as text, never as markup; on the person's yes it sends the token back here:
the action is carried out once. The model never sees a token, so it cannot call this for them, whatever
it read.

An order an outside shopping agent prepared over UCP waits here too: its token went to no agent, so the
listing carries it (``token``, with ``origin``) to the store's own client for that user, which puts it to the
person. Only account keys reach these routes (server/auth.py), and a decision names the action's own user:
an action of another user is not found.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ponder.commerce.actions import PendingAction
from ponder.commerce.agent_actions import held_proposals
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.server.memory import _run

__all__ = ["Decision", "decide", "list_actions"]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200, description="The token the proposal came with.")
    user: str | None = Field(default=None, description="The customer (default: the account's local user).")


def action_json(action: PendingAction) -> dict[str, Any]:
    """A pending action on the wire: its data, labelled as the API labels its objects."""
    return {"object": "pending_action"} | action.to_dict()


async def list_actions(shop: Shop, owner: Owner, everything: bool) -> dict[str, Any]:
    found = await _run(lambda: shop.actions.list_actions(owner, pending_only=not everything))
    held = await _run(lambda: held_proposals(shop.db, owner)) if found else {}
    data = []
    for action in found:
        shown = action_json(action)
        proposal = held.get(action.id) if action.status == "pending" else None
        if proposal is not None:  # an agent's order: the token is for the person's own client
            shown |= {"token": proposal.token, "origin": proposal.origin()}
        data.append(shown)
    return {"object": "list", "data": data}


async def decide(shop: Shop, owner: Owner, action_id: str, token: str, *, confirm: bool) -> dict[str, Any]:
    if confirm:
        done = await _run(lambda: shop.actions.confirm(owner, action_id, token))
    else:
        done = await _run(lambda: shop.actions.decline(owner, action_id, token))
    return action_json(done)

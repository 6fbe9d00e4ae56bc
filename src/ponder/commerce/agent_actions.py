"""Orders an outside shopping agent prepared, waiting for the person: their confirmation tokens, for the
store's own surfaces only.

A UCP checkout an agent started (commerce/ucp/) ends in a pending action of the buyer's, whose token the
agent never receives: the store keeps it with the checkout session while it may be confirmed. This module
reads those tokens for one user, so the surfaces that act for that user (``GET /v1/actions`` with the store's
account key, which the chat page uses; ``ponder shop pending`` and ``ponder shop confirm``) can put the order
to the person, who alone decides. The agent reads only the checkout's outcome.

Not here: proposing or confirming (actions.py), and who may call those surfaces (server/auth.py refuses an
agent's credential everywhere but the UCP routes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["AgentProposal", "agent_proposals"]

_WAITING = "requires_escalation"  # the UCP status of a checkout whose action waits for the person


@dataclass(frozen=True)
class AgentProposal:
    action_id: str
    token: str  # the action's confirmation token: for the person's own client, never for the agent
    checkout_id: str
    agent: str  # the platform profile URL the agent's credential was created for

    def origin(self) -> dict[str, str]:
        """Where the proposal came from, as the store's surfaces show it (no token)."""
        return {"kind": "ucp_agent", "checkout_id": self.checkout_id, "agent": self.agent}


def agent_proposals(db: Database, owner: Owner) -> dict[str, AgentProposal]:
    """The proposals agents made for ``owner`` that may still be confirmed, by action id."""
    with db.reading() as c:
        rows = c.execute(
            sql(
                "SELECT id, state FROM ucp_checkout_sessions "
                "WHERE account = :account AND user_id = :user AND status = :waiting"
            ),
            owner.params(waiting=_WAITING),
        ).all()
    found: dict[str, AgentProposal] = {}
    for checkout_id, raw in rows:
        state = json.loads(raw)
        agent, action = state.get("agent"), state.get("action") or {}
        if agent and action.get("token") and action.get("user") == owner.user:
            found[action["id"]] = AgentProposal(action["id"], action["token"], checkout_id, agent["profile"])
    return found

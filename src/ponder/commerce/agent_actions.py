"""Proposals whose confirmation token the store holds for the person's own surfaces, never for whoever
prepared them: orders an outside shopping agent prepared, and actions proposed in a conversation for a
customer it identified (commerce/identification.py).

A UCP checkout an agent started (commerce/ucp/) ends in a pending action of the buyer's, whose token the
agent never receives: the store keeps it with the checkout session while it may be confirmed. A support
conversation that identified a customer by their email (or name and zip) proposes for that customer, but
knowing an email proves nothing, so its client does not get the token either: ``hold_proposal`` keeps it
here. ``held_proposals`` reads both for one user, so the surfaces that act for that user (``GET
/v1/actions`` with the store's account key, which the chat page uses; ``ponder shop pending`` and ``ponder
shop confirm``) can put the action to the person, who alone decides.

Not here: proposing or confirming (actions.py), and who may call those surfaces (server/auth.py refuses an
agent's credential everywhere but the UCP routes).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = [
    "AgentProposal",
    "HeldProposal",
    "SessionProposal",
    "agent_proposals",
    "held_proposals",
    "hold_proposal",
]

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


@dataclass(frozen=True)
class SessionProposal:
    action_id: str
    token: str  # for the person's own client, never for the conversation that proposed it
    session_id: str  # the conversation that identified the customer and proposed it

    def origin(self) -> dict[str, str]:
        """Where the proposal came from, as the store's surfaces show it (no token)."""
        return {"kind": "identified_conversation", "session_id": self.session_id}


HeldProposal = AgentProposal | SessionProposal


def hold_proposal(db: Database, owner: Owner, action_id: str, token: str, session_id: str) -> None:
    """Keep the token of ``owner``'s action proposed in conversation ``session_id`` for their own surfaces."""
    with db.transaction() as c:
        c.execute(
            sql(
                "INSERT INTO held_proposals (account, user_id, action_id, token, session_id, at) "
                "VALUES (:account, :user, :action, :token, :session, :at)"
            ),
            owner.params(action=action_id, token=token, session=session_id, at=time.time()),
        )


def held_proposals(db: Database, owner: Owner) -> dict[str, HeldProposal]:
    """Every proposal held for ``owner`` (an agent's orders, and actions of conversations that identified
    them), by action id: those still pending are the person's to decide."""
    found: dict[str, HeldProposal] = dict(agent_proposals(db, owner))
    with db.reading() as c:
        rows = c.execute(
            sql(
                "SELECT action_id, token, session_id FROM held_proposals "
                "WHERE account = :account AND user_id = :user"
            ),
            owner.params(),
        ).all()
    for action_id, token, session_id in rows:
        found[str(action_id)] = SessionProposal(str(action_id), str(token), str(session_id))
    return found

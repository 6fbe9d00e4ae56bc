"""A person's answer to a hand-off, delivered into the messaging thread the conversation came from.

A hand-off in a thread opens a support ticket on the thread's session (the shopping tools'
``hand_off_to_person``); while it is open the assistant stays quiet there (threads.py). The person handling
it answers with ``ponder support reply TICKET "..."`` or ``POST /v1/support/tickets/{id}/reply``: the text
goes into the thread's outbox (sent by the server's channel workers, with their retries), and ``close``
closes the ticket, so the assistant answers the thread's next message again.

Outside a platform's customer-service window (24 hours after the person last wrote, on WhatsApp and
Messenger) the reply is queued as what the platform allows there: WhatsApp's template, configured per
channel; Messenger has none, so the send fails, saying why (``ponder channels list`` counts it). Not here:
the ticket queue (commerce/support.py), sending (outbox.py).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ponder.channels.base import Outbound
from ponder.channels.formatting import STYLES, render, split
from ponder.channels.messenger import MESSENGER_LIMITS
from ponder.channels.outbox import queue_reply
from ponder.channels.whatsapp import WHATSAPP_LIMITS
from ponder.errors import UserError
from ponder.store.database import Database, sql

if TYPE_CHECKING:
    from ponder.commerce.support import SupportQueue

__all__ = ["Delivered", "reply_to_ticket"]

# The customer-service window after the person's last message, where a platform has one (its adapter's).
_WINDOWS: Final = {"whatsapp": WHATSAPP_LIMITS.window_s, "messenger": MESSENGER_LIMITS.window_s}
_PART: Final = 1800  # characters per message: within every platform's limit (Messenger's 2000 the least)


@dataclass(frozen=True)
class Delivered:
    """Where a reply was queued."""

    channel: str
    thread: str
    parts: int
    closed: bool


def reply_to_ticket(
    db: Database, support: SupportQueue, account: str, ticket_id: int, text: str, *, close: bool = False
) -> Delivered:
    """Queue ``text`` into the thread of the account's ticket ``ticket_id`` (``UserError`` if it came from
    no messaging thread, or the text is empty; ``NotFoundError`` for no such ticket)."""
    text = text.strip()
    if not text:
        raise UserError("A reply needs some text.")
    ticket = support.get(account, ticket_id)
    if ticket.session_id is None:
        raise UserError(
            f"Ticket {ticket_id} did not come from a messaging thread: answer the customer there."
        )
    with db.transaction() as conn:
        row = (
            conn.execute(
                sql(
                    "SELECT channel, thread, last_inbound_at FROM channel_threads WHERE account = :account "
                    "AND session_id = :session AND user_id = :user"
                ),
                {"account": account, "session": ticket.session_id, "user": ticket.user},
            )
            .mappings()
            .first()
        )
        if row is None:
            raise UserError(
                f"Ticket {ticket_id} did not come from a messaging thread: answer the customer there."
            )
        platform = ticket.user.partition(":")[0]
        window = _WINDOWS.get(platform)
        closed = window is not None and time.time() - float(row["last_inbound_at"]) > window
        style = STYLES.get(platform, "plain")
        parts = [Outbound(row["thread"], render(p, style), template=closed) for p in split(text, _PART)]
        parts = parts[:1] if closed else parts  # outside the window: the one template, whatever the text
        queue_reply(conn, row["channel"], f"ticket:{ticket_id}:{secrets.token_hex(6)}", parts)
    if close:
        support.close(account, ticket_id)
    return Delivered(row["channel"], row["thread"], len(parts), close)

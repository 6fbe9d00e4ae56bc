"""The schema, as an ordered list of migrations. Append only: a released migration is never edited.

``schema_migrations`` records which have run (see database.py); each runs in its own transaction. Tables
are declared with SQLAlchemy so one declaration gives the right types on SQLite and PostgreSQL (BLOB and
BYTEA, REAL and DOUBLE PRECISION). Every table that holds a person's data carries ``account`` and
``user_id``, and every query on it names both.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["MIGRATIONS"]

Text, Float, Int, Blob = sa.Text, sa.Float(precision=53), sa.BigInteger, sa.LargeBinary
Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite's rowid alias must say INTEGER


def m001_keys_and_limits(db: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "api_keys",
        md,
        sa.Column("id", Text, primary_key=True),  # public identifier, shown in lists: "key_" + 12 hex
        sa.Column("account", Text, nullable=False, index=True),  # who owns it; data is scoped by account
        sa.Column("tier", Text, nullable=False),  # a tier name from the settings (limits and prices)
        sa.Column("secret_sha256", Text, nullable=False, unique=True),  # the key itself is never stored
        sa.Column("prefix", Text, nullable=False),  # its first characters, to recognise it in a list
        sa.Column("name", Text, nullable=False, server_default=""),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("revoked_at", Float),
    )
    # GCRA state of the requests-per-minute limit: the theoretical arrival time of the next request.
    sa.Table(
        "rate_state", md, sa.Column("key_id", Text, primary_key=True), sa.Column("tat", Float, nullable=False)
    )
    # Tokens used per key per UTC day (YYYY-MM-DD), already multiplied by the mode's price.
    sa.Table(
        "token_usage",
        md,
        sa.Column("key_id", Text, primary_key=True),
        sa.Column("day", Text, primary_key=True),
        sa.Column("tokens", Int, nullable=False),
    )
    md.create_all(db)


def m002_sessions_memories_interests(db: Connection) -> None:
    md = sa.MetaData()
    # The people of an account: the key's account plus the request's `user` ("local" and "me" on one machine).
    sa.Table(
        "users",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("created_at", Float, nullable=False),
        # Bumped by every change to the user's memories: a server's cached vectors are stale when it moved.
        sa.Column("memory_version", Int, nullable=False, server_default="0"),
    )
    # A session's id is the client's (or "s_" + 16 hex): unique per user, so one person cannot collide
    # with, or find, another's session by guessing its id.
    sa.Table(
        "sessions",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("project", Text, nullable=False, server_default=""),  # "" : no project
        sa.Column("title", Text, nullable=False, server_default=""),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("updated_at", Float, nullable=False),
        sa.Index("sessions_recent", "account", "user_id", "updated_at"),
    )
    # One row per message, in order; a turn is the user's message(s) and the reply that followed. Nothing is
    # ever rewritten: a client that edits its history appends a branch (meta "branch_at"), see sessions.py.
    sa.Table(
        "messages",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("session_id", Text, primary_key=True),
        sa.Column("seq", Int, primary_key=True),  # 0, 1, 2, ... within the session
        sa.Column("turn", Int, nullable=False),  # which turn of the session it belongs to
        sa.Column("role", Text, nullable=False),
        sa.Column("content", Text, nullable=False),  # the text (perceived media as their text)
        sa.Column("fingerprint", Text, nullable=False),  # of role and content: spots resent history
        sa.Column("meta", Text, nullable=False, server_default="{}"),  # JSON: parts, mode, usage, branch_at
        sa.Column("created_at", Float, nullable=False),
    )
    sa.Table(
        "memories",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", Text, nullable=False),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("project", Text, nullable=False, server_default=""),  # "" : every project of the user
        sa.Column("topic", Text, nullable=False),  # diet, size, budget, family, place, dislike, ...
        sa.Column("slot", Text, nullable=False, server_default=""),  # what it is about: a newer fact replaces
        sa.Column("text", Text, nullable=False),  # one sentence about the user
        sa.Column("vector", Blob, nullable=False),  # float32 embedding of the text (passage side)
        sa.Column("origin", Text, nullable=False),  # conversation, user (added by hand), tool, import
        sa.Column("status", Text, nullable=False),  # active, pending (waits for confirmation), superseded
        sa.Column("superseded_by", Int),
        sa.Column("source_session", Text),
        sa.Column("source_turn", Int),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("updated_at", Float, nullable=False),
        sa.Index("memories_owner", "account", "user_id", "status"),
    )
    sa.Table(
        "interest_events",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", Text, nullable=False),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("kind", Text, nullable=False),  # view, like, save, follow, share, purchase, dismiss
        sa.Column("item", Text, nullable=False),
        sa.Column("category", Text, nullable=False, server_default=""),
        sa.Column("text", Text, nullable=False, server_default=""),  # what the item is, for the embedding
        sa.Column("at", Float, nullable=False),
        sa.Column("created_at", Float, nullable=False),
        sa.Index("interest_events_owner", "account", "user_id", "at"),
    )
    md.create_all(db)


MIGRATIONS: list[Callable[[Connection], None]] = [m001_keys_and_limits, m002_sessions_memories_interests]

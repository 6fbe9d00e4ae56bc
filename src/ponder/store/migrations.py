"""The schema, as an ordered list of migrations. Append only: a released migration is never edited.

``schema_migrations`` records which have run (see database.py); each runs in its own transaction. Tables
are declared with SQLAlchemy so one declaration gives the right types on SQLite and PostgreSQL (BLOB and
BYTEA, REAL and DOUBLE PRECISION). Every table that holds a person's data carries ``account`` and
``user_id``, and every query on it names both.
"""

from __future__ import annotations

import json
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


def m003_commerce(db: Connection) -> None:
    """A store per account: its catalog; its customers (the account's users), their addresses, payment
    methods, carts and orders; payments, idempotency keys, pending actions and support tickets."""
    md = sa.MetaData()
    sa.Table(
        "stores",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("name", Text, nullable=False),
        sa.Column("currency", Text, nullable=False),
        sa.Column("policy", Text, nullable=False, server_default=""),
        sa.Column("updated_at", Float, nullable=False),
    )
    sa.Table(
        "categories",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("name", Text, nullable=False),
        sa.Column("parent", Text),
    )
    sa.Table(
        "products",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("name", Text, nullable=False),
        sa.Column("category", Text, nullable=False, server_default=""),
        sa.Column("description", Text, nullable=False, server_default=""),
        sa.Column("brand", Text, nullable=False, server_default=""),
        sa.Column("attributes", Text, nullable=False, server_default="{}"),  # JSON: name -> value
        sa.Column("reviews", Text, nullable=False, server_default="[]"),  # JSON: [{author, rating, text}]
        sa.Column("image_url", Text, nullable=False, server_default=""),
        sa.Column("vector", Blob, nullable=False),  # float32 E5 passage embedding of name, category, text
        sa.Column("updated_at", Float, nullable=False),
    )
    sa.Table(
        "variants",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),  # the SKU
        sa.Column("product_id", Text, nullable=False),
        sa.Column("options", Text, nullable=False, server_default="{}"),  # JSON: option -> value
        sa.Column("price", Int, nullable=False),  # minor units
        sa.Column("stock", Int),  # NULL: not tracked
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Index("variants_product", "account", "product_id"),
    )
    sa.Table(
        "addresses",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("data", Text, nullable=False),  # JSON: an Address
    )
    sa.Table(
        "payment_methods",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("kind", Text, nullable=False),  # card, gift_card, paypal
        sa.Column("token", Text, nullable=False, server_default=""),  # the provider's; never a card number
        sa.Column("brand", Text, nullable=False, server_default=""),
        sa.Column("last4", Text, nullable=False, server_default=""),
        sa.Column("balance", Int),  # gift cards, minor units
    )
    sa.Table(
        "cart_items",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("variant_id", Text, primary_key=True),
        sa.Column("quantity", Int, nullable=False),
        sa.Column("added_at", Float, nullable=False),
    )
    sa.Table(
        "orders",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("status", Text, nullable=False),  # pending, processed, delivered, cancelled, ...
        sa.Column("address", Text, nullable=False, server_default="null"),  # JSON: an Address
        sa.Column("currency", Text, nullable=False),
        sa.Column("total", Int, nullable=False),  # minor units, what was charged
        sa.Column("payment_method_id", Text, nullable=False, server_default=""),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("updated_at", Float, nullable=False),
        sa.Index("orders_owner", "account", "user_id", "created_at"),
    )
    sa.Table(
        "order_items",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("order_id", Text, primary_key=True),
        sa.Column("seq", Int, primary_key=True),
        sa.Column("variant_id", Text, nullable=False),
        sa.Column("product_id", Text, nullable=False),
        sa.Column("name", Text, nullable=False),
        sa.Column("options", Text, nullable=False, server_default="{}"),
        sa.Column("price", Int, nullable=False),  # each, minor units, as sold
        sa.Column("quantity", Int, nullable=False),
        sa.Column("state", Text, nullable=False, server_default="ordered"),  # ordered, returned, exchanged
    )
    # The status history: one row per change, with what caused it.
    sa.Table(
        "order_events",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("order_id", Text, primary_key=True),
        sa.Column("seq", Int, primary_key=True),
        sa.Column("status", Text, nullable=False),
        sa.Column("note", Text, nullable=False, server_default=""),
        sa.Column("at", Float, nullable=False),
    )
    sa.Table(
        "payments",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("order_id", Text, primary_key=True),
        sa.Column("seq", Int, primary_key=True),
        sa.Column("kind", Text, nullable=False),  # charge, refund
        sa.Column("amount", Int, nullable=False),
        sa.Column("method_id", Text, nullable=False),
        sa.Column("provider_ref", Text, nullable=False, server_default=""),  # the provider's charge/refund id
        sa.Column("at", Float, nullable=False),
    )
    # Requests that must happen once (checkout, refunds): the first response is kept and replayed.
    sa.Table(
        "idempotency_keys",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("key", Text, primary_key=True),
        sa.Column("request_sha256", Text, nullable=False),  # a reused key with another body is refused
        sa.Column("state", Text, nullable=False),  # started, done
        sa.Column("lease_until", Float, nullable=False),  # a started key whose owner died is taken over
        sa.Column("status_code", Int),
        sa.Column("response", Text),  # JSON, once done
        sa.Column("created_at", Float, nullable=False),
    )
    # Consequential actions the model proposed, waiting for the person: confirmed once, with a secret the
    # model never sees, for exactly what ``digest`` pins (the cart or order as it was, and the amount).
    sa.Table(
        "pending_actions",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("kind", Text, nullable=False),
        sa.Column("target", Text, nullable=False, server_default=""),  # an order id ("" : the cart)
        sa.Column("amount", Int, nullable=False, server_default="0"),
        sa.Column("arguments", Text, nullable=False),  # JSON
        sa.Column("summary", Text, nullable=False),  # what the person is asked to confirm, in words
        sa.Column("digest", Text, nullable=False),
        sa.Column("secret_sha256", Text, nullable=False),
        sa.Column("status", Text, nullable=False),  # pending, confirmed, declined, expired, failed
        sa.Column("result", Text),  # JSON, once carried out
        sa.Column("created_at", Float, nullable=False),
        sa.Column("expires_at", Float, nullable=False),
        sa.Column("decided_at", Float),
    )
    sa.Table(
        "support_tickets",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", Text, nullable=False),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("status", Text, nullable=False),  # open, closed
        sa.Column("reason", Text, nullable=False),
        sa.Column("summary", Text, nullable=False),  # the conversation so far, for the person taking over
        sa.Column("session_id", Text),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("closed_at", Float),
        sa.Index("support_tickets_queue", "account", "status", "created_at"),
    )
    md.create_all(db)


def m004_ucp_checkout_sessions(db: Connection) -> None:
    """Checkout sessions of the Universal Commerce Protocol (server/ucp/): what a shopping agent asked
    for, and where it stands. Completing one only proposes a pending action; the order is the person's."""
    md = sa.MetaData()
    sa.Table(
        "ucp_checkout_sessions",
        md,
        sa.Column("account", Text, primary_key=True),  # the store (the API key's account)
        sa.Column("id", Text, primary_key=True),  # "chk_" + 32 hex: unguessable, unique across accounts
        sa.Column("user_id", Text, nullable=False, server_default=""),  # the buyer ("" : not given yet)
        sa.Column("status", Text, nullable=False),  # incomplete, requires_escalation, ..., canceled
        sa.Column("session", Text, nullable=False),  # JSON: the checkout as last answered
        sa.Column("state", Text, nullable=False),  # JSON: what was asked, the pending action, the order
        sa.Column("idempotency_key", Text, nullable=False, server_default=""),  # the create's, if any
        sa.Column("version", Int, nullable=False, server_default="0"),  # bumped by every write
        sa.Column("created_at", Float, nullable=False),
        sa.Column("updated_at", Float, nullable=False),
        sa.Column("expires_at", Float, nullable=False),
        sa.Index("ucp_checkout_sessions_id", "id", unique=True),  # the confirmation page has no key
        sa.Index("ucp_checkout_sessions_owner", "account", "user_id", "created_at"),
    )
    md.create_all(db)


def m005_agent_credentials(db: Connection) -> None:
    """A key's kind: ``account`` (the store's own client, acting for any of its users) or ``ucp_agent`` (an
    outside shopping agent's credential: the UCP routes only, tied to the platform profile it declared)."""
    db.execute(sa.text("ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'account'"))
    db.execute(sa.text("ALTER TABLE api_keys ADD COLUMN profile TEXT NOT NULL DEFAULT ''"))


def m006_jobs_and_domain_outcomes(db: Connection) -> None:
    """The one durable job table (store/jobs.py); idempotency keys keep domain outcomes (``in_progress``,
    ``done``, ``failed``) instead of HTTP answers; an order's history says which request made each change,
    so a retry of that request after a crash finds its change made instead of refusing it."""
    md = sa.MetaData()
    sa.Table(
        "jobs",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", Text, nullable=False),  # the handler that runs it, e.g. "action.settle"
        sa.Column("dedupe_key", Text, nullable=False),  # one live job per (kind, key)
        sa.Column("payload", Text, nullable=False),  # JSON
        sa.Column("state", Text, nullable=False),  # queued, running, done, dead
        sa.Column("attempts", Int, nullable=False, server_default="0"),
        sa.Column("max_attempts", Int, nullable=False),
        sa.Column("run_at", Float, nullable=False),  # not before
        sa.Column("lease_until", Float, nullable=False, server_default="0"),  # a running job's claim
        sa.Column("last_error", Text, nullable=False, server_default=""),
        sa.Column("created_at", Float, nullable=False),
        sa.Column("updated_at", Float, nullable=False),
        sa.Index("jobs_dedupe", "kind", "dedupe_key", unique=True),
        sa.Index("jobs_due", "state", "run_at"),
    )
    md.create_all(db)
    db.execute(sa.text("ALTER TABLE order_events ADD COLUMN request_key TEXT NOT NULL DEFAULT ''"))
    db.execute(sa.text("UPDATE idempotency_keys SET state = 'in_progress' WHERE state = 'started'"))
    # A stored HTTP answer becomes the domain outcome it said: the value (an order), or the error. The UCP
    # routes' keys (users "ucp:...") keep their answer whole, as the server layer's value.
    rows = db.execute(
        sa.text(
            "SELECT account, user_id, key, status_code, response FROM idempotency_keys WHERE state = 'done'"
        )
    ).all()
    for account, user_id, key, status_code, response in rows:
        body = json.loads(response) if response else {}
        if str(user_id).startswith("ucp:"):
            state, value = "done", {"status": int(status_code or 200), "body": body}
        elif status_code is not None and int(status_code) < 400:
            continue
        else:
            error = body.get("error") or {}
            kind = _LEGACY_ERRORS.get(error.get("type", ""), "user")
            if error.get("code") == "conflict":
                kind = "conflict"
            state, value = "failed", {"error": kind, "message": error.get("message", "")}
            if error.get("code"):
                value["code"] = error["code"]
        db.execute(
            sa.text(
                "UPDATE idempotency_keys SET state = :state, response = :value "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            {"state": state, "value": json.dumps(value), "account": account, "user": user_id, "key": key},
        )


def m007_responses(db: Connection) -> None:
    """The stored responses of the Responses API (``POST /v1/responses`` with ``store``): each is one turn
    of one of the user's sessions, which ``previous_response_id`` continues (store/responses.py)."""
    md = sa.MetaData()
    sa.Table(
        "responses",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),  # "resp_" + 32 hex: found by id within the account
        sa.Column("user_id", Text, nullable=False),  # whose session holds its turn
        sa.Column("session_id", Text, nullable=False),
        sa.Column("turn", Int, nullable=False),  # its turn's number in that session
        sa.Column("body", Text, nullable=False),  # the response object, as JSON
        sa.Column("input", Text, nullable=False),  # its input items, as JSON
        sa.Column("created_at", Float, nullable=False),
        sa.Index("responses_by_session", "account", "user_id", "session_id", "turn"),
    )
    md.create_all(db)


def m008_pricing_rules(db: Connection) -> None:
    """A store's discount codes, shipping options and automatic promotions (commerce/store_pricing.py),
    replaced whole by each import; ``seq`` keeps the store file's order."""
    md = sa.MetaData()
    sa.Table(
        "discount_codes",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("code", Text, primary_key=True),  # as the store spells it; matched ignoring case
        sa.Column("seq", Int, nullable=False),
        sa.Column("kind", Text, nullable=False),  # percentage, fixed_amount
        sa.Column("value", Int, nullable=False),  # whole percent, or minor units
        sa.Column("title", Text, nullable=False, server_default=""),
        sa.Column("min_subtotal", Int),  # minor units; NULL: none
        sa.Column("expires_at", Float),  # NULL: never
        sa.Column("active", sa.Boolean, nullable=False),
    )
    sa.Table(
        "shipping_options",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("seq", Int, nullable=False),
        sa.Column("title", Text, nullable=False),
        sa.Column("price", Int, nullable=False),  # minor units
        sa.Column("countries", Text, nullable=False, server_default="[]"),  # JSON: ["FR", ...]; []: the rest
        sa.Column("service_level", Text, nullable=False, server_default=""),
    )
    sa.Table(
        "promotions",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("id", Text, primary_key=True),
        sa.Column("seq", Int, nullable=False),
        sa.Column("kind", Text, nullable=False),  # free_shipping
        sa.Column("title", Text, nullable=False),
        sa.Column("min_subtotal", Int, nullable=False, server_default="0"),
        sa.Column("shipping_options", Text, nullable=False, server_default="[]"),  # JSON: ids; []: all
    )
    md.create_all(db)


def m009_order_discounts_and_shipping(db: Connection) -> None:
    """What an order's discounts and shipping came to (commerce/pricing.py at checkout): each line's share
    of the discounts (``order_items.discount``, minor units for the whole line), the shipping option chosen
    and what it cost, and the discounts applied (JSON: code, title, amount). The total already nets them."""
    db.execute(sa.text("ALTER TABLE order_items ADD COLUMN discount INTEGER NOT NULL DEFAULT 0"))
    db.execute(sa.text("ALTER TABLE orders ADD COLUMN shipping INTEGER NOT NULL DEFAULT 0"))
    db.execute(sa.text("ALTER TABLE orders ADD COLUMN shipping_option TEXT NOT NULL DEFAULT ''"))
    db.execute(sa.text("ALTER TABLE orders ADD COLUMN discounts TEXT NOT NULL DEFAULT '[]'"))


def m010_ucp_signing_and_mandates(db: Connection) -> None:
    """The store's UCP signing key (commerce/ucp/signing.py: one for every server of the database, the first
    made), and the AP2 checkout mandates already used (commerce/ucp/mandates.py: each buys once)."""
    md = sa.MetaData()
    sa.Table(
        "ucp_signing_keys",
        md,
        sa.Column("kid", Text, primary_key=True),  # the JWK thumbprint (RFC 7638)
        sa.Column("private_pem", Text, nullable=False),  # PKCS#8, unencrypted: the database is the secret
        sa.Column("created_at", Float, nullable=False),
    )
    sa.Table(
        "ucp_mandates",
        md,
        sa.Column("digest", Text, primary_key=True),  # SHA-256 of the issuer-signed JWT
        sa.Column("account", Text, nullable=False),
        sa.Column("checkout_id", Text, nullable=False),
        sa.Column("used_at", Float, nullable=False),
    )
    md.create_all(db)


def m011_promotion_items(db: Connection) -> None:
    """A promotion limited to carts holding some items (JSON: product or variant ids; []: any cart)."""
    db.execute(sa.text("ALTER TABLE promotions ADD COLUMN items TEXT NOT NULL DEFAULT '[]'"))


def m012_fulfillment_events(db: Connection) -> None:
    """An order's shipping events carry the carrier and tracking number the store gave (orders.py
    ``advance``), and a UCP checkout session the order it became, so an agent finds its order's checkout."""
    db.execute(sa.text("ALTER TABLE order_events ADD COLUMN tracking_number TEXT NOT NULL DEFAULT ''"))
    db.execute(sa.text("ALTER TABLE order_events ADD COLUMN carrier TEXT NOT NULL DEFAULT ''"))
    db.execute(sa.text("ALTER TABLE ucp_checkout_sessions ADD COLUMN order_id TEXT NOT NULL DEFAULT ''"))
    db.execute(
        sa.text("CREATE INDEX ucp_checkout_sessions_order ON ucp_checkout_sessions (account, order_id)")
    )


def m013_order_watchers(db: Connection) -> None:
    """Who wants to hear of an order's changes (JSON: [{"kind", "payload"}]): each change of the order
    queues a job of each kind, in the change's transaction (order_records.py ``notify``)."""
    db.execute(sa.text("ALTER TABLE orders ADD COLUMN watchers TEXT NOT NULL DEFAULT '[]'"))


def m014_buyer_consents(db: Connection) -> None:
    """Every statement of a buyer's consent (commerce/consent.py): a purpose granted or withdrawn, by whom,
    with what; the latest of each purpose is the buyer's consent now."""
    md = sa.MetaData()
    sa.Table(
        "buyer_consents",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", Text, nullable=False),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("purpose", Text, nullable=False),  # marketing, analytics, preferences, sale_of_data
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("source", Text, nullable=False),  # platform (an agent's withdrawal), buyer (confirmed)
        sa.Column("reference", Text, nullable=False, server_default=""),  # the checkout or action
        sa.Column("at", Float, nullable=False),
        sa.Index("buyer_consents_by_buyer", "account", "user_id", "at"),
    )
    md.create_all(db)


def m015_customer_names(db: Connection) -> None:
    """A customer's name and email as the store file gives them (commerce/customers.py ``write_customers``),
    on their user row, so an exported store has them back; ``forget`` deletes them with the row."""
    db.execute(sa.text("ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT ''"))
    db.execute(sa.text("ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''"))


def m016_identified_conversations(db: Connection) -> None:
    """Customers identified in conversations (commerce/identification.py): the session bound to the customer
    it identified as, the failed tries (counted per session and per writer, to limit guessing), and the
    tokens of actions proposed there, held for the customer's own surfaces (commerce/agent_actions.py)."""
    md = sa.MetaData()
    sa.Table(
        "session_customers",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("user_id", Text, primary_key=True),  # the session's own user: who writes in it
        sa.Column("session_id", Text, primary_key=True),
        sa.Column("customer_id", Text, nullable=False),  # the customer it identified as
        sa.Column("method", Text, nullable=False),  # email, name_zip
        sa.Column("at", Float, nullable=False),
    )
    sa.Table(
        "identification_failures",
        md,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account", Text, nullable=False),
        sa.Column("subject", Text, nullable=False),  # session:ID or writer:USER
        sa.Column("at", Float, nullable=False),
        sa.Index("identification_failures_by_subject", "account", "subject", "at"),
    )
    sa.Table(
        "held_proposals",
        md,
        sa.Column("account", Text, primary_key=True),
        sa.Column("action_id", Text, primary_key=True),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("token", Text, nullable=False),
        sa.Column("session_id", Text, nullable=False),
        sa.Column("at", Float, nullable=False),
        sa.Index("held_proposals_by_user", "account", "user_id"),
    )
    md.create_all(db)


def m017_store_rules(db: Connection) -> None:
    """A store's machine-checked rules beside its prose policy (commerce/store_rules.py): JSON, the rules
    that differ from the defaults."""
    db.execute(sa.text("ALTER TABLE stores ADD COLUMN rules TEXT NOT NULL DEFAULT '{}'"))


def m018_waiting_changes(db: Connection) -> None:
    """A return or an exchange waiting for the store to receive the items (JSON, '' : none), under a store
    whose money moves at its "received" step (commerce/store_rules.py, orders.py)."""
    db.execute(sa.text("ALTER TABLE orders ADD COLUMN waiting TEXT NOT NULL DEFAULT ''"))


def m019_messaging_channels(db: Connection) -> None:
    """Messaging channels (ponder/channels): the inbox of updates taken (one row per platform message id,
    so a redelivery is a no-op), each thread's user, session and window, the replies to send (the outbox's
    rows, sent by ``channel.send`` jobs) and the buttons that confirm an action (their handle, never the
    token, goes to the platform)."""
    md = sa.MetaData()
    sa.Table(
        "channel_inbox",
        md,
        sa.Column("channel", Text, primary_key=True),
        sa.Column("message_id", Text, primary_key=True),  # the platform's (wamid, mid, chat:message)
        sa.Column("thread", Text, nullable=False),
        sa.Column("message", Text, nullable=False),  # the Inbound, as JSON
        sa.Column("state", Text, nullable=False),  # new, answered
        sa.Column("received_at", Float, nullable=False),
    )
    sa.Table(
        "channel_threads",
        md,
        sa.Column("channel", Text, primary_key=True),
        sa.Column("thread", Text, primary_key=True),  # where replies go
        sa.Column("account", Text, nullable=False),  # the store the channel sells for
        sa.Column("user_id", Text, nullable=False),  # the sender, as a user of that account
        sa.Column("session_id", Text, nullable=False),
        sa.Column("last_inbound_at", Float, nullable=False),  # the customer-service window counts from it
        sa.Index("channel_threads_by_session", "account", "session_id"),  # where a hand-off's reply goes
    )
    sa.Table(
        "channel_outbox",
        md,
        sa.Column("channel", Text, primary_key=True),
        sa.Column("send_key", Text, primary_key=True),  # what caused it (a message id, a ticket reply) + part
        sa.Column("thread", Text, nullable=False),
        sa.Column("message", Text, nullable=False),  # the Outbound, as JSON
        sa.Column("state", Text, nullable=False),  # queued, sending, sent, failed
        sa.Column("platform_id", Text, nullable=False, server_default=""),  # the platform's id, once sent
        sa.Column("attempts", Int, nullable=False, server_default="0"),
        # sends begun whose outcome was never recorded (a crash between the platform and this row): each
        # may have reached the person, so sending again may duplicate it (counted, not hidden)
        sa.Column("uncertain", Int, nullable=False, server_default="0"),
        sa.Column("error", Text, nullable=False, server_default=""),
        sa.Column("queued_at", Float, nullable=False),
        sa.Column("sent_at", Float),
    )
    sa.Table(
        "channel_buttons",
        md,
        sa.Column("channel", Text, primary_key=True),
        sa.Column("handle", Text, primary_key=True),  # the button's payload: unguessable, short (64 B)
        sa.Column("thread", Text, nullable=False),  # only a press from this thread counts
        sa.Column("account", Text, nullable=False),
        sa.Column("user_id", Text, nullable=False),
        sa.Column("action_id", Text, nullable=False),
        sa.Column("token", Text, nullable=False),
        sa.Column("at", Float, nullable=False),
    )
    md.create_all(db)


def m020_mcp_approvals(db: Connection) -> None:
    """Approved MCP tool definitions (tools/mcp/approvals.py), per server, shared by every replica: the
    row with tool '' marks a server seen (it may have offered no tools)."""
    md = sa.MetaData()
    sa.Table(
        "mcp_approvals",
        md,
        sa.Column("server", Text, primary_key=True),
        sa.Column("tool", Text, primary_key=True),
        sa.Column("sha256", Text, nullable=False),  # of the definition the model reads
        sa.Column("description", Text, nullable=False),
        sa.Column("input_schema", Text, nullable=False),  # JSON
        sa.Column("approved_at", Text, nullable=False),  # ISO 8601
    )
    md.create_all(db)


def m021_perception_cache(db: Connection) -> None:
    """What perception read from an image or a clip, by scope and sha256 (perception/cache.py), so no
    replica reads the same media twice; kept a day at most."""
    md = sa.MetaData()
    sa.Table(
        "perception_cache",
        md,
        sa.Column("key", Text, primary_key=True),  # sha256 of kind:scope NUL the media's sha256
        sa.Column("text", Text, nullable=False),
        sa.Column("report", Text, nullable=False),  # JSON
        sa.Column("at", Float, nullable=False),
        sa.Index("perception_cache_by_age", "at"),
    )
    md.create_all(db)


# the error type of a stored HTTP answer (server/errors.py) -> the kind of domain error it was
_LEGACY_ERRORS = {"payment_error": "declined", "not_found_error": "not_found"}


MIGRATIONS: list[Callable[[Connection], None]] = [
    m001_keys_and_limits,
    m002_sessions_memories_interests,
    m003_commerce,
    m004_ucp_checkout_sessions,
    m005_agent_credentials,
    m006_jobs_and_domain_outcomes,
    m007_responses,
    m008_pricing_rules,
    m009_order_discounts_and_shipping,
    m010_ucp_signing_and_mandates,
    m011_promotion_items,
    m012_fulfillment_events,
    m013_order_watchers,
    m014_buyer_consents,
    m015_customer_names,
    m016_identified_conversations,
    m017_store_rules,
    m018_waiting_changes,
    m019_messaging_channels,
    m020_mcp_approvals,
    m021_perception_cache,
]

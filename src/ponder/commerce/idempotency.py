"""Idempotency keys: a request that must happen once (a checkout, a refund) happens once, however often sent.

A key is ``in_progress`` (with a lease), then ``done`` (with the work's value: checkout's is the order's id)
or ``failed`` (with the domain error: a declined card, a sold-out item). Those are domain outcomes, never
HTTP answers: the server layer translates them. The first request with a key *claims* it; the work is
done; the outcome is stored with ``finish`` **in the same transaction as the work's rows** (the order), so
either both exist or neither does. Then:

- the same key with the same request again gets the stored ``Outcome`` (a failed one raises its error again
  through ``Outcome.value_or_raise``);
- the same key with a different request is refused (``ConflictError``);
- a request arriving while the first is in flight waits for it (up to ``wait_s``) and gets its outcome, or a
  ``ConflictError`` with ``retry_after`` if it is still running: not a final answer, the request may be sent
  again once ``retry_after`` has passed;
- a key whose owner died mid-way (kill -9, a crash: the lease ran out and no outcome was stored) is taken
  over by the next request with it, which does the work again. The work must therefore be safe to redo: a
  charge carries the same key to the payment provider, which answers it with the first charge.

``plan`` is what the first claim decided (the amount to charge) and is kept with the claim, so a takeover
charges the same amount even if prices moved in between.

Keys are per user: two customers can never collide on one. ``clock`` is injected so tests can step past a
lease without sleeping.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from ponder.errors import ConflictError, NotFoundError, PaymentDeclinedError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["Claim", "IdempotencyKeys", "Outcome", "error_value", "request_digest"]

MAX_KEY = 255


def request_digest(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    key: str
    plan: dict[str, Any] | None  # what the first claim planned (None: this is the first claim)


@dataclass(frozen=True)
class Outcome:
    """How a finished key ended: ``done`` with its value, or ``failed`` with the error (``error_value``)."""

    state: Literal["done", "failed"]
    value: dict[str, Any]

    def value_or_raise(self) -> dict[str, Any]:
        """The value of a done key; a failed key's error, raised again as the domain error it was."""
        if self.state == "done":
            return self.value
        message = str(self.value.get("message", "The request failed."))
        kind = self.value.get("error")
        if kind == "declined":
            raise PaymentDeclinedError(message, code=str(self.value.get("code", "card_declined")))
        if kind == "conflict":
            raise ConflictError(message)
        if kind == "not_found":
            raise NotFoundError(message)
        raise UserError(message)


def error_value(error: UserError) -> dict[str, Any]:
    """A final error as a stored outcome: its kind and message (``Outcome.value_or_raise`` raises it)."""
    if isinstance(error, PaymentDeclinedError):
        return {"error": "declined", "message": str(error), "code": error.code}
    if isinstance(error, ConflictError):
        return {"error": "conflict", "message": str(error)}
    if isinstance(error, NotFoundError):
        return {"error": "not_found", "message": str(error)}
    return {"error": "user", "message": str(error)}


class IdempotencyKeys:
    def __init__(
        self,
        db: Database,
        *,
        lease_s: float = 30.0,
        wait_s: float = 10.0,
        poll_s: float = 0.02,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.clock = clock

    def claim(self, owner: Owner, key: str, request: Any) -> Claim | Outcome:
        """Claim ``key`` for ``request``, or its stored outcome; waits while another request has it."""
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise UserError(f"An idempotency key is 1-{MAX_KEY} printable characters.")
        digest = request_digest(request)
        deadline = time.monotonic() + self.wait_s
        while True:
            outcome = self._try(owner, key, digest)
            if not isinstance(outcome, float):
                return outcome
            if time.monotonic() >= deadline:
                raise ConflictError(
                    "A request with this idempotency key is still in progress; send it again shortly.",
                    retry_after=max(1.0, outcome),
                )
            time.sleep(self.poll_s)

    def _try(self, owner: Owner, key: str, digest: str) -> Claim | Outcome | float:
        """A claim, an outcome, or the seconds left on another request's lease."""
        with self.db.reading() as db:  # the common waiting case costs no write lock
            row = _row(db, owner, key)
        if row is not None and row["state"] == "in_progress" and row["lease_until"] > self.clock():
            if row["request_sha256"] != digest:
                raise _reused()
            return float(row["lease_until"] - self.clock())
        with self.db.transaction(lock=_lock(owner, key)) as db:
            row = _row(db, owner, key)
            now = self.clock()
            if row is None:
                db.execute(
                    sql(
                        "INSERT INTO idempotency_keys (account, user_id, key, request_sha256, state, "
                        "lease_until, created_at) "
                        "VALUES (:account, :user, :key, :digest, 'in_progress', :lease, :now)"
                    ),
                    owner.params(key=key, digest=digest, lease=now + self.lease_s, now=now),
                )
                return Claim(key, None)
            if row["request_sha256"] != digest:
                raise _reused()
            if row["state"] in ("done", "failed"):
                return _outcome(row)
            if row["lease_until"] > now:
                return float(row["lease_until"] - now)
            return Claim(key, self._take_over(db, owner, key, row, now))

    def _take_over(self, db: Connection, owner: Owner, key: str, row: Any, now: float) -> Any:
        db.execute(  # its owner died or gave up: take it over
            sql(
                "UPDATE idempotency_keys SET lease_until = :lease "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            owner.params(key=key, lease=now + self.lease_s),
        )
        return json.loads(row["response"]) if row["response"] else None

    def claimed(self, owner: Owner, key: str) -> bool:
        """Whether a request with ``key`` was ever claimed, so its work may have begun (a charge made)."""
        with self.db.reading() as db:
            return _row(db, owner, key) is not None

    def remember_plan(self, owner: Owner, key: str, plan: dict[str, Any]) -> None:
        """Keep what the first claim decided, for a takeover to reuse."""
        with self.db.transaction(lock=_lock(owner, key)) as db:
            db.execute(
                sql(
                    "UPDATE idempotency_keys SET response = :plan WHERE account = :account "
                    "AND user_id = :user AND key = :key AND state = 'in_progress'"
                ),
                owner.params(key=key, plan=json.dumps(plan)),
            )

    def finished(self, db: Connection, owner: Owner, key: str) -> Outcome | None:
        """In the transaction that will write the work (holding the key's lock): the stored outcome if
        another request finished the key first (a takeover raced the original), so the work is not
        written twice."""
        row = _row(db, owner, key)
        if row is not None and row["state"] in ("done", "failed"):
            return _outcome(row)
        return None

    def finish(
        self, db: Connection, owner: Owner, key: str, value: dict[str, Any], *, failed: bool = False
    ) -> Outcome | None:
        """Store the outcome (``failed``: ``value`` is an ``error_value``) in the caller's transaction, which
        must hold the key's lock (``lock_name``); the stored Outcome instead if another request finished the
        key first: the caller must then roll back its work."""
        earlier = self.finished(db, owner, key)
        if earlier is not None:
            return earlier
        db.execute(
            sql(
                "UPDATE idempotency_keys SET state = :state, response = :value "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            owner.params(key=key, state="failed" if failed else "done", value=json.dumps(value)),
        )
        return None

    def release(self, owner: Owner, key: str) -> None:
        """After a failure that a retry may fix (the provider did not answer): the next request takes over."""
        with self.db.transaction(lock=_lock(owner, key)) as db:
            db.execute(
                sql(
                    "UPDATE idempotency_keys SET lease_until = 0 WHERE account = :account "
                    "AND user_id = :user AND key = :key AND state = 'in_progress'"
                ),
                owner.params(key=key),
            )

    @staticmethod
    def lock_name(owner: Owner, key: str) -> str:
        """The lock a transaction that finishes ``key`` holds (``Database.transaction(lock=...)``)."""
        return _lock(owner, key)


def _lock(owner: Owner, key: str) -> str:
    return f"idempotency:{owner.account}:{owner.user}:{key}"


def _outcome(row: Any) -> Outcome:
    return Outcome("done" if row["state"] == "done" else "failed", json.loads(row["response"] or "{}"))


def _row(db: Connection, owner: Owner, key: str) -> Any:
    return (
        db.execute(
            sql(
                "SELECT request_sha256, state, lease_until, response FROM idempotency_keys "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            owner.params(key=key),
        )
        .mappings()
        .first()
    )


def _reused() -> ConflictError:
    return ConflictError("This idempotency key was already used for a different request.")

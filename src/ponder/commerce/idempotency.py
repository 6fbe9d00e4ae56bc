"""Idempotency keys: a request that must happen once (a checkout, a refund) happens once, however often sent.

The first request with a key *claims* it (state ``started``, with a lease); the work is done; the response
is stored with ``finish`` **in the same transaction as the work's rows** (the order), so either both exist
or neither does. Then:

- the same key with the same request again gets the stored response, replayed (``Replay``);
- the same key with a different request is refused (``ConflictError``, HTTP 422);
- a request arriving while the first is in flight waits for it (up to ``wait_s``) and gets its response, or a
  ``ConflictError`` with ``retry_after`` (HTTP 409) if it is still running;
- a key whose owner died mid-way (kill -9, a crash: the lease ran out and no response was stored) is taken
  over by the next request with it, which does the work again. The work must therefore be safe to redo: a
  charge carries the same key to the payment provider, which answers it with the first charge.

``plan`` is what the first claim decided (the amount to charge) and is kept with the claim, so a takeover
charges the same amount even if prices moved in between.

Keys are per user: two customers can never collide on one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ponder.errors import ConflictError, UserError
from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["Claim", "IdempotencyKeys", "Replay", "request_digest"]

MAX_KEY = 255


def request_digest(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    key: str
    plan: dict[str, Any] | None  # what the first claim planned (None: this is the first claim)


@dataclass(frozen=True)
class Replay:
    status_code: int
    response: dict[str, Any]


class IdempotencyKeys:
    def __init__(
        self, db: Database, *, lease_s: float = 30.0, wait_s: float = 10.0, poll_s: float = 0.02
    ) -> None:
        self.db = db
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    def claim(self, owner: Owner, key: str, request: Any) -> Claim | Replay:
        """Claim ``key`` for ``request``, or the stored response; waits while another request has it."""
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

    def _try(self, owner: Owner, key: str, digest: str) -> Claim | Replay | float:
        """A claim, a replay, or the seconds left on another request's lease."""
        with self.db.reading() as db:  # the common waiting case costs no write lock
            row = _row(db, owner, key)
        if row is not None and row["state"] == "started" and row["lease_until"] > time.time():
            if row["request_sha256"] != digest:
                raise _reused()
            return float(row["lease_until"] - time.time())
        with self.db.transaction(lock=f"idempotency:{owner.account}:{owner.user}:{key}") as db:
            row = _row(db, owner, key)
            now = time.time()
            if row is None:
                db.execute(
                    sql(
                        "INSERT INTO idempotency_keys (account, user_id, key, request_sha256, state, "
                        "lease_until, created_at) "
                        "VALUES (:account, :user, :key, :digest, 'started', :lease, :now)"
                    ),
                    owner.params(key=key, digest=digest, lease=now + self.lease_s, now=now),
                )
                return Claim(key, None)
            if row["request_sha256"] != digest:
                raise _reused()
            if row["state"] == "done":
                return Replay(int(row["status_code"]), json.loads(row["response"]))
            if row["lease_until"] > now:
                return float(row["lease_until"] - now)
            db.execute(  # its owner died or gave up: take it over
                sql(
                    "UPDATE idempotency_keys SET lease_until = :lease "
                    "WHERE account = :account AND user_id = :user AND key = :key"
                ),
                owner.params(key=key, lease=now + self.lease_s),
            )
            plan = json.loads(row["response"]) if row["response"] else None
            return Claim(key, plan)

    def claimed(self, owner: Owner, key: str) -> bool:
        """Whether a request with ``key`` was ever claimed, so its work may have begun (a charge made)."""
        with self.db.reading() as db:
            return _row(db, owner, key) is not None

    def remember_plan(self, owner: Owner, key: str, plan: dict[str, Any]) -> None:
        """Keep what the first claim decided, for a takeover to reuse."""
        with self.db.transaction(lock=f"idempotency:{owner.account}:{owner.user}:{key}") as db:
            db.execute(
                sql(
                    "UPDATE idempotency_keys SET response = :plan "
                    "WHERE account = :account AND user_id = :user AND key = :key AND state = 'started'"
                ),
                owner.params(key=key, plan=json.dumps(plan)),
            )

    def finished(self, db: Connection, owner: Owner, key: str) -> Replay | None:
        """In the transaction that will write the work (holding the key's lock): the stored response if
        another request finished the key first (a takeover raced the original), so the work is not
        written twice."""
        row = _row(db, owner, key)
        if row is not None and row["state"] == "done":
            return Replay(int(row["status_code"]), json.loads(row["response"]))
        return None

    def finish(
        self, db: Connection, owner: Owner, key: str, status_code: int, response: dict[str, Any]
    ) -> Replay | None:
        """Store the response in the caller's transaction (which must hold the key's lock); a Replay
        instead if another request finished the key first: the caller must then roll back its work."""
        replay = self.finished(db, owner, key)
        if replay is not None:
            return replay
        db.execute(
            sql(
                "UPDATE idempotency_keys SET state = 'done', status_code = :code, response = :response "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            owner.params(key=key, code=status_code, response=json.dumps(response)),
        )
        return None

    def release(self, owner: Owner, key: str) -> None:
        """After a failure that a retry may fix (the provider did not answer): the next request takes over."""
        with self.db.transaction(lock=f"idempotency:{owner.account}:{owner.user}:{key}") as db:
            db.execute(
                sql(
                    "UPDATE idempotency_keys SET lease_until = 0 "
                    "WHERE account = :account AND user_id = :user AND key = :key AND state = 'started'"
                ),
                owner.params(key=key),
            )


def _row(db: Connection, owner: Owner, key: str) -> Any:
    return (
        db.execute(
            sql(
                "SELECT request_sha256, state, lease_until, status_code, response FROM idempotency_keys "
                "WHERE account = :account AND user_id = :user AND key = :key"
            ),
            owner.params(key=key),
        )
        .mappings()
        .first()
    )


def _reused() -> ConflictError:
    return ConflictError("This idempotency key was already used for a different request.")

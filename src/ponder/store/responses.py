"""The stored responses of the Responses API: what ``GET /v1/responses/{id}`` returns and what
``previous_response_id`` continues.

A stored response is one turn of one of its user's sessions (the turn's messages live in the session, as
every surface's turns do); its row here keeps the response object as it was sent, its input items, and where
its turn is: (account, response id) -> (user, session id, turn number, response JSON, input JSON). A
response is found by its id within the key's account (the SDKs retrieve by id alone); every query names the
account, so another account's response is as unknown as one that never existed.

It does not run turns or store messages (the conversation runner and sessions do), nor shape the wire format
(server/responses.py does).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ponder.memory.owner import Owner
from ponder.store.database import Database, sql

__all__ = ["ResponseStore", "StoredResponse"]


@dataclass(frozen=True)
class StoredResponse:
    id: str
    user: str
    session_id: str
    turn: int
    body: dict[str, Any]  # the response object, as the client got it
    input: list[dict[str, Any]]  # its input items, each with an id
    latest: bool  # no later stored response continues its session: the session ends with its turn


class ResponseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(
        self, owner: Owner, session_id: str, turn: int, body: dict[str, Any], items: list[dict[str, Any]]
    ) -> None:
        """Keep ``body`` (its ``id`` is the key) as the response of ``turn`` in the owner's ``session_id``."""
        args = owner.params(
            id=body["id"],
            session=session_id,
            turn=turn,
            body=json.dumps(body, ensure_ascii=False),
            input=json.dumps(items, ensure_ascii=False),
            now=time.time(),
        )
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO responses (account, id, user_id, session_id, turn, body, input, created_at) "
                    "VALUES (:account, :id, :user, :session, :turn, :body, :input, :now)"
                ),
                args,
            )

    def get(self, account: str, response_id: str) -> StoredResponse | None:
        """The account's stored response ``response_id``; None when it has none by that id."""
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql(
                        "SELECT r.user_id, r.session_id, r.turn, r.body, r.input, NOT EXISTS (SELECT 1 FROM "
                        "responses l WHERE l.account = r.account AND l.user_id = r.user_id "
                        "AND l.session_id = r.session_id AND l.turn > r.turn) AS latest "
                        "FROM responses r WHERE r.account = :account AND r.id = :id"
                    ),
                    {"account": account, "id": response_id},
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return StoredResponse(
            response_id,
            str(row["user_id"]),
            str(row["session_id"]),
            int(row["turn"]),
            json.loads(row["body"]),
            json.loads(row["input"]),
            bool(row["latest"]),
        )

    def delete(self, account: str, response_id: str) -> bool:
        """Forget the account's response ``response_id`` (its turn stays in its session); False if unknown."""
        with self.db.transaction() as db:
            deleted = db.execute(
                sql("DELETE FROM responses WHERE account = :account AND id = :id"),
                {"account": account, "id": response_id},
            )
        return bool(deleted.rowcount)

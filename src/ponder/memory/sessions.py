"""Sessions: every turn of a conversation stored, so that it can be resumed, listed, exported or deleted.

A session belongs to one user (``Owner``) and has an id that is unique per user: the client's own
(``--session ID``, ``X-Ponder-Session``, ``session_id``) or a fresh ``s_`` + 16 hex. Messages are stored one
row each, in order, after the turn succeeds (the user's messages and the reply together), so a failed turn
leaves nothing half-stored.

Clients talk to sessions in two ways, and ``resume`` tells them apart message by message (fingerprints,
see codec.py):

- **The new turn only** (``ponder chat``, thin API clients): the stored history is put before it.
- **The whole history again** (OpenAI-style clients): the messages already stored are recognised, and only
  the new ones are run and stored. A client that edits or regenerates an earlier message diverges from the
  stored history at some position: the new messages are stored as a *branch* at that position. Nothing is
  overwritten; the active conversation is the newest branch (``history``), and ``transcript`` has all.

System messages are the client's configuration, not the conversation: they are neither stored nor matched.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from ponder.errors import NotFoundError, UserError
from ponder.memory.codec import fingerprint, message_from_row, message_to_row
from ponder.memory.owner import Owner, check_name
from ponder.memory.users import UserStore
from ponder.messages import Message
from ponder.sharing import breathing
from ponder.store.database import Database, execute_many, sql

__all__ = [
    "Resumed",
    "SessionInfo",
    "SessionStore",
    "StoredMessage",
    "UnknownSessionError",
    "check_session_id",
    "new_session_id",
]

TITLE_CHARS = 60
CACHED_SESSIONS = 1024  # sessions whose decoded messages a process keeps (SessionStore.transcripts)


class UnknownSessionError(NotFoundError):
    """No such session for this user (another user's session is just as unknown)."""


def new_session_id() -> str:
    return "s_" + secrets.token_hex(8)


def check_session_id(session_id: str) -> str:
    """``session_id`` if it is valid (the rules of user names); a UserError saying why otherwise."""
    return check_name(session_id, "session id")


@dataclass(frozen=True)
class SessionInfo:
    id: str
    project: str
    title: str
    created_at: float
    updated_at: float
    messages: int = 0  # stored rows, branches included
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "messages": self.messages,
            "turns": self.turns,
        }


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    turn: int
    message: Message
    fingerprint: str
    meta: dict[str, Any]
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        content, parts = message_to_row(self.message)
        return {
            "seq": self.seq,
            "turn": self.turn,
            "role": self.message.role,
            "content": content,
            "parts": parts,
            "meta": self.meta,
            "created_at": self.created_at,
        }


@dataclass
class Resumed:
    """Where a turn starts from: the stored conversation, and which of the client's messages are new."""

    session: SessionInfo
    history: list[Message]  # the active stored conversation before the new messages
    new: list[Message]  # the client's messages that are not stored yet: run them, then record them
    branch_at: int | None = None  # the client's history left the stored one at this position
    fingerprints: list[str] = field(default_factory=list)  # of ``new``, as the client sent them


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = UserStore(db)
        self.transcripts = _Transcripts()  # the decoded messages of the sessions this process used last

    # --- sessions ---------------------------------------------------------------------------------------

    def open(self, owner: Owner, session_id: str | None = None, *, create: bool = True) -> SessionInfo:
        """The session ``session_id`` of this user, created if it is new (``create``); a new id if None."""
        if session_id is None:
            if not create:
                raise UserError("A session id is needed.")
            session_id = new_session_id()
        check_session_id(session_id)
        if create:
            self.users.ensure(owner)
            now = time.time()
            with self.db.transaction() as db:
                db.execute(
                    sql(
                        "INSERT INTO sessions (account, user_id, id, project, created_at, updated_at) "
                        "VALUES (:account, :user, :id, :project, :now, :now) "
                        "ON CONFLICT (account, user_id, id) DO NOTHING"
                    ),
                    owner.params(id=session_id, project=owner.project, now=now),
                )
        return self.info(owner, session_id)

    def info(self, owner: Owner, session_id: str) -> SessionInfo:
        with self.db.reading() as db:
            row = _session_rows(db, owner, "AND s.id = :id", "", {"id": session_id}).first()
        if row is None:
            raise UnknownSessionError(f"No session '{session_id}' for user '{owner.user}'.")
        return _info(row)

    def list_sessions(self, owner: Owner, limit: int = 50) -> list[SessionInfo]:
        """The user's sessions, most recently used first (in every project)."""
        with self.db.reading() as db:
            rows = _session_rows(db, owner, "", "ORDER BY s.updated_at DESC LIMIT :limit", {"limit": limit})
            return [_info(row) for row in rows]

    def delete(self, owner: Owner, session_id: str) -> int:
        """Delete the session and every message in it; how many messages went. Unknown: an error."""
        with self.db.transaction(lock=f"session:{owner.account}:{owner.user}:{session_id}") as db:
            args = owner.params(id=session_id)
            gone = db.execute(
                sql("DELETE FROM sessions WHERE account = :account AND user_id = :user AND id = :id"), args
            ).rowcount
            if not gone:
                raise UnknownSessionError(f"No session '{session_id}' for user '{owner.user}'.")
            messages = db.execute(
                sql("DELETE FROM messages WHERE account = :account AND user_id = :user AND session_id = :id"),
                args,
            ).rowcount
        self.db.purge()
        return int(messages)

    # --- messages ---------------------------------------------------------------------------------------

    def transcript(self, owner: Owner, session_id: str) -> list[StoredMessage]:
        """Every stored message, branches included, in the order stored."""
        with self.db.reading() as db:
            return _transcript(db, owner, session_id)

    def history(self, owner: Owner, session_id: str) -> list[StoredMessage]:
        """The active conversation: the transcript with each branch replacing what it branched from."""
        return _active(self.transcript(owner, session_id))

    def resume(self, owner: Owner, session_id: str | None, incoming: Sequence[Message]) -> Resumed:
        """Open (or create) the session and match the client's messages (system ones left out) to it.

        A session that exists is read in one read transaction (its row and its messages); only a new one
        is written (the user and the session created)."""
        found = None
        if session_id is not None:
            check_session_id(session_id)
            with self.db.reading() as db:
                row = _session_rows(db, owner, "AND s.id = :id", "", {"id": session_id}).first()
                if row is not None:
                    info = _info(row)
                    transcript = self.transcripts.get(owner, info)
                    if transcript is None:
                        transcript = _transcript(db, owner, session_id)
                        self.transcripts.keep(owner, info, transcript)
                    found = info, _active(transcript)
        session, stored = found or (self.open(owner, session_id), [])
        sent = [m for m in incoming if m.role != "system"]
        prints = [fingerprint(m) for m in breathing(sent)]
        shared = 0
        while shared < min(len(stored), len(prints)) and stored[shared].fingerprint == prints[shared]:
            shared += 1
        history = [s.message for s in stored]
        if stored and shared == len(stored):  # the whole history again, then the new turn
            return Resumed(session, history, sent[shared:], None, prints[shared:])
        if len(sent) >= 2 and shared > 0 and shared < len(sent):  # an edited history
            return Resumed(session, history[:shared], sent[shared:], shared, prints[shared:])
        if len(sent) >= 2 and shared == len(sent):  # an older point of it: a regenerated answer, or a retry
            cut = shared - 1  # of a turn whose answer was stored but never reached the client
            return Resumed(session, history[:cut], sent[cut:], cut, prints[cut:])
        return Resumed(session, history, sent, None, prints)  # the new turn only

    def record(
        self,
        owner: Owner,
        session_id: str,
        messages: Sequence[Message],
        *,
        fingerprints: Sequence[str | None] | None = None,
        meta: Sequence[dict[str, Any]] | None = None,
        branch_at: int | None = None,
    ) -> int:
        """Store one turn's messages (system ones are skipped) in one transaction; the turn's number.

        ``fingerprints`` are those of the messages as the client sent them (before perception turned media
        into text); None computes them from ``messages``. ``branch_at``: see ``resume``.
        """
        rows = [
            (m, (fingerprints[i] if fingerprints else None) or fingerprint(m), dict(meta[i]) if meta else {})
            for i, m in enumerate(breathing(messages))
        ]
        rows = [row for row in rows if row[0].role != "system"]
        if not rows:
            raise UserError("A turn with no messages to store.")
        if branch_at is not None:
            rows[0][2]["branch_at"] = branch_at
        now = time.time()
        args = owner.params(id=session_id)
        # Encoded before the transaction and written in one statement: the write lock is held for the inserts.
        encoded = []  # (role, content, fingerprint, meta as JSON)
        for message, print_, extra in breathing(rows):
            content, parts = message_to_row(message)
            encoded.append((message.role, content, print_, json.dumps(extra | {"parts": parts})))
        with self.db.transaction(lock=f"session:{owner.account}:{owner.user}:{session_id}") as db:
            last = (
                db.execute(
                    sql(
                        "SELECT (SELECT COUNT(*) FROM sessions WHERE account = :account AND user_id = :user "
                        "AND id = :id) AS found, COALESCE(MAX(seq), -1) AS seq, "
                        "COALESCE(MAX(turn), -1) AS turn FROM messages WHERE account = :account "
                        "AND user_id = :user AND session_id = :id"
                    ),
                    args,
                )
                .mappings()
                .one()
            )
            if not last["found"]:
                raise UnknownSessionError(f"No session '{session_id}' for user '{owner.user}'.")
            seq, turn = int(last["seq"]) + 1, int(last["turn"]) + 1
            inserted = [
                args
                | {"seq": seq + offset, "turn": turn, "role": role, "content": content}
                | {"fingerprint": print_, "meta": meta, "created_at": now}
                for offset, (role, content, print_, meta) in enumerate(encoded)
            ]
            execute_many(
                db,
                "INSERT INTO messages (account, user_id, session_id, seq, turn, role, content, "
                "fingerprint, meta, created_at) VALUES (:account, :user, :id, :seq, :turn, :role, "
                ":content, :fingerprint, :meta, :created_at)",
                inserted,
            )
            title = next((m.text for m, _, _ in rows if m.role == "user" and m.text.strip()), "")
            db.execute(
                sql(
                    "UPDATE sessions SET updated_at = :now, "
                    "title = CASE WHEN title = '' THEN :title ELSE title END "
                    "WHERE account = :account AND user_id = :user AND id = :id"
                ),
                args | {"now": now, "title": _title(title)},
            )
        # Committed: the messages join this process's copy of the session, read back as they were stored.
        self.transcripts.extend(owner, session_id, seq, now, [_stored(row) for row in inserted])
        return turn


class _Transcripts:
    """The decoded messages of the sessions this process resumed or wrote last (``CACHED_SESSIONS``), so
    that a turn does not read and decode its whole session again. An entry is used only while the session's
    row still says what it said when the entry was made (created, last written, how many messages): a write
    from another process, a deletion or a session made again under the same id all read it afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, str], tuple[_Stamp, list[StoredMessage]]] = OrderedDict()

    def get(self, owner: Owner, info: SessionInfo) -> list[StoredMessage] | None:
        key = (owner.account, owner.user, info.id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != _stamp(info):
                return None
            self._entries.move_to_end(key)
            return list(entry[1])

    def keep(self, owner: Owner, info: SessionInfo, transcript: list[StoredMessage]) -> None:
        self._put((owner.account, owner.user, info.id), _stamp(info), list(transcript))

    def extend(
        self, owner: Owner, session_id: str, count: int, updated_at: float, written: list[StoredMessage]
    ) -> None:
        """Messages just written after the session's first ``count`` (in the writing transaction): kept on
        its entry if that entry held exactly those ``count``."""
        key = (owner.account, owner.user, session_id)
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None or entry[0][2] != count or len(entry[1]) != count:
            return
        self._put(key, (entry[0][0], updated_at, count + len(written)), [*entry[1], *written])

    def _put(self, key: tuple[str, str, str], stamp: _Stamp, transcript: list[StoredMessage]) -> None:
        with self._lock:
            self._entries[key] = (stamp, transcript)
            self._entries.move_to_end(key)
            while len(self._entries) > CACHED_SESSIONS:
                self._entries.popitem(last=False)


_Stamp = tuple[float, float, int]  # a session's created_at, updated_at and message count


def _stamp(info: SessionInfo) -> _Stamp:
    return (info.created_at, info.updated_at, info.messages)


def _transcript(db: Connection, owner: Owner, session_id: str) -> list[StoredMessage]:
    rows = db.execute(
        sql(
            "SELECT * FROM messages WHERE account = :account AND user_id = :user "
            "AND session_id = :id ORDER BY seq"
        ),
        owner.params(id=session_id),
    ).mappings()
    return [_stored(row) for row in rows]


def _active(transcript: list[StoredMessage]) -> list[StoredMessage]:
    """The transcript with each branch replacing what it branched from."""
    active: list[StoredMessage] = []
    for stored in transcript:
        branch_at = stored.meta.get("branch_at")
        if isinstance(branch_at, int):
            del active[branch_at:]
        active.append(stored)
    return active


def _session_rows(db: Connection, owner: Owner, where: str, tail: str, args: dict[str, Any]) -> Any:
    return db.execute(
        sql(
            "SELECT s.*, COUNT(m.seq) AS message_count, COALESCE(MAX(m.turn), -1) + 1 AS turn_count "
            "FROM sessions s LEFT JOIN messages m ON m.account = s.account AND m.user_id = s.user_id "
            "AND m.session_id = s.id WHERE s.account = :account AND s.user_id = :user " + where + " "
            "GROUP BY s.account, s.user_id, s.id " + tail
        ),
        owner.params() | args,
    ).mappings()


def _info(row: RowMapping) -> SessionInfo:
    return SessionInfo(
        id=row["id"],
        project=row["project"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        messages=int(row["message_count"]),
        turns=int(row["turn_count"]),
    )


def _stored(row: RowMapping | Mapping[str, Any]) -> StoredMessage:
    meta = json.loads(row["meta"])
    parts = meta.pop("parts", None)
    return StoredMessage(
        seq=int(row["seq"]),
        turn=int(row["turn"]),
        message=message_from_row(row["role"], row["content"], parts),
        fingerprint=row["fingerprint"],
        meta=meta,
        created_at=row["created_at"],
    )


def _title(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[:TITLE_CHARS].rsplit(" ", 1)[0] or text[:TITLE_CHARS]
    return cut + "…"

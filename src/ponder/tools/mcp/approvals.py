"""Approval of MCP tool definitions by hash, so a server cannot change what the model is told unseen.

A tool definition is what the model reads: its name, description and input schema. Its hash is the sha256
of that triple as canonical JSON (sorted keys, no spaces, UTF-8). The store keeps, per configured server,
the hash and the definition of every approved tool in the database (``mcp_approvals``), so an approval
given on one replica, or with ``ponder mcp approve``, holds on every other at their next listing. An
approvals file of an earlier Ponder (``<data dir>/mcp-approvals.json``) is taken in once
(``open_approvals``).

Reviewing a server's current tools against the store gives each one a status:

- ``approved``: same hash as the approval on record;
- ``changed``: approved once, but its description or input schema is different now;
- ``new``: the server has approvals on record, but not for this tool (it appeared later);
- ``unseen``: the server has no approvals on record at all (Ponder has never listed its tools).

The policy that acts on these lives in the toolset (trust on first use per server); this module only
compares and records. It reads the database afresh on every review, so an approval given from another
process counts at the next listing; each approval is one transaction, so none is lost to another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy.engine import Connection

from ponder.errors import ConfigError
from ponder.store.database import Database, sql

if TYPE_CHECKING:
    from ponder.config import Settings

__all__ = ["APPROVALS_FILE", "ApprovalStore", "Review", "Status", "ToolDefinition", "open_approvals"]

APPROVALS_FILE = "mcp-approvals.json"

Status = Literal["approved", "changed", "new", "unseen"]


@dataclass(frozen=True)
class ToolDefinition:
    """What the model reads about an MCP tool, under the server's own name for it."""

    name: str
    description: str
    input_schema: dict[str, Any]

    def sha256(self) -> str:
        canonical = json.dumps(
            {"name": self.name, "description": self.description, "inputSchema": self.input_schema},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Review:
    definition: ToolDefinition
    status: Status
    changed: tuple[str, ...] = ()  # for "changed": "description" and/or "input schema"


class ApprovalStore:
    """Approved tool definitions, per server, in the database's ``mcp_approvals``: every replica (and the
    CLI) reads and writes the same approvals, each approval one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def review(self, server: str, definitions: Sequence[ToolDefinition]) -> list[Review]:
        """The status of each of ``definitions`` (the tools ``server`` offers now), in the same order."""
        approved = self._approved(server)
        reviews = []
        for definition in definitions:
            record = approved.get(definition.name) if approved is not None else None
            if approved is None:
                reviews.append(Review(definition, "unseen"))
            elif record is None:
                reviews.append(Review(definition, "new"))
            elif record["sha256"] == definition.sha256():
                reviews.append(Review(definition, "approved"))
            else:
                reviews.append(Review(definition, "changed", _differences(record, definition)))
        return reviews

    def knows(self, server: str) -> bool:
        """Whether ``server`` has approvals on record (even none: it offered no tools when first seen)."""
        return self._approved(server) is not None

    def approve(self, server: str, definitions: Sequence[ToolDefinition]) -> None:
        """Record ``definitions`` as approved for ``server`` (an empty list still marks the server seen)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.transaction() as db:
            _upsert(db, server, _SEEN, "", "", {}, now)
            for d in definitions:
                _upsert(db, server, d.name, d.sha256(), d.description, d.input_schema, now)

    def import_file(self, path: Path) -> int:
        """Take the approvals of an approvals file (``APPROVALS_FILE``, where Ponder kept them before) for
        the servers the database has none for; how many servers were taken. ``ConfigError`` for a file
        that cannot be read."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            raise _unreadable(path, err) from None
        servers = data.get("servers") if isinstance(data, dict) else None
        if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
            raise _unreadable(path, "no 'servers' table of tables")
        taken = 0
        with self.db.transaction() as db:
            for server, tools in servers.items():
                if _rows(db, server):
                    continue
                now = datetime.now(UTC).isoformat(timespec="seconds")
                _upsert(db, server, _SEEN, "", "", {}, now)
                for name, r in tools.items():
                    description, schema = str(r.get("description", "")), r.get("input_schema") or {}
                    _upsert(
                        db,
                        server,
                        name,
                        str(r.get("sha256", "")),
                        description,
                        schema,
                        r.get("approved_at", now),
                    )
                taken += 1
        return taken

    def _approved(self, server: str) -> dict[str, dict[str, Any]] | None:
        """The server's approved tools by name; None if the server was never seen."""
        with self.db.reading() as db:
            rows = _rows(db, server)
        if not rows:
            return None
        return {r["tool"]: r for r in rows if r["tool"] != _SEEN}


def open_approvals(settings: Settings, db: Database | None = None) -> ApprovalStore:
    """The approvals of this installation: in ``db`` (the server's), else the settings' database; the
    approvals file of an earlier Ponder in the data directory is taken in once."""
    from ponder.store import open_database

    store = ApprovalStore(db if db is not None else open_database(settings.database))
    store.import_file(settings.data_dir / APPROVALS_FILE)
    return store


_SEEN: Final = ""  # the row that marks a server seen (its tools may be none)


def _rows(db: Connection, server: str) -> list[dict[str, Any]]:
    found = db.execute(
        sql("SELECT tool, sha256, description, input_schema FROM mcp_approvals WHERE server = :server"),
        {"server": server},
    ).mappings()
    return [{**r, "input_schema": json.loads(r["input_schema"])} for r in found]


def _upsert(
    db: Connection, server: str, tool: str, digest: str, description: str, schema: Any, at: str
) -> None:
    db.execute(
        sql(
            "INSERT INTO mcp_approvals (server, tool, sha256, description, input_schema, approved_at) "
            "VALUES (:server, :tool, :sha, :description, :schema, :at) ON CONFLICT (server, tool) DO UPDATE "
            "SET sha256 = excluded.sha256, description = excluded.description, "
            "input_schema = excluded.input_schema, approved_at = excluded.approved_at"
        ),
        {
            "server": server,
            "tool": tool,
            "sha": digest,
            "description": description,
            "schema": json.dumps(schema, sort_keys=True),
            "at": at,
        },
    )


def _unreadable(path: Path, why: object) -> ConfigError:
    return ConfigError(
        f"The MCP approvals file {path} cannot be read ({why}). Fix it, or delete it: its approvals are "
        "then not taken into the database, and every configured server's tools are trusted again the next "
        "time Ponder lists them."
    )


def _differences(record: dict[str, Any], definition: ToolDefinition) -> tuple[str, ...]:
    changed = []
    if record.get("description") != definition.description:
        changed.append("description")
    if record.get("input_schema") != definition.input_schema:
        changed.append("input schema")
    return tuple(changed) or ("definition",)

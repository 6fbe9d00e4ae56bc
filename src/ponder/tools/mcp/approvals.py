"""Approval of MCP tool definitions by hash, so a server cannot change what the model is told unseen.

A tool definition is what the model reads: its name, description and input schema. Its hash is the sha256
of that triple as canonical JSON (sorted keys, no spaces, UTF-8). The store keeps, per configured server,
the hash and the definition of every approved tool, in one small JSON file written atomically (a
temporary file in the same directory, then a rename), by default ``<data dir>/mcp-approvals.json``::

    {"version": 1,
     "servers": {"files": {"read_file": {"sha256": "9f2c...", "approved_at": "2026-01-02T03:04:05+00:00",
                                         "description": "...", "input_schema": {...}}}}}

Reviewing a server's current tools against the store gives each one a status:

- ``approved``: same hash as the approval on record;
- ``changed``: approved once, but its description or input schema is different now;
- ``new``: the server has approvals on record, but not for this tool (it appeared later);
- ``unseen``: the server has no approvals on record at all (Ponder has never listed its tools).

The policy that acts on these lives in the toolset (trust on first use per server); this module only
compares and records. It reads the file afresh on every review, so an approval given from another
process (``ponder mcp approve``) counts at the next listing. Two processes approving at the same instant
may lose one of the two writes; the tool is then simply reported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ponder.errors import ConfigError

__all__ = ["APPROVALS_FILE", "ApprovalStore", "Review", "Status", "ToolDefinition"]

APPROVALS_FILE = "mcp-approvals.json"
_VERSION = 1

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
    """Approved tool definitions, per server, in a JSON file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def review(self, server: str, definitions: Sequence[ToolDefinition]) -> list[Review]:
        """The status of each of ``definitions`` (the tools ``server`` offers now), in the same order."""
        approved = self._load()["servers"].get(server)
        reviews = []
        for definition in definitions:
            record = approved.get(definition.name) if approved is not None else None
            if approved is None:
                reviews.append(Review(definition, "unseen"))
            elif record is None:
                reviews.append(Review(definition, "new"))
            elif record.get("sha256") == definition.sha256():
                reviews.append(Review(definition, "approved"))
            else:
                reviews.append(Review(definition, "changed", _differences(record, definition)))
        return reviews

    def knows(self, server: str) -> bool:
        """Whether ``server`` has approvals on record (even none: it offered no tools when first seen)."""
        return server in self._load()["servers"]

    def approve(self, server: str, definitions: Sequence[ToolDefinition]) -> None:
        """Record ``definitions`` as approved for ``server`` (an empty list still marks the server seen)."""
        data = self._load()
        tools = data["servers"].setdefault(server, {})
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for definition in definitions:
            tools[definition.name] = {
                "sha256": definition.sha256(),
                "approved_at": now,
                "description": definition.description,
                "input_schema": definition.input_schema,
            }
        self._save(data)

    def _load(self) -> dict[str, Any]:
        # {"version": 1, "servers": {server: {tool name: {"sha256": ..., "approved_at": ..., ...}}}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": _VERSION, "servers": {}}
        except (OSError, ValueError) as err:
            raise self._unreadable(err) from None
        servers = data.get("servers") if isinstance(data, dict) else None
        if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
            raise self._unreadable("no 'servers' table of tables")
        return data  # type: ignore[no-any-return]

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=2, sort_keys=True, ensure_ascii=False)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _unreadable(self, why: object) -> ConfigError:
        return ConfigError(
            f"The MCP approvals file {self.path} cannot be read ({why}). Fix it, or delete it: every "
            "configured server's tools are then trusted again the next time Ponder lists them."
        )


def _differences(record: dict[str, Any], definition: ToolDefinition) -> tuple[str, ...]:
    changed = []
    if record.get("description") != definition.description:
        changed.append("description")
    if record.get("input_schema") != definition.input_schema:
        changed.append("input schema")
    return tuple(changed) or ("definition",)

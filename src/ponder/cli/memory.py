"""``ponder memory``, ``ponder sessions`` and ``ponder forget-me``: what Ponder keeps about a person, in
their hands. Everything here is the local account's (``--user``, default ``me``); the server has the same
operations per API key account (``/v1/memories``, ``/v1/sessions``, ``DELETE /v1/users/{user}``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from ponder.config import Settings
from ponder.errors import UserError
from ponder.memory.memories import TOPICS, Memory
from ponder.memory.owner import DEFAULT_USER, LOCAL_ACCOUNT, Owner
from ponder.memory.service import MemoryService
from ponder.store import open_database

from .context import CliContext
from .render import err_console, write_json, write_stdout

__all__ = ["forget_me", "memory", "sessions"]

F = TypeVar("F", bound=Callable[..., Any])


def _who(func: F) -> F:
    func = click.option("--project", default="", help="The project (memories: its own and project-less).")(
        func
    )
    return click.option("--user", default=DEFAULT_USER, show_default=True, help="Whose data.")(func)


@contextlib.contextmanager
def _service(settings: Settings, obj: CliContext) -> Iterator[MemoryService]:
    db = open_database(settings.database)
    try:
        yield MemoryService(db, settings.memory, obj.embedder)
    finally:
        db.close()


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _json(data: Any) -> None:
    write_json(data)


# --- ponder memory ------------------------------------------------------------------------------------


@click.group()
def memory() -> None:
    """What Ponder remembers about you: list, add, forget, export, confirm."""


@memory.command("list")
@_who
@click.option("--all", "show_all", is_flag=True, help="Also the facts that newer ones replaced.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_memories(obj: CliContext, user: str, project: str, show_all: bool, as_json: bool) -> None:
    """The memories kept about USER; pending ones wait for your confirmation."""
    statuses = ("active", "pending", "superseded") if show_all else ("active", "pending")
    with _service(obj.settings(), obj) as service:
        found = service.memories.list_memories(Owner(LOCAL_ACCOUNT, user, project), statuses=statuses)
    if as_json:
        _json([m.to_dict() for m in found])
        return
    if not found:
        err_console.print(f"Nothing is remembered about {user}.", style="dim", markup=False)
    for m in found:
        write_stdout(_line(m) + "\n")


def _line(m: Memory) -> str:
    status = "" if m.status == "active" else f" [{m.status}]"
    source = f" · session {m.source_session} turn {m.source_turn}" if m.source_session else ""
    project = f" · project {m.project}" if m.project else ""
    return f"{m.id:>5}  {m.text}{status}  ({m.topic}, {m.origin}, {_when(m.updated_at)}{source}{project})"


@memory.command("add")
@click.argument("text")
@_who
@click.option("--topic", type=click.Choice(TOPICS), default="other", show_default=True)
@click.option("--slot", default="", help="What it is about (a newer fact in the same slot replaces it).")
@click.pass_obj
def add(obj: CliContext, text: str, user: str, project: str, topic: str, slot: str) -> None:
    """Remember TEXT about USER, as if they had said it."""
    with _service(obj.settings(), obj) as service:
        change = service.memories.add(Owner(LOCAL_ACCOUNT, user, project), text, topic, slot)
    replaced = f" (replaces {change.replaced.id}: {change.replaced.text})" if change.replaced else ""
    write_stdout(f"{change.action} {change.memory.id}: {change.memory.text}{replaced}\n")


@memory.command("forget")
@click.argument("memory_id", required=False, type=int)
@_who
@click.option("--all", "everything", is_flag=True, help="Forget every memory of USER.")
@click.pass_obj
def forget(obj: CliContext, memory_id: int | None, user: str, project: str, everything: bool) -> None:
    """Forget one memory (by its id from `ponder memory list`), or --all of them."""
    if (memory_id is None) == (not everything):
        raise click.UsageError("Give a memory id, or --all.")
    owner = Owner(LOCAL_ACCOUNT, user, project)
    with _service(obj.settings(), obj) as service:
        if everything:
            write_stdout(f"forgot {service.memories.forget_all(owner)} memories of {user}\n")
            return
        assert memory_id is not None
        gone = service.memories.forget(owner, memory_id)
    write_stdout(f"forgot {gone.id}: {gone.text}\n")


@memory.command("confirm")
@click.argument("memory_id", type=int)
@_who
@click.pass_obj
def confirm(obj: CliContext, memory_id: int, user: str, project: str) -> None:
    """Confirm a pending memory (one that came from a tool or other content you did not write)."""
    with _service(obj.settings(), obj) as service:
        change = service.memories.confirm(Owner(LOCAL_ACCOUNT, user, project), memory_id)
    write_stdout(f"{change.action} {change.memory.id}: {change.memory.text}\n")


@memory.command("export")
@_who
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_obj
def export(obj: CliContext, user: str, project: str, output: Path | None) -> None:
    """Everything remembered about USER (replaced facts included), as JSON."""
    with _service(obj.settings(), obj) as service:
        data = service.memories.export(Owner(LOCAL_ACCOUNT, user, project))
    if output is None:
        write_json(data)
        return
    output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    err_console.print(f"wrote {len(data['memories'])} memories to {output}", style="dim", markup=False)


# --- ponder sessions ----------------------------------------------------------------------------------


@click.group()
def sessions() -> None:
    """Stored conversations: list, show, delete. Resume one with ponder chat --session ID."""


@sessions.command("list")
@_who
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_sessions(obj: CliContext, user: str, project: str, limit: int, as_json: bool) -> None:
    """USER's sessions, most recent first."""
    with _service(obj.settings(), obj) as service:
        found = service.sessions.list_sessions(Owner(LOCAL_ACCOUNT, user, project), limit)
    if as_json:
        _json([s.to_dict() for s in found])
        return
    if not found:
        err_console.print(f"{user} has no sessions.", style="dim", markup=False)
    for s in found:
        write_stdout(f"{s.id}  {_when(s.updated_at)}  {s.turns:>3} turns  {s.title}\n")


@sessions.command("show")
@click.argument("session_id")
@_who
@click.option("--all", "show_all", is_flag=True, help="Every stored message, earlier versions of edits too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: CliContext, session_id: str, user: str, project: str, show_all: bool, as_json: bool) -> None:
    """The conversation of SESSION_ID."""
    owner = Owner(LOCAL_ACCOUNT, user, project)
    with _service(obj.settings(), obj) as service:
        info = service.sessions.info(owner, session_id)
        stored = (service.sessions.transcript if show_all else service.sessions.history)(owner, session_id)
    if as_json:
        _json(info.to_dict() | {"messages": [m.to_dict() for m in stored]})
        return
    for m in stored:
        label = m.message.role
        text = m.message.text or ", ".join(f"{c.name}({c.arguments})" for c in m.message.tool_calls)
        write_stdout(f"{label}> {text}\n")


@sessions.command("delete")
@click.argument("session_id")
@_who
@click.pass_obj
def delete(obj: CliContext, session_id: str, user: str, project: str) -> None:
    """Delete SESSION_ID and every message in it."""
    with _service(obj.settings(), obj) as service:
        gone = service.sessions.delete(Owner(LOCAL_ACCOUNT, user, project), session_id)
    write_stdout(f"deleted session {session_id} ({gone} messages)\n")


# --- ponder forget-me ---------------------------------------------------------------------------------


@click.command("forget-me")
@click.option("--user", default=DEFAULT_USER, show_default=True, help="Whose data.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def forget_me(obj: CliContext, user: str, yes: bool) -> None:
    """Delete everything stored about USER: sessions, memories, interest signals. It cannot be undone."""
    owner = Owner(LOCAL_ACCOUNT, user)
    if not yes and not click.confirm(
        f"Delete every session, memory and interest signal of {user}? This cannot be undone", err=True
    ):
        raise UserError("Nothing was deleted.")
    with _service(obj.settings(), obj) as service:
        deleted = service.users.forget(owner)
    counts = ", ".join(f"{n} {table}" for table, n in deleted.items() if n)
    write_stdout(f"forgot {user}: {counts or 'nothing was stored'}\n")

"""``ponder interests``: record interest events, import them in bulk, and see the profile they make.

The commands work on the data directory's database (or ``database_url``), like ``ponder keys``, in the
local account unless ``--account`` names another. Only ``show`` embeds (the profile embedding, with the
context's embedder or the shipped E5 model, loaded on first use); the other commands never load a model.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from ponder.config import Settings
from ponder.memory.embeddings import E5Embedder
from ponder.memory.interests import KINDS, InterestStore
from ponder.memory.owner import LOCAL_ACCOUNT, Owner
from ponder.store import open_database

from .context import CliContext
from .render import write_json, write_stdout

__all__ = ["interests"]

_ACCOUNT = click.option(
    "--account", default=LOCAL_ACCOUNT, show_default=True, help="The account the user belongs to."
)


@click.group()
def interests() -> None:
    """Interest signals: events (view, like, save, follow, share, purchase, dismiss) and each user's
    profile of liked and disliked categories and items, weighted by kind and fading with time."""


@interests.command("add")
@click.argument("user")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("item")
@click.option("--category", default="", help="The item's category (shoes, books, ...).")
@click.option("--text", default="", help="What the item is, in words: the profile embedding reads it.")
@_ACCOUNT
@click.pass_obj
def add(obj: CliContext, user: str, kind: str, item: str, category: str, text: str, account: str) -> None:
    """Record that USER did KIND to ITEM, now (the user is created by their first event)."""
    owner = Owner(account, user)
    with _store(obj) as store:
        store.record(owner, [{"kind": kind, "item": item, "category": category, "text": text}])
    click.echo(f"recorded {kind} '{item}' for {owner}", err=True)


@interests.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ACCOUNT
@click.option("--user", default=None, help="The user of lines that name none.")
@click.pass_obj
def import_events(obj: CliContext, file: Path, account: str, user: str | None) -> None:
    """Import FILE, one JSON event per line: {"user", "kind", "item", "category", "text", "at"}.

    Every line is checked first: if any is bad, they are all listed (the first 20) and nothing is imported.
    A file over [memory] max_import_bytes (50 MiB) is refused unread; one of over a million events, as
    soon as the count passes it.
    """
    settings = obj.settings()
    with _store(obj, settings) as store:
        limit = settings.memory.max_import_bytes
        summary = store.import_jsonl(account, file, default_user=user, max_bytes=limit)
    who = ", ".join(f"{name} ({count})" for name, count in summary.users.items())
    click.echo(f"imported {summary.events} events into account '{account}': {who}", err=True)


@interests.command("show")
@click.argument("user")
@_ACCOUNT
@click.option("--top", default=5, show_default=True, type=click.IntRange(1), help="Entries per list.")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
@click.pass_obj
def show(obj: CliContext, user: str, account: str, top: int, as_json: bool) -> None:
    """Explain USER's interest profile: top categories and items, what drove them, and dislikes."""
    with _store(obj) as store:
        profile = store.profile(Owner(account, user))
    if as_json:
        write_json(profile.to_dict(top))
        return
    write_stdout("\n".join(profile.explain(top)) + "\n")


@interests.command("events")
@click.argument("user")
@_ACCOUNT
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1), help="How many, newest first."
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_obj
def events(obj: CliContext, user: str, account: str, limit: int, as_json: bool) -> None:
    """List USER's newest events."""
    with _store(obj) as store:
        found = store.events(Owner(account, user), limit)
    if as_json:
        write_json([dataclasses.asdict(e) for e in found])
        return
    if not found:
        click.echo(f"No events for {user}.", err=True)
    for e in found:
        where = f"  ({e.category})" if e.category else ""
        write_stdout(f"{_when(e.at)}  {e.kind:<8}  {e.item}{where}\n")


@contextlib.contextmanager
def _store(obj: CliContext, settings: Settings | None = None) -> Iterator[InterestStore]:
    db = open_database((settings or obj.settings()).database)
    try:
        yield InterestStore(db, obj.embedder or E5Embedder())
    finally:
        db.close()


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

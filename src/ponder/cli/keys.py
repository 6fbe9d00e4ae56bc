"""``ponder keys``: create, list and revoke the API keys of ``ponder serve``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from ponder.errors import UserError
from ponder.store import KeyStore, open_database

from .context import CliContext
from .render import write_stdout

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """API keys: each belongs to an account and a tier (limits). The key is shown once, at creation."""


@keys.command("create")
@click.option("--account", default="default", show_default=True, help="The account the key belongs to.")
@click.option("--tier", default="free", show_default=True, help="A tier from [server.tiers] in the config.")
@click.option("--name", default="", help="A label, to recognise the key in a list.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@click.pass_obj
def create(obj: CliContext, account: str, tier: str, name: str, as_json: bool) -> None:
    """Create a key and print it (it is stored only as a hash: keep it now)."""
    settings = obj.settings()
    if tier not in settings.server.tiers:
        raise UserError(f"Unknown tier '{tier}'. Tiers: {', '.join(sorted(settings.server.tiers))}.")
    db = open_database(settings.database_path)
    try:
        key, secret = KeyStore(db).create(account, tier, name)
    finally:
        db.close()
    if as_json:
        write_stdout(json.dumps({"key": secret, "id": key.id, "account": account, "tier": tier}) + "\n")
        return
    write_stdout(secret + "\n")
    click.echo(
        f"key {key.id} for account '{account}', tier '{tier}': store it now, it is not shown again", err=True
    )


@keys.command("list")
@click.option("--account", default=None, help="Only this account's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def list_keys(obj: CliContext, account: str | None, as_json: bool) -> None:
    """List keys (never the keys themselves: their id, prefix, account, tier and state)."""
    settings = obj.settings()
    db = open_database(settings.database_path)
    try:
        found = KeyStore(db).list_keys(account)
    finally:
        db.close()
    rows = [
        {
            "id": k.id,
            "prefix": k.prefix,
            "account": k.account,
            "tier": k.tier,
            "name": k.name,
            "created": _when(k.created_at),
            "revoked": _when(k.revoked_at) if k.revoked_at else None,
        }
        for k in found
    ]
    if as_json:
        write_stdout(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        click.echo("No keys. Create one with `ponder keys create --account NAME --tier free`.", err=True)
    for r in rows:
        state = f"revoked {r['revoked']}" if r["revoked"] else "active"
        write_stdout(f"{r['id']}  {r['prefix']}…  {r['account']}  {r['tier']}  {state}  {r['name']}\n")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def revoke(obj: CliContext, key_id: str) -> None:
    """Revoke a key by its id (or prefix); it stops working at once, on every server sharing the database."""
    settings = obj.settings()
    db = open_database(settings.database_path)
    try:
        key = KeyStore(db).revoke(key_id)
    finally:
        db.close()
    click.echo(f"revoked {key.id} ({key.account}, {key.tier})", err=True)


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

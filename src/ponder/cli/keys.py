"""``ponder keys``: create, list and revoke the API keys of ``ponder serve``.

An account key is the store's own client (it acts for any user of the account). ``--ucp-agent PROFILE_URL``
creates an outside shopping agent's credential instead: the UCP routes only, with that platform profile only,
and never a customer's saved data or confirmation (server/ucp/).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import click

from ponder.config import Settings
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
@click.option(
    "--ucp-agent",
    "agent_profile",
    default=None,
    metavar="PROFILE_URL",
    help="A shopping agent's credential, for the UCP routes only, tied to this platform profile URL.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@click.pass_obj
def create(
    obj: CliContext, account: str, tier: str, name: str, agent_profile: str | None, as_json: bool
) -> None:
    """Create a key and print it (it is stored only as a hash: keep it now)."""
    settings = obj.settings()
    if tier not in settings.server.tiers:
        raise UserError(f"Unknown tier '{tier}'. Tiers: {', '.join(sorted(settings.server.tiers))}.")
    with _store(settings) as store:
        key, secret = store.create(account, tier, name, agent_profile=agent_profile)
    if as_json:
        record = {"key": secret, "id": key.id, "account": account, "tier": tier, "kind": key.kind}
        write_stdout(json.dumps(record | ({"profile": key.profile} if key.is_agent else {})) + "\n")
        return
    write_stdout(secret + "\n")
    what = f"UCP agent credential for {key.profile}" if key.is_agent else "key"
    click.echo(
        f"{what} {key.id} for account '{account}', tier '{tier}': store it now, it is not shown again",
        err=True,
    )


@keys.command("list")
@click.option("--account", default=None, help="Only this account's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_obj
def list_keys(obj: CliContext, account: str | None, as_json: bool) -> None:
    """List keys (never the keys themselves: their id, prefix, account, tier and state)."""
    with _store(obj.settings()) as store:
        found = store.list_keys(account)
    rows = [
        {
            "id": k.id,
            "prefix": k.prefix,
            "account": k.account,
            "tier": k.tier,
            "kind": k.kind,
            "profile": k.profile,
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
        kind = f"ucp-agent {r['profile']}" if r["kind"] == "ucp_agent" else "account"
        line = f"{r['id']}  {r['prefix']}…  {r['account']}  {r['tier']}  {kind}  {state}  {r['name']}"
        write_stdout(line + "\n")


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def revoke(obj: CliContext, key_id: str) -> None:
    """Revoke a key by its id (or prefix); it stops working at once, on every server sharing the database."""
    with _store(obj.settings()) as store:
        key = store.revoke(key_id)
    click.echo(f"revoked {key.id} ({key.account}, {key.tier})", err=True)


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[KeyStore]:
    db = open_database(settings.database)
    try:
        yield KeyStore(db)
    finally:
        db.close()


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

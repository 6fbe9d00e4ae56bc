"""``ponder channels``: the messaging channels of the config file (``[[channels]]``).

    ponder channels list                  each channel, its platform and store, what its inbox and outbox hold
    ponder channels register NAME URL     point the platform at ``URL/channels/NAME/webhook``: Telegram's
                                          setWebhook with the channel's secret token; for WhatsApp and
                                          Messenger, what to enter in the Meta app's dashboard

The server answers and sends (``ponder serve``); these commands only read and register.
"""

from __future__ import annotations

import asyncio

import click
import httpx

from ponder.channels.base import SendFailed
from ponder.channels.service import build_channel
from ponder.config import ChannelConfig
from ponder.errors import UserError
from ponder.store import open_database
from ponder.store.database import sql

from .context import CliContext
from .render import err_console, write_stdout

__all__ = ["channels"]


@click.group()
def channels() -> None:
    """Messaging channels: WhatsApp, Messenger and Telegram threads answered by ``ponder serve``."""


def _configured(obj: CliContext, name: str) -> ChannelConfig:
    for config in obj.settings().channels:
        if config.name == name:
            return config
    raise UserError(f"No channel '{name}' in the config file's [[channels]].")


@channels.command("list")
@click.pass_obj
def channels_list(obj: CliContext) -> None:
    """Each configured channel, with its messages waiting and its replies queued, failed or uncertain."""
    settings = obj.settings()
    if not settings.channels:
        err_console.print("no [[channels]] in the config file", style="dim")
        return
    db = open_database(settings.database)
    try:
        with db.reading() as conn:
            for config in settings.channels:
                where = {"c": config.name}
                waiting = conn.execute(
                    sql("SELECT COUNT(*) FROM channel_inbox WHERE channel = :c AND state = 'new'"), where
                ).scalar_one()
                counts: dict[str, int] = dict(
                    conn.execute(
                        sql("SELECT state, COUNT(*) FROM channel_outbox WHERE channel = :c GROUP BY state"),
                        where,
                    ).all()
                )
                uncertain = conn.execute(
                    sql("SELECT COALESCE(SUM(uncertain), 0) FROM channel_outbox WHERE channel = :c"), where
                ).scalar_one()
                to_send = counts.get("queued", 0) + counts.get("sending", 0)
                write_stdout(
                    f"{config.name}\t{config.platform}\tstore {config.account}\t{waiting} to answer\t"
                    f"{to_send} to send\t{counts.get('sent', 0)} sent\t{counts.get('failed', 0)} failed\t"
                    f"{uncertain} uncertain\n"
                )
    finally:
        db.close()


@channels.command("register")
@click.argument("name")
@click.argument("base_url")
@click.pass_obj
def channels_register(obj: CliContext, name: str, base_url: str) -> None:
    """Point the platform at this server's webhook for channel NAME (BASE_URL: where the platform reaches
    ``ponder serve``, https://...)."""
    config = _configured(obj, name)
    url = f"{base_url.rstrip('/')}/channels/{name}/webhook"
    if not url.startswith("https://"):
        err_console.print("note: the platforms only call https:// webhooks", style="yellow")
    if config.platform != "telegram":
        write_stdout(
            f"In the Meta app's dashboard ({config.platform}), set the webhook's callback URL to\n  {url}\n"
            f"and its verify token to the value of ${config.verify_token_env}; subscribe to the messages "
            "field. Meta checks it with a GET that ponder serve answers.\n"
        )
        return
    from ponder.channels.telegram import TelegramChannel

    channel = build_channel(config)
    assert isinstance(channel, TelegramChannel)

    async def register() -> None:
        async with httpx.AsyncClient(timeout=20) as client:
            await channel.register_webhook(client, url)

    try:
        asyncio.run(register())
    except SendFailed as err:
        raise UserError(f"Telegram did not take the webhook: {err}") from None
    err_console.print(f"Telegram sends {name}'s updates to {url}", style="dim")

"""``ponder channels``: the configured channels listed with their inbox and outbox, Telegram's webhook set
with the channel's secret token (against the loopback Bot API), and Meta's steps printed for WhatsApp."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.testing import HashingEmbedder
from ponder.testing.platforms import FakeBotAPI


@pytest.fixture
def bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as fake:
        config = Path(os.environ["XDG_CONFIG_HOME"]) / "ponder" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            '[[channels]]\nname = "tg"\nplatform = "telegram"\n'
            f'base_url = "{fake.base_url}"\ntoken_env = "TG_TOKEN"\nsecret_token_env = "TG_SECRET"\n'
            '[[channels]]\nname = "wa"\nplatform = "whatsapp"\nphone_number_id = "1065"\n'
            'token_env = "WA_TOKEN"\napp_secret_env = "WA_SECRET"\nverify_token_env = "WA_VERIFY"\n'
        )
        monkeypatch.setenv("TG_TOKEN", fake.token)
        monkeypatch.setenv("TG_SECRET", "tg-secret")
        yield fake


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), obj=CliContext(embedder=HashingEmbedder()))
    assert result.exit_code == code, result.output
    return result.output


def test_telegram_is_pointed_at_the_webhook_with_the_secret_token(bot: FakeBotAPI) -> None:
    run("channels", "register", "tg", "https://shop.example.com/")
    assert bot.webhook_url == "https://shop.example.com/channels/tg/webhook"
    assert bot.webhook_secret_token == "tg-secret"
    printed = run("channels", "register", "wa", "https://shop.example.com")
    assert "https://shop.example.com/channels/wa/webhook" in printed and "$WA_VERIFY" in printed
    assert "No channel 'nope'" in run("channels", "register", "nope", "https://x", code=2)


def test_the_channels_are_listed_with_their_queues(bot: FakeBotAPI) -> None:
    listed = run("channels", "list").splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["tg", "telegram"], ["wa", "whatsapp"]]
    assert "0 to answer" in listed[0] and "0 uncertain" in listed[0]

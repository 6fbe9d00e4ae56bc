"""A real ``ponder serve`` app on a loopback port (uvicorn in a thread), with a scripted model and keys.

Memory uses the hashing embedder here (fast, deterministic) unless a test gives another; tests of recall
quality use E5.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from ponder.config import (
    ChannelConfig,
    CommerceConfig,
    McpServerConfig,
    MemoryConfig,
    ServerConfig,
    Settings,
    TierConfig,
    UcpConfig,
)
from ponder.memory.embeddings import Embedder
from ponder.perception import Perception
from ponder.server import create_app
from ponder.store import KeyStore, open_database
from ponder.store.database import BUSY_TIMEOUT_S
from ponder.testing import HashingEmbedder, ScriptedModel


@dataclass
class LiveServer:
    url: str
    model: ScriptedModel
    settings: Settings
    keys: dict[str, str]  # tier -> a key of that tier, account "acme"
    app: Any

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(data_dir: Path, **server: Any) -> Settings:
    tiers = {
        "free": TierConfig(requests_per_minute=5, tokens_per_day=1_000_000),
        "big": TierConfig(requests_per_minute=10_000, tokens_per_day=None),
        "tiny_tokens": TierConfig(requests_per_minute=1000, tokens_per_day=10),
        "dozen": TierConfig(requests_per_minute=12, tokens_per_day=None),
    }
    return Settings(
        data_dir=data_dir,
        model="scripted:default",
        programs=False,
        server=ServerConfig(port=_free_port(), tiers=tiers, **server),
    )


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",  # a synthetic microphone, for the voice turn
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, driven by Playwright; the test is skipped where it is not installed."""
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(
        model: ScriptedModel | None = None,
        perception: Perception | None = None,
        memory: MemoryConfig | None = None,
        ucp: UcpConfig | None = None,
        commerce: CommerceConfig | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        embedder: Embedder | None = None,
        channels: list[ChannelConfig] | None = None,
        mcp_servers: dict[str, McpServerConfig] | None = None,
        **server_options: Any,
    ) -> LiveServer:
        settings = _settings(tmp_path / f"data{len(servers)}", **server_options)
        if memory is not None:
            settings = settings.model_copy(update={"memory": memory})
        if ucp is not None:
            settings = settings.model_copy(update={"ucp": ucp})
        if commerce is not None:
            settings = settings.model_copy(update={"commerce": commerce})
        if channels is not None:
            settings = settings.model_copy(update={"channels": channels})
        if mcp_servers is not None:  # their tools offered in every turn
            settings = settings.model_copy(update={"mcp_servers": mcp_servers, "tools": list(mcp_servers)})
        scripted = model or ScriptedModel()
        db = open_database(settings.database_path, busy_timeout_s=busy_timeout_s)
        store = KeyStore(db)
        keys = {tier: store.create("acme", tier)[1] for tier in settings.server.tiers}
        app = create_app(
            settings,
            model_factory=lambda spec, s: scripted,
            db=db,
            perception=perception,
            embedder=embedder or HashingEmbedder(),
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=settings.server.port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        servers.append((server, thread))
        return LiveServer(f"http://127.0.0.1:{settings.server.port}", scripted, settings, keys, app)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)

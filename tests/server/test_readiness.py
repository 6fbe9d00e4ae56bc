"""Readiness: ``/readyz`` answers 200 when the database and the model backend answer, and 503 naming what
failed (an engine that is down, a Redis that is gone) while ``/healthz`` still says the process lives."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.server.conftest import LiveServer, _free_port

from ponder.config import ServerConfig, Settings
from ponder.models.registry import resolve_model
from ponder.server.metrics import Metrics
from ponder.server.readiness import readiness
from ponder.server.state import ServerState
from ponder.store import open_database
from ponder.testing import HashingEmbedder


def test_a_server_with_its_database_and_model_is_ready(start_server) -> None:
    server: LiveServer = start_server()
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] and checks["database"]["detail"] == "sqlite"
    assert checks["model"]["ok"] and "redis" not in checks
    assert ready.headers["cache-control"] == "no-store"


async def test_an_engine_or_redis_that_is_down_makes_the_replica_unready(tmp_path: Path) -> None:
    engine, limits = _free_port(), _free_port()  # nothing listens on either
    settings = Settings(
        data_dir=tmp_path,
        model=f"openai:http://127.0.0.1:{engine}/v1#qwen",
        programs=False,
        server=ServerConfig(redis_url=f"redis://127.0.0.1:{limits}/0"),
    )
    state = ServerState(
        settings=settings,
        db=open_database(tmp_path / "p.db"),
        model_factory=lambda spec, s: resolve_model(spec, s),
        metrics=Metrics(),
        embedder=HashingEmbedder(),
    )
    try:
        ready, checks = await readiness(state)
    finally:
        await state.aclose()
    assert not ready
    assert checks["database"]["ok"]
    assert not checks["model"]["ok"] and f"127.0.0.1:{engine}" in checks["model"]["detail"]
    assert not checks["redis"]["ok"] and "Redis" in checks["redis"]["detail"]

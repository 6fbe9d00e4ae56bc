"""``ponder serve`` warms its default model before it reports ready: the shopping planner's fixed prompt is
in the model's state when the first request comes; a model that cannot warm never stops the server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi.testclient import TestClient

from ponder.commerce.assistant.mode import planner_prefix
from ponder.config import CommerceConfig, ServerConfig, Settings
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.server import create_app
from ponder.testing import HashingEmbedder, ScriptedModel


class WarmingModel(ScriptedModel):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(default="ok")
        self.warmed: list[list[Message]] = []
        self.fail = fail

    async def warm(self, messages: Sequence[Message], settings: ModelSettings) -> None:
        if self.fail:
            raise RuntimeError("no weights here")
        self.warmed.append(list(messages))


def serve(tmp_path: Path, model: ScriptedModel, **options: object) -> TestClient:
    settings = Settings(data_dir=tmp_path, model="scripted:x", programs=False, **options)  # type: ignore[arg-type]
    app = create_app(settings, model_factory=lambda spec, s: model, embedder=HashingEmbedder())
    return TestClient(app)


def test_the_planner_prompt_is_warmed_before_the_server_is_ready(tmp_path: Path) -> None:
    model = WarmingModel()
    with serve(tmp_path, model) as client:
        assert model.warmed == [planner_prefix()]  # during startup, before any request
        assert client.get("/healthz").status_code == 200


def test_each_stores_policy_prompt_is_warmed_too(tmp_path: Path) -> None:
    from ponder.commerce.model import StoreData

    model = WarmingModel()
    with serve(tmp_path, model) as client:
        client.app.state.ponder.shop.catalog.import_store(
            "acme", StoreData(name="Coast", policy="No refunds.")
        )  # type: ignore[attr-defined]
    again = WarmingModel()
    with serve(tmp_path, again):
        [policy, planner] = again.warmed
        assert "Coast" in policy[0].text and "No refunds." in policy[0].text and planner == planner_prefix()


def test_warming_is_skipped_when_turned_off_or_not_planned_and_a_failure_is_only_logged(
    tmp_path: Path,
) -> None:
    off, tools, failing = WarmingModel(), WarmingModel(), WarmingModel(fail=True)
    with serve(tmp_path / "a", off, server=ServerConfig(warm=False)):
        pass
    with serve(tmp_path / "b", tools, commerce=CommerceConfig(assistant="tools")):
        pass
    with serve(tmp_path / "c", failing) as client:
        assert client.get("/healthz").status_code == 200
    assert off.warmed == [] and tools.warmed == []

"""An API-only install (``pip install .``) refuses a request that needs a part it lacks, saying which extra
installs it: the embedded engine for an embedded model, the voice extra for audio, the vision extra for
reading an image's text. Simulated here by hiding the installed packages from the import system."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ponder.config import ServerConfig, Settings, TierConfig
from ponder.perception import Perception
from ponder.server import create_app
from ponder.store import KeyStore, open_database
from ponder.testing import HashingEmbedder
from ponder.testing.media import render_lines, to_format


def client_for(tmp_path: Path, model: str) -> tuple[TestClient, str]:
    tiers = {"big": TierConfig(requests_per_minute=10_000, tokens_per_day=None)}
    settings = Settings(
        data_dir=tmp_path, model=model, programs=False, server=ServerConfig(tiers=tiers, warm=False)
    )
    db = open_database(settings.database_path)
    key = KeyStore(db).create("acme", "big")[1]
    perception = Perception(settings.perception, settings.models_dir)  # its engines are loaded on first use
    app = create_app(settings, db=db, perception=perception, embedder=HashingEmbedder())
    return TestClient(app), key


def test_an_embedded_model_without_the_engine_is_refused_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if llama-cpp-python were not installed
    client, key = client_for(tmp_path, f"gguf:{weights}")
    with client:
        body = {"model": "ponder-instant", "messages": [{"role": "user", "content": "Hi"}]}
        answer = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 503, answer.text
    assert 'pip install "ponder[embedded]"' in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("hidden", "part", "extra"),
    [
        ("av", {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, "voice"),
        ("rapidocr", "image", "vision"),
    ],
)
def test_media_without_its_extra_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: str, part: object, extra: str
) -> None:
    if part == "image":
        png = to_format(render_lines(["MAPLE STREET"], size=30), "PNG")
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        part = {"type": "image_url", "image_url": {"url": url}}
    monkeypatch.setitem(sys.modules, hidden, None)
    client, key = client_for(tmp_path, "scripted:Hello")
    with client:
        body = {"model": "ponder-instant", "messages": [{"role": "user", "content": [part]}]}
        answer = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 503, answer.text
    assert f'pip install "ponder[{extra}]"' in answer.json()["error"]["message"]

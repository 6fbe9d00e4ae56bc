from pathlib import Path

import pytest

from ponder.config import ConfiguredModel, load_settings
from ponder.errors import UnknownModelError
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.openai_compat import OpenAICompatibleModel
from ponder.models.registry import list_models, resolve_model


def test_embedded_specs_with_and_without_prefix() -> None:
    settings = load_settings(context_length=1024)
    for spec in ("embedded:qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"):
        model = resolve_model(spec, settings)
        assert isinstance(model, EmbeddedModel)
        assert model.name == "embedded:qwen2.5-coder-0.5b"
        assert model.context_length == 1024


def test_context_is_capped_at_what_the_model_was_trained_for() -> None:
    model = resolve_model("embedded:smollm2-135m", load_settings(context_length=100_000))
    assert isinstance(model, EmbeddedModel) and model.context_length == 8192


def test_openai_spec_and_configured_model_with_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOX_KEY", "sk-test")
    settings = load_settings()
    settings.models["box"] = ConfiguredModel(spec="openai:http://box:8000/v1#qwen", api_key_env="BOX_KEY")
    model = resolve_model("box", settings)
    assert isinstance(model, OpenAICompatibleModel)
    assert model.name == "openai:http://box:8000/v1#qwen"
    assert model._api_key == "sk-test"


def test_unknown_specs_list_what_is_known() -> None:
    for spec in ("nonsense", "embedded:gpt-9", "ftp:thing"):
        with pytest.raises(UnknownModelError, match="Known models: embedded:qwen2.5-coder-1.5b"):
            resolve_model(spec, load_settings())


async def test_list_models_reports_configured_models_and_missing_files(tmp_path: Path) -> None:
    settings = load_settings()
    settings.models["local"] = ConfiguredModel(spec=f"gguf:{tmp_path / 'none.gguf'}")
    settings.models["down"] = ConfiguredModel(spec="openai:http://127.0.0.1:9/v1#m", api_key_env="UNSET_VAR")
    settings.models["bad"] = ConfiguredModel(spec="openai:nohost#m")
    infos = {i.spec: i for i in await list_models(settings)}
    assert infos["local"].ready is False and "No GGUF file" in infos["local"].detail
    assert infos["down"].ready is False and "Cannot reach" in infos["down"].detail
    assert "UNSET_VAR is not set" in infos["down"].detail
    assert infos["bad"].ready is False and "http://" in infos["bad"].detail
    assert infos["embedded:smollm2-135m"].backend == "embedded"


async def test_scripted_spec_answers_forever() -> None:
    from ponder.messages import Message
    from ponder.models.base import ModelSettings
    from ponder.testing import ScriptedModel

    model = resolve_model("scripted:hello there", load_settings())
    assert isinstance(model, ScriptedModel)
    for _ in range(3):
        reply = await model.request([Message.user("q")], ModelSettings())
        assert reply.message.text == "hello there"
    slow = resolve_model("scripted:a b c?delay_s=0.01", load_settings())
    deltas = [
        e
        for e in [x async for x in slow.stream([Message.user("q")], ModelSettings())]
        if e.kind == "text_delta"
    ]
    assert [d.text for d in deltas] == ["a", " b", " c"]
    with pytest.raises(UnknownModelError, match="delay_s"):
        resolve_model("scripted:x?delay_s=soon", load_settings())


def test_a_configured_vision_model_takes_images_itself() -> None:
    settings = load_settings()
    settings.models["eyes"] = ConfiguredModel(spec="openai:http://box:8000/v1#qwen-vl", vision=True)
    settings.models["blind"] = ConfiguredModel(spec="openai:http://box:8000/v1#qwen")
    assert resolve_model("eyes", settings).accepts_images
    assert not resolve_model("blind", settings).accepts_images
    assert not resolve_model("embedded:smollm2-135m", settings).accepts_images


def test_embedded_models_keep_prefix_states_under_the_data_dir_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_settings()
    model = resolve_model("embedded:smollm2-135m", settings)
    assert isinstance(model, EmbeddedModel) and model.prefixes is not None
    assert model.prefixes.directory == settings.data_dir / "prefix-cache"
    assert model.prefixes.max_bytes == 512 << 20 and model.prefixes.min_tokens == 256

    monkeypatch.setenv("PONDER_PREFIX_CACHE__DIRECTORY", str(tmp_path / "kv"))
    monkeypatch.setenv("PONDER_PREFIX_CACHE__MAX_MB", "64")
    model = resolve_model("embedded:smollm2-135m", load_settings())
    assert isinstance(model, EmbeddedModel) and model.prefixes is not None
    assert model.prefixes.directory == tmp_path / "kv" and model.prefixes.max_bytes == 64 << 20

    monkeypatch.setenv("PONDER_PREFIX_CACHE__ENABLED", "false")
    model = resolve_model("embedded:smollm2-135m", load_settings())
    assert isinstance(model, EmbeddedModel) and model.prefixes is None

"""EmbeddedModel names a prompt's system turn as the stable prefix kept on disk (real GGUFs: SmolLM2-135M,
and Qwen2.5-Coder-0.5B, whose template puts the tools inside the system turn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.catalog import EmbeddedModelSpec, find_embedded
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.models.embedded.weights import missing_parts

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

SYSTEM = Message.system(
    "You are the assistant of a small shop that sells linen shirts, wool socks and leather shoes. " * 20
)
GREEDY = ModelSettings(max_tokens=20, temperature=0.0, seed=3)
STOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_stock",
        "description": "How many of a product are in stock, per size.",
        "parameters": {
            "type": "object",
            "properties": {"product_id": {"type": "string"}, "size": {"type": "string"}},
            "required": ["product_id"],
        },
    },
}


def _spec(name: str) -> EmbeddedModelSpec:
    spec = find_embedded(name)
    assert spec is not None
    if missing_parts(spec):
        pytest.skip(f"{name} is not installed ({spec.install_hint})")
    return spec


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


async def _ask(
    spec: EmbeddedModelSpec, models_dir: Path, store: PrefixStore | None, messages: list[Message]
) -> tuple[str, int | None, str | None]:
    """A fresh model's greedy answer, and how its engine got the prefix: (text, prefix tokens, source)."""
    model = EmbeddedModel(spec=spec, models_dir=models_dir, context_length=2048, prefixes=store)
    try:
        response = await model.request(messages, GREEDY)
        report = (await model.load()).last_prefix
    finally:
        await model.aclose()
    return response.message.text, report.tokens if report else None, report.source if report else None


async def test_a_fresh_model_restores_the_system_turn_and_answers_the_same(
    models_dir: Path, tmp_path: Path
) -> None:
    spec = _spec("smollm2-135m")
    store = PrefixStore(tmp_path / "cache")
    messages = [SYSTEM, Message.user("What do you sell?")]
    answer, prefix, source = await _ask(spec, models_dir, store, messages)
    assert source == "evaluated" and prefix is not None
    again, restored, source = await _ask(spec, models_dir, store, messages)
    assert (again, restored, source) == (answer, prefix, "disk")
    plain, _, source = await _ask(spec, models_dir, None, messages)
    assert plain == answer and source is None

    _, restored, source = await _ask(spec, models_dir, store, [SYSTEM, Message.user("Any socks?")])
    assert (restored, source) == (prefix, "disk")  # the same system turn under another question


async def test_without_a_system_message_nothing_is_stored(models_dir: Path, tmp_path: Path) -> None:
    spec = _spec("smollm2-135m")
    store = PrefixStore(tmp_path / "cache")
    long_question = Message.user("Tell me about linen shirts and wool socks. " * 40)
    _, prefix, source = await _ask(spec, models_dir, store, [long_question])
    assert prefix is None and source is None
    assert not store.directory.exists()


async def test_warm_stores_the_system_turn_for_the_next_process(models_dir: Path, tmp_path: Path) -> None:
    spec = _spec("smollm2-135m")
    store = PrefixStore(tmp_path / "cache")
    model = EmbeddedModel(spec=spec, models_dir=models_dir, context_length=2048, prefixes=store)
    try:
        report = await model.warm([SYSTEM], GREEDY)
        assert report is not None and report.source == "evaluated" and report.state_bytes > 0
        assert await model.warm([Message.user("hi")], GREEDY) is None
    finally:
        await model.aclose()
    _, prefix, source = await _ask(spec, models_dir, store, [SYSTEM, Message.user("What do you sell?")])
    assert (prefix, source) == (report.tokens, "disk")


async def test_qwen_tools_sit_inside_the_stored_system_turn(models_dir: Path, tmp_path: Path) -> None:
    spec = _spec("qwen2.5-coder-0.5b")
    store = PrefixStore(tmp_path / "cache")
    tools = ModelSettings(max_tokens=1, temperature=0.0, tools=(STOCK_TOOL,))
    messages = [Message.system("You help the customers of a shoe shop. " * 30), Message.user("Size 42?")]
    model = EmbeddedModel(spec=spec, models_dir=models_dir, context_length=2048, prefixes=store)
    try:
        await model.request(messages, tools)
        engine = await model.load()
        report = engine.last_prefix
        assert report is not None and report.source == "evaluated"
        prompt = await model.prompt_tokens(messages, tools)
        prefix_text = bytes(engine.llm.detokenize(prompt[: report.tokens], special=True)).decode()
    finally:
        await model.aclose()
    assert prefix_text.startswith("<|im_start|>system\nYou help the customers")
    assert "lookup_stock" in prefix_text and prefix_text.endswith("<|im_end|>\n")
    assert "Size 42?" not in prefix_text

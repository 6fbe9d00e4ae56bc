"""The embedded backend on a real GGUF (SmolLM2-135M): structure, settings and cancellation, not wording."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from ponder.config import load_settings
from ponder.errors import ContextLengthError, UnknownModelError
from ponder.messages import Message, ResponseDone, TextDelta
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.registry import resolve_model

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

COUNT = [Message.user("Count from 1 to 50, separated by commas.")]


async def test_stream_gives_deltas_then_a_response_with_usage(smollm: EmbeddedModel) -> None:
    events = [e async for e in smollm.stream([Message.user("Say hello.")], ModelSettings(max_tokens=24))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert deltas and isinstance(done, ResponseDone)
    assert done.response.message.text == "".join(d.text for d in deltas)
    usage = done.response.usage
    assert usage.prompt_tokens > 3 and 0 < usage.completion_tokens <= 24
    assert usage.time_to_first_token_s is not None and 0 < usage.time_to_first_token_s < usage.total_time_s
    assert done.response.finish_reason in ("stop", "length")
    assert done.response.model == "embedded:smollm2-135m"


async def test_max_tokens_bounds_the_answer(smollm: EmbeddedModel) -> None:
    response = await smollm.request(COUNT, ModelSettings(max_tokens=5, temperature=0))
    assert response.usage.completion_tokens == 5
    assert response.finish_reason == "length"


async def test_stop_sequence_ends_the_answer_without_showing_it(smollm: EmbeddedModel) -> None:
    response = await smollm.request(COUNT, ModelSettings(max_tokens=120, temperature=0, stop=("7",)))
    assert response.finish_reason == "stop"
    assert "7" not in response.message.text
    assert "6" in response.message.text


async def test_same_seed_same_answer(smollm: EmbeddedModel) -> None:
    settings = ModelSettings(max_tokens=30, temperature=1.0, seed=1234)
    prompt = [Message.user("Invent a name for a cat.")]
    first = await smollm.request(prompt, settings)
    second = await smollm.request(prompt, settings)
    assert first.message.text == second.message.text


async def test_prompt_longer_than_the_context_is_refused(smollm: EmbeddedModel) -> None:
    long = [Message.user("word " * 3000)]
    with pytest.raises(ContextLengthError, match="2048-token context") as info:
        await smollm.request(long, ModelSettings(max_tokens=10))
    assert info.value.prompt_tokens > 2048


async def test_cancelling_stops_decoding_at_once_and_the_engine_stays_usable(smollm: EmbeddedModel) -> None:
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for event in smollm.stream(COUNT, ModelSettings(max_tokens=2000, temperature=0)):
            if isinstance(event, TextDelta):
                first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), timeout=30)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - started < 1.0  # the engine stopped between tokens, not at max_tokens
    response = await smollm.request([Message.user("Say hi.")], ModelSettings(max_tokens=8))
    assert response.usage.completion_tokens > 0


async def test_a_growing_chat_reuses_the_cached_prefix(smollm: EmbeddedModel) -> None:
    convo = [Message.system("You are terse."), Message.user("Name a colour.")]
    first = await smollm.request(convo, ModelSettings(max_tokens=8, temperature=0))
    convo += [first.message, Message.user("Another one.")]
    second = await smollm.request(convo, ModelSettings(max_tokens=8, temperature=0))
    assert second.usage.prompt_tokens > first.usage.prompt_tokens
    assert second.message.text


async def test_gguf_spec_loads_a_file_the_user_brings(smollm_path: Path) -> None:
    model = resolve_model(f"gguf:{smollm_path}", load_settings(context_length=512))
    assert isinstance(model, EmbeddedModel)
    try:
        response = await model.request([Message.user("Hi")], ModelSettings(max_tokens=4))
        assert response.model == f"gguf:{smollm_path}" and response.usage.completion_tokens > 0
    finally:
        await model.aclose()


async def test_gguf_spec_with_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="No GGUF file"):
        resolve_model(f"gguf:{tmp_path / 'nope.gguf'}", load_settings())


async def test_a_logit_bias_bans_a_token_and_log_probabilities_are_the_models(smollm: EmbeddedModel) -> None:
    ask = [Message.user("Name a colour.")]
    seen = await smollm.request(ask, ModelSettings(max_tokens=4, temperature=0, logprobs=2))
    first = seen.details["logprobs"][0]
    assert first["top_logprobs"][0]["token"] == first["token"]  # greedy: the likeliest token was chosen
    engine = smollm._engine
    assert engine is not None
    [token] = engine.llm.tokenize(first["token"].encode(), add_bos=False, special=False)
    banned = await smollm.request(
        ask, ModelSettings(max_tokens=4, temperature=0, logit_bias=((token, -100.0),))
    )
    assert not banned.message.text.startswith(first["token"].strip())
    assert "logprobs" not in banned.details  # none asked for
    penalised = await smollm.request(
        [Message.user("Say 'la' ten times.")],
        ModelSettings(max_tokens=20, temperature=0, frequency_penalty=2.0, presence_penalty=2.0),
    )
    plain = await smollm.request(
        [Message.user("Say 'la' ten times.")], ModelSettings(max_tokens=20, temperature=0)
    )
    assert penalised.message.text.count("la") < plain.message.text.count("la")


async def test_a_structured_answer_keeps_the_schemas_order_of_properties(smollm: EmbeddedModel) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    reply = await smollm.request(
        [Message.user("Maria is 34. Reply in JSON.")],
        ModelSettings(max_tokens=40, temperature=0, json_schema=schema),
    )
    assert list(json.loads(reply.message.text)) == ["name", "age"]

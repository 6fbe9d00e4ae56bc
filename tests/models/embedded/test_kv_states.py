"""Conversations' KV states kept in memory: the store itself, then on a real GGUF (SmolLM2-135M) a
conversation whose KV another prompt pushed out is restored, evaluates only its new tokens and answers the
same as when nothing came in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.models.embedded.engine import GenerationParams, LlamaEngine
from ponder.models.embedded.kv_states import MIN_GAIN, KvStates
from ponder.models.embedded.threads import ThreadAdvisor

from .test_engine import FIXTURE, OTHER_QUESTION, QUESTION, SYSTEM, on_engine, weights  # noqa: F401

GREEDY = GenerationParams(max_tokens=16, temperature=0.0, seed=7)


def test_the_state_sharing_the_longest_prefix_is_found_if_it_saves_enough() -> None:
    states = KvStates()
    a, b = list(range(200)), [*range(100), *range(1000, 1200)]
    states.keep(a, bytearray(10))
    states.keep(b, bytearray(10))
    found = states.best([*range(150), 7, 7], covered=0)
    assert found is not None and found[0].tokens == tuple(a) and found[1] == 150
    assert states.best([*range(150), 7], covered=150 - MIN_GAIN + 1) is None  # not worth a restore
    assert states.best([5, 6, 7], covered=0) is None


def test_a_longer_state_of_the_same_conversation_replaces_the_shorter_and_the_cap_evicts_the_oldest() -> None:
    states = KvStates(max_bytes=25)
    states.keep(list(range(100)), bytearray(10))
    states.keep(list(range(180)), bytearray(10))  # the same conversation, further on
    assert len(states) == 1
    states.keep(list(range(500, 700)), bytearray(10))
    states.keep(list(range(900, 1100)), bytearray(10))  # past the cap: the least recently used goes
    assert len(states) == 2 and states.best(list(range(180)), covered=0) is None
    states.keep(list(range(5000, 5100)), bytearray(26))  # larger than the cap: not kept at all
    assert len(states) == 2


@pytest.fixture
def engines(weights: Path) -> Iterator[list[LlamaEngine]]:  # noqa: F811
    loaded = [
        LlamaEngine(weights, context_length=2048, advisor=ThreadAdvisor(fixed=2), states=states)
        for states in (KvStates(), None)
    ]
    for engine in loaded:
        on_engine(engine, engine.load)
    yield loaded
    for engine in loaded:
        engine.close()


def generate(engine: LlamaEngine, text: str) -> tuple[str, int, int]:
    """(the greedy answer, prompt tokens evaluated, prompt tokens restored)."""
    pieces: list[str] = []
    prompt = engine.tokenize(text, add_bos=False)
    stats = on_engine(engine, engine.generate, prompt, GREEDY, threading.Event(), pieces.append)
    return "".join(pieces), stats.evaluated_tokens, stats.restored_tokens


def test_a_conversation_pushed_out_by_another_prompt_comes_back_from_memory(
    engines: list[LlamaEngine],
) -> None:
    kept, plain = engines
    first = SYSTEM + QUESTION
    answer, _, _ = generate(kept, first)
    generate(
        kept, "<|im_start|>system\nSomething else entirely.<|im_end|>\n" + OTHER_QUESTION
    )  # pushes it out
    again = first + answer + "<|im_end|>\n" + OTHER_QUESTION
    text, evaluated, restored = generate(kept, again)
    whole = len(kept.tokenize(again, add_bos=False))
    assert restored > MIN_GAIN and evaluated < whole - restored + 2  # only the new turn was evaluated
    # the same greedy answer as the conversation gets when nothing comes in between (the KV of its first
    # turn computed the same way: the prompt in one batch, then the answer token by token)
    assert generate(plain, first)[0] == answer
    assert text == generate(plain, again)[0]

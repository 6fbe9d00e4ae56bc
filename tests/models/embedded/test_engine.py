"""The engine's prompt prefix kept on disk, on a real GGUF (SmolLM2-135M): a fresh engine restores it and
evaluates only the rest, with the same greedy answer; damaged or foreign states are never used."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from ponder.models.embedded.catalog import find_embedded
from ponder.models.embedded.engine import GenerationParams, GenerationStats, LlamaEngine
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.models.embedded.threads import ThreadAdvisor
from ponder.models.embedded.weights import ensure_weights, missing_parts

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.integration

FIXTURE = find_embedded("smollm2-135m")
assert FIXTURE is not None
SYSTEM = (
    "<|im_start|>system\n"
    + "You are the assistant of a small shop that sells linen shirts, wool socks and leather shoes. " * 20
    + "<|im_end|>\n"
)
QUESTION = "<|im_start|>user\nWhat do you sell?<|im_end|>\n<|im_start|>assistant\n"
OTHER_QUESTION = "<|im_start|>user\nDo you have socks?<|im_end|>\n<|im_start|>assistant\n"
GREEDY = GenerationParams(max_tokens=24, temperature=0.0, seed=7)
T = TypeVar("T")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if missing_parts(FIXTURE):
        pytest.skip(f"the fixture model is not installed ({FIXTURE.install_hint})")
    return ensure_weights(FIXTURE, tmp_path_factory.mktemp("models"))


@pytest.fixture
def fresh(weights: Path) -> Iterator[Callable[[PrefixStore | None], LlamaEngine]]:
    """Loads a fresh engine (a new context over the same weights), as a new process would."""
    engines: list[LlamaEngine] = []

    def load(store: PrefixStore | None) -> LlamaEngine:
        engine = LlamaEngine(
            weights,
            context_length=2048,
            advisor=ThreadAdvisor(fixed=2),
            prefixes=store,
            weights_id=FIXTURE.sha256,
        )
        on_engine(engine, engine.load)
        engines.append(engine)
        return engine

    yield load
    for engine in engines:
        engine.close()


def on_engine(engine: LlamaEngine, call: Callable[..., T], *args: object) -> T:
    return engine.executor.submit(call, *args).result(timeout=300)


def ask(
    engine: LlamaEngine, system: str = SYSTEM, question: str = QUESTION
) -> tuple[str, GenerationStats, int]:
    """(the greedy answer, its stats, the system turn's length in tokens)."""
    prefix = engine.tokenize(system, add_bos=False)
    prompt = prefix + engine.tokenize(question, add_bos=False)
    params = GenerationParams(**{**GREEDY.__dict__, "prefix_tokens": len(prefix)})
    pieces: list[str] = []
    stats = on_engine(engine, engine.generate, prompt, params, threading.Event(), pieces.append)
    return "".join(pieces), stats, len(prefix)


def test_a_fresh_engine_restores_the_prefix_and_evaluates_only_the_rest(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    first = fresh(store)
    answer, stats, prefix = ask(first)
    assert prefix >= store.min_tokens
    assert first.last_prefix is not None and first.last_prefix.source == "evaluated"
    assert stats.evaluated_tokens == stats.prompt_tokens and stats.restored_tokens == 0
    store.flush(timeout=60)
    assert store.contains(first.identity(), first.tokenize(SYSTEM, add_bos=False))

    second = fresh(store)
    again, stats, _ = ask(second)
    assert second.last_prefix is not None and second.last_prefix.source == "disk"
    assert stats.restored_tokens == prefix
    assert stats.evaluated_tokens == stats.prompt_tokens - prefix  # llama.cpp's own count
    assert again == answer and again.strip()

    uncached, stats, _ = ask(fresh(None))  # no store at all: the whole prompt in one go
    assert stats.evaluated_tokens == stats.prompt_tokens
    assert uncached == answer


def test_a_prefix_already_in_memory_is_neither_loaded_nor_evaluated(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    engine = fresh(PrefixStore(tmp_path / "cache"))
    ask(engine)
    _, stats, prefix = ask(engine, question=OTHER_QUESTION)
    assert engine.last_prefix is not None and engine.last_prefix.source == "memory"
    assert stats.cached_tokens >= prefix and stats.restored_tokens == 0
    assert stats.evaluated_tokens == stats.prompt_tokens - stats.cached_tokens


def test_a_different_prefix_misses_and_gets_its_own_state(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    ask(fresh(store))
    other_system = SYSTEM.replace("linen shirts", "silk scarves")
    engine = fresh(store)
    _, stats, _ = ask(engine, system=other_system)
    assert engine.last_prefix is not None and engine.last_prefix.source == "evaluated"
    assert stats.restored_tokens == 0 and stats.evaluated_tokens == stats.prompt_tokens
    store.flush(timeout=60)
    assert len(list(store.directory.glob("*.kv"))) == 2


def test_a_state_llama_cpp_refuses_is_removed_and_the_prefix_evaluated(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    first = fresh(store)
    answer, _, _ = ask(first)
    store.flush(timeout=60)
    identity, prefix = first.identity(), first.tokenize(SYSTEM, add_bos=False)
    good = store.load(identity, prefix)
    assert good is not None
    # A well-formed file (its checksum right) whose state was cut short when it was taken.
    store.save(identity, prefix, good[: len(good) // 2])

    engine = fresh(store)
    again, stats, _ = ask(engine)
    assert engine.last_prefix is not None and engine.last_prefix.source == "evaluated"
    assert stats.restored_tokens == 0 and stats.evaluated_tokens == stats.prompt_tokens
    assert again == answer
    store.flush(timeout=60)
    assert store.load(identity, prefix) == good  # replaced by the state just evaluated


def test_a_damaged_file_is_ignored_removed_and_rewritten(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    first = fresh(store)
    answer, _, _ = ask(first)
    store.flush(timeout=60)
    path = store.path_for(first.identity(), first.tokenize(SYSTEM, add_bos=False))
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))

    engine = fresh(store)
    again, stats, _ = ask(engine)
    assert engine.last_prefix is not None and engine.last_prefix.source == "evaluated"
    assert stats.restored_tokens == 0 and again == answer
    store.flush(timeout=60)
    assert path.read_bytes() != bytes(data)  # the damaged file went; a good one took its place
    assert store.load(first.identity(), first.tokenize(SYSTEM, add_bos=False)) is not None


def test_warm_stores_a_prefix_that_the_next_fresh_engine_restores(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    engine = fresh(store)
    prefix = engine.tokenize(SYSTEM, add_bos=False)
    report = on_engine(engine, engine.warm, prefix)
    assert report.source == "evaluated" and report.tokens == len(prefix) and report.state_bytes > 0
    assert store.contains(engine.identity(), prefix)  # warm waits for the file
    assert on_engine(engine, engine.warm, prefix).source == "memory"

    restored = fresh(store)
    report = on_engine(restored, restored.warm, prefix)
    assert report.source == "disk" and report.state_bytes > 0
    _, stats, _ = ask(restored)
    assert stats.cached_tokens == len(prefix) and stats.evaluated_tokens == stats.prompt_tokens - len(prefix)


def test_a_prefix_below_the_threshold_is_not_stored(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache", min_tokens=10_000)
    engine = fresh(store)
    ask(engine)
    store.flush(timeout=60)
    assert engine.last_prefix is None
    assert not store.directory.exists() or not list(store.directory.iterdir())


def test_a_cancelled_prefix_stores_nothing_and_leaves_the_engine_usable(
    fresh: Callable[[PrefixStore | None], LlamaEngine], tmp_path: Path
) -> None:
    store = PrefixStore(tmp_path / "cache")
    engine = fresh(store)
    prefix = engine.tokenize(SYSTEM, add_bos=False)
    prompt = prefix + engine.tokenize(QUESTION, add_bos=False)
    params = GenerationParams(**{**GREEDY.__dict__, "prefix_tokens": len(prefix)})
    cancel = threading.Event()
    cancel.set()  # llama.cpp's abort callback stops the prefix's evaluation at its first graph node
    pieces: list[str] = []
    stats = on_engine(engine, engine.generate, prompt, params, cancel, pieces.append)
    assert stats.finish_reason == "cancelled" and pieces == []
    store.flush(timeout=60)
    assert not store.directory.exists() or not list(store.directory.glob("*.kv"))

    answer, _, _ = ask(engine)
    assert engine.last_prefix is not None and engine.last_prefix.source == "evaluated"
    uncached, _, _ = ask(fresh(None))
    assert answer == uncached

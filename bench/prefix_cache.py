"""First token of a fresh process's first shopping request: with an empty prefix cache, and with it filled.

The prompt is a shopping turn as it renders today: the shopping preset's system prompt for the demo store
(prompts/shopping.txt with its name and policy, then prompts/tools.txt, as Instant gives it) and the
shopping toolset's tool schemas, then one question. Each figure comes from a new Python process that loads
the model (not timed) and sends that one request through ``EmbeddedModel.stream``, so the first-token
time is the prefill a person waits for after ``ponder serve`` reports ready:

  empty  -- a fresh cache directory: the system turn is evaluated, then its state written (off the engine's
            thread), then the rest;
  filled -- a new process on the directory the "empty" run filled: the state is read, checked and handed
            to llama.cpp, and only the rest is evaluated.

It also prints the state file's size, how long copying it out of llama.cpp took (on the engine thread),
writing it (synchronously, to a scratch directory), and reading and checking it. The file was just
written, so "filled" reads it from the page cache; a cold disk adds its read time (size / disk speed).

    python bench/prefix_cache.py [--models qwen2.5-coder-1.5b qwen2.5-coder-0.5b] [--trials 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _common import emit, installed_models, median, settings
from ponder.commerce.formats import demo_store_path, load_store
from ponder.commerce.tools import ShoppingTools
from ponder.memory.owner import Owner
from ponder.messages import Message, ResponseDone
from ponder.models.base import ModelSettings
from ponder.models.embedded.backend import EmbeddedModel
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

QUESTION = "Do you have a linen shirt in size M for under 100 dollars?"


def shopping_request() -> tuple[list[Message], ModelSettings]:
    """The messages and settings of a first shopping turn in the demo store, under Instant."""
    store = load_store(demo_store_path())
    # The tools' schemas come from their signatures and docstrings; building them reads only the currency.
    catalog = SimpleNamespace(store_info=lambda _account: {"currency": store.currency})
    tools = ShoppingTools(SimpleNamespace(catalog=catalog), Owner("shop", "bench"), []).toolset()  # type: ignore[arg-type]
    policy = load_prompt("shopping").format(store=store.name, policy=store.policy or "(none given)")
    system = f"{policy}\n\n{load_prompt('tools')}"
    runner = ToolRunner(list(tools.tools))
    model_settings = ModelSettings(max_tokens=1, temperature=0.0, seed=1, tools=runner.definitions())
    return [Message.system(system), Message.user(QUESTION)], model_settings


async def child(name: str, cache: Path) -> dict[str, Any]:
    """One fresh process's first request (run as ``--child``)."""
    [spec] = installed_models([name])
    store = PrefixStore(cache)
    model = EmbeddedModel(
        spec=spec, models_dir=settings().models_dir, context_length=settings().context_length, prefixes=store
    )
    started = time.perf_counter()
    engine = await model.load()
    loaded = time.perf_counter() - started
    messages, model_settings = shopping_request()
    response = None
    async for event in model.stream(messages, model_settings):
        if isinstance(event, ResponseDone):
            response = event.response
    assert response is not None
    report = engine.last_prefix
    flush_started = time.perf_counter()
    store.flush()
    out: dict[str, Any] = {
        "load_s": round(loaded, 2),
        "ttft_s": round(response.usage.time_to_first_token_s or 0.0, 3),
        "prompt_tokens": response.usage.prompt_tokens,
        "prefix_tokens": report.tokens if report else 0,
        "source": report.source if report else None,
        "prefix_s": round(report.seconds, 3) if report else None,  # evaluating it, or restoring it
        "state_bytes": report.state_bytes if report else 0,
        "copy_out_s": round(report.copy_seconds, 3) if report else None,
        "write_wait_after_answer_s": round(time.perf_counter() - flush_started, 3),
    }
    if report is not None and report.source == "evaluated":
        prefix = (await model.prompt_tokens(messages, model_settings))[: report.tokens]
        identity = engine.identity()
        read_started = time.perf_counter()
        state = store.load(identity, prefix)
        out["file_read_check_s"] = round(time.perf_counter() - read_started, 3)
        assert state is not None
        with tempfile.TemporaryDirectory() as scratch:
            write_started = time.perf_counter()
            PrefixStore(Path(scratch)).save(identity, prefix, state)
            out["file_write_s"] = round(time.perf_counter() - write_started, 3)
        out["file_bytes"] = store.path_for(identity, prefix).stat().st_size
    await model.aclose()
    return out


def run_child(name: str, cache: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, str(cache)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(name: str, trials: int) -> dict[str, Any]:
    empty: list[dict[str, Any]] = []
    filled: list[dict[str, Any]] = []
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as cache:
            empty.append(run_child(name, Path(cache)))
            filled.append(run_child(name, Path(cache)))
    assert all(r["source"] == "evaluated" for r in empty) and all(r["source"] == "disk" for r in filled)
    first = empty[0]
    return {
        "model": f"embedded:{name}",
        "prompt_tokens": first["prompt_tokens"],
        "prefix_tokens": first["prefix_tokens"],
        "ttft_fresh_empty_cache_s": round(median([r["ttft_s"] for r in empty]), 2),
        "ttft_fresh_filled_cache_s": round(median([r["ttft_s"] for r in filled]), 2),
        "state_file_mb": round(first["file_bytes"] / 2**20, 1),
        "state_copy_out_s": round(median([r["copy_out_s"] for r in empty]), 3),
        "state_write_s": round(median([r["file_write_s"] for r in empty]), 3),
        "state_read_check_s": round(median([r["file_read_check_s"] for r in empty]), 3),
        "restore_s": round(median([r["prefix_s"] for r in filled]), 3),
        "prefix_eval_s": round(median([r["prefix_s"] for r in empty]), 2),
        "write_wait_after_answer_s": round(median([r["write_wait_after_answer_s"] for r in empty]), 3),
        "model_load_s": round(median([r["load_s"] for r in empty + filled]), 2),
        "trials": trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="*", default=["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"])
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "CACHE_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child[0], Path(args.child[1])))))
        return
    for spec in installed_models(args.models):
        emit("prefix_cache", measure(spec.name, args.trials))


if __name__ == "__main__":
    main()

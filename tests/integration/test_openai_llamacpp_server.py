"""The openai backend against a real OpenAI-compatible server: llama.cpp's own (llama_cpp.server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.messages import Message, ResponseDone, TextDelta
from ponder.models.base import ModelSettings
from ponder.models.openai_compat import OpenAICompatibleModel

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(smollm_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(smollm_path), "--model_alias", "smol"),
            *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--verbose", "false"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 60 s")
            time.sleep(0.2)  # polling a starting process: there is no event to wait on
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_request_against_llama_cpp_server(server: str) -> None:
    model = OpenAICompatibleModel(server, "smol")
    try:
        response = await model.request([Message.user("Say hi.")], ModelSettings(max_tokens=8, seed=1))
    finally:
        await model.aclose()
    assert response.message.text
    assert response.usage.prompt_tokens > 0 and 0 < response.usage.completion_tokens <= 8


async def test_stream_against_llama_cpp_server(server: str) -> None:
    model = OpenAICompatibleModel.from_spec(f"openai:{server}#smol")
    try:
        events = [
            e async for e in model.stream([Message.user("Count to five.")], ModelSettings(max_tokens=16))
        ]
    finally:
        await model.aclose()
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    done = events[-1]
    assert isinstance(done, ResponseDone)
    assert done.response.message.text == "".join(deltas)
    assert done.response.usage.time_to_first_token_s is not None


async def test_probe_tells_a_served_model_from_a_missing_one(server: str) -> None:
    served = OpenAICompatibleModel(server, "smol")
    missing = OpenAICompatibleModel(server, "gpt-99")
    try:
        assert (await served.probe())[0] is True
        ready, detail = await missing.probe()
    finally:
        await served.aclose()
        await missing.aclose()
    assert ready is False and "does not serve 'gpt-99'" in detail and "smol" in detail


def test_models_command_checks_a_configured_server(server: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[models.box]\nspec = "openai:{server}#smol"\n\n[models.typo]\nspec = "openai:{server}#smoll"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env.update(PONDER_CONFIG=str(config), XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "ponder", "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = {r["model"]: r for r in json.loads(done.stdout)}
    assert rows["box"]["ready"] is True and rows["typo"]["ready"] is False


async def test_reasoning_modes_run_through_an_openai_compatible_server(server: str) -> None:
    from ponder.modes import ContemplatingMode, ThinkingMode
    from ponder.turn import run_turn

    model = OpenAICompatibleModel(server, "smol")
    question = [Message.user("What is 2 + 3?")]
    try:
        thought = await run_turn(ThinkingMode(budget=16), model, question, ModelSettings(max_tokens=16))
        contemplated = await run_turn(
            ContemplatingMode(agents=3, budget=12), model, question, ModelSettings(max_tokens=16)
        )
    finally:
        await model.aclose()
    assert 0 < thought.usage.reasoning_tokens <= 16 and thought.text.strip()
    agents = contemplated.details["agents"]
    assert len(agents) == 3 and all(a["status"] in ("finished", "halted") for a in agents)
    assert contemplated.text.strip()


async def test_a_json_schema_answer_against_llama_cpp_server(server: str) -> None:
    """llama-cpp-python's server takes a schema as ``json_object`` (it refuses OpenAI's ``json_schema``):
    the answer matches the schema all the same, as a shopping turn's plan must."""
    from ponder.commerce.assistant.plan import PLAN_SCHEMA, parse_plan

    model = OpenAICompatibleModel(server, "smol")
    try:
        settings = ModelSettings(max_tokens=64, temperature=0.0, json_schema=PLAN_SCHEMA)
        response = await model.request([Message.user("Find me a red scarf under 30 dollars.")], settings)
    finally:
        await model.aclose()
    parse_plan(response.message.text)  # a plan, whatever the small model picked

"""``ponder serve`` as a real process on the embedded SmolLM2 fixture, through the official openai client.

Structure, not wording: a finished answer, counted usage, a stream that ends, reasoning apart from the answer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    command = [sys.executable, "-m", "ponder", "serve", "--no-key", "-m", "embedded:smollm2-135m"]
    log = (home / "log").open("wb")
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(Path(log.name).read_text())
            time.sleep(0.2)
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained


def test_instant_answer_and_stream(server: str) -> None:
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    ask = [{"role": "user", "content": "Name a colour."}]
    reply = client.chat.completions.create(model="ponder-instant", messages=ask, max_tokens=16, temperature=0)
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 16
    chunks = list(
        client.chat.completions.create(model="ponder-instant", messages=ask, max_tokens=16, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_thinking_keeps_reasoning_apart(server: str) -> None:
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="ponder-thinking",
        messages=[{"role": "user", "content": "What is 3 + 4?"}],
        max_tokens=32,
        temperature=0,
        extra_body={"budget": 48},
    )
    usage = reply.usage
    assert 0 < usage.completion_tokens_details.reasoning_tokens <= 48
    assert (reply.choices[0].message.model_extra or {}).get("reasoning_content")
    assert (usage.model_extra or {})["ponder"]["mode"] == "thinking"


def test_image_and_voice_parts_on_the_embedded_model(server: str) -> None:
    import base64
    import io

    from ponder.testing.media import ESPEAK, espeak, render_lines, to_format

    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    png = to_format(render_lines([["Soup", "4.50"], ["TOTAL", "4.50"]], size=30), "PNG")
    content = [
        {"type": "text", "text": "What is the total?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
        },
    ]
    reply = client.chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": content}], max_tokens=16
    )
    (report,) = (reply.usage.model_extra or {})["ponder"]["perception"]
    assert report["path"] == "ocr+analysis" and "TOTAL" in report["text"]
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    wav = espeak("How many days are in a week?")
    text = client.audio.transcriptions.create(model="whisper-1", file=("q.wav", io.BytesIO(wav)))
    assert "week" in text.text.lower()


def test_log_probabilities_and_sampling_fields_through_the_server(server: str) -> None:
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    ask = [{"role": "user", "content": "Name a colour."}]
    common = {"model": "ponder-instant", "messages": ask, "max_tokens": 8, "temperature": 0}
    reply = client.chat.completions.create(**common, logprobs=True, top_logprobs=3)
    tokens = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert (
        tokens
        and "".join(t.token for t in tokens).strip() == (reply.choices[0].message.content or "").strip()
    )
    for t in tokens:
        assert t.logprob <= 0 and len(t.top_logprobs) == 3
        alternatives = [a.logprob for a in t.top_logprobs]
        assert alternatives == sorted(alternatives, reverse=True) and t.logprob <= alternatives[0] + 1e-6
    streamed = list(client.chat.completions.create(**common, logprobs=True, stream=True))
    pieces = [c.choices[0].logprobs for c in streamed if c.choices and c.choices[0].logprobs]
    assert len(pieces) > 1  # token by token, as they are generated
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert "".join(t.token for p in pieces for t in p.content or []) == text  # type: ignore[union-attr]
    neutral = client.chat.completions.create(**common, logprobs=True, logit_bias={"0": 0})  # a bias of 0
    assert neutral.choices[0].logprobs.content[0].token == tokens[0].token  # type: ignore[union-attr]
    penalised = client.chat.completions.create(**common, frequency_penalty=2.0, presence_penalty=2.0)
    assert penalised.choices[0].message.content

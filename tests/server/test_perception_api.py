"""Images and audio over the API: chat parts through perception, and /v1/audio/transcriptions."""

from __future__ import annotations

import base64
import io
import json
import math
import threading

import httpx
import numpy as np
import openai
import pytest

from ponder.perception.microphone import to_wav
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format, transcode

from .conftest import LiveServer


def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.keys["big"], max_retries=0)


def _sign() -> str:
    png = to_format(render_lines(["MAPLE STREET", "Closed on Sundays"], size=34), "PNG")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_an_image_part_reaches_the_model_as_labelled_ocr_text(start_server, perception) -> None:
    server = start_server(ScriptedModel(["Maple Street."]), perception=perception)
    content = [
        {"type": "text", "text": "Which street is this?"},
        {"type": "image_url", "image_url": {"url": _sign()}},
    ]
    reply = client(server).chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": content}]
    )
    assert reply.choices[0].message.content == "Maple Street."
    prompt = server.model.calls[0].messages[-1].text
    assert "MAPLE STREET" in prompt and "The picture itself was not seen" in prompt
    (report,) = (reply.usage.model_extra or {})["ponder"]["perception"]
    assert report["path"] == "ocr+analysis" and report["text"] == ["MAPLE STREET", "Closed on Sundays"]


def test_a_vision_model_gets_the_image_part(start_server, perception) -> None:
    server = start_server(ScriptedModel(["A sign."], vision=True), perception=perception)
    content = [{"type": "image_url", "image_url": {"url": _sign()}}]
    reply = client(server).chat.completions.create(
        model="ponder-instant", messages=[{"role": "user", "content": content}]
    )
    (report,) = (reply.usage.model_extra or {})["ponder"]["perception"]
    assert report["path"] == "native"
    assert server.model.calls[0].messages[-1].parts[0].kind == "image"


def test_a_voice_turn_is_transcribed_answered_in_instant_and_streamed(
    start_server, perception, speak
) -> None:
    server = start_server(ScriptedModel([["It is ", "Paris."]]), perception=perception)
    wav = base64.b64encode(speak("What is the capital of France?")).decode()
    stream = client(server).chat.completions.create(
        model="ponder-auto",
        messages=[
            {
                "role": "user",
                "content": [{"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}],
            }
        ],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"progress": True},
    )
    chunks = list(stream)
    progress = [c.model_extra["ponder"] for c in chunks if (c.model_extra or {}).get("ponder")]
    assert progress[0]["type"] == "perception"
    assert "capital of france" in progress[0]["report"]["transcript"].lower()
    ponder = (chunks[-1].usage.model_extra or {})["ponder"]
    assert ponder["mode"] == "instant" and ponder["router"]["reason"].startswith("a voice turn")
    assert ponder["perception"][0]["engine"].startswith("moonshine-tiny")  # the default for voice turns


@pytest.mark.parametrize(
    ("part", "code"),
    [
        (
            {
                "type": "input_audio",
                "input_audio": {"data": base64.b64encode(b"not audio" * 50).decode(), "format": "wav"},
            },
            "invalid_media",
        ),
        (
            {
                "type": "input_audio",
                "input_audio": {
                    "data": base64.b64encode(to_wav(np.zeros(16000, np.float32))).decode(),
                    "format": "wav",
                },
            },
            "no_speech",
        ),
    ],
    ids=["garbage", "silence"],
)
def test_bad_audio_is_a_400_before_any_stream(start_server, perception, part, code) -> None:
    server = start_server(perception=perception)
    body = {"model": "ponder-instant", "messages": [{"role": "user", "content": [part]}], "stream": True}
    r = httpx.post(
        server.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.keys['big']}"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == code


def test_transcriptions_in_openai_shapes(start_server, perception, speak) -> None:
    server = start_server(perception=perception)
    c = client(server)
    ogg = transcode(speak("Please book a table for two."), "ogg")
    text = c.audio.transcriptions.create(model="whisper-1", file=("question.ogg", io.BytesIO(ogg)))
    assert "table for two" in text.text.lower()
    verbose = c.audio.transcriptions.create(
        model="whisper-base",
        file=("question.ogg", io.BytesIO(ogg)),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert verbose.language == "en" and verbose.duration > 1
    assert verbose.segments and verbose.words and verbose.words[0].start < verbose.words[-1].end
    srt = c.audio.transcriptions.create(
        model="whisper-1", file=("q.ogg", io.BytesIO(ogg)), response_format="srt"
    )
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    vtt = c.audio.transcriptions.create(
        model="whisper-1", file=("q.ogg", io.BytesIO(ogg)), response_format="vtt"
    )
    assert vtt.startswith("WEBVTT")


def test_transcription_errors(start_server, perception) -> None:
    server = start_server(perception=perception)
    c = client(server)
    with pytest.raises(openai.BadRequestError) as info:
        c.audio.transcriptions.create(model="whisper-1", file=("x.wav", io.BytesIO(b"\0" * 100)))
    assert info.value.code == "invalid_media"
    with pytest.raises(openai.BadRequestError) as info:
        c.audio.transcriptions.create(
            model="whisper-1", file=("s.wav", io.BytesIO(to_wav(np.zeros(32000, np.float32))))
        )
    assert info.value.code == "no_speech"
    with pytest.raises(openai.NotFoundError):
        c.audio.transcriptions.create(model="gpt-4o-transcribe", file=("s.wav", io.BytesIO(b"x")))
    r = httpx.post(
        server.base_url + "/audio/transcriptions",
        headers={"Authorization": f"Bearer {server.keys['big']}"},
        data={"model": "whisper-1"},
    )
    assert r.status_code == 400 and "file" in json.dumps(r.json())
    r = httpx.post(
        server.base_url + "/audio/transcriptions",
        files={"file": ("a.wav", b"x")},
        data={"model": "whisper-1"},
    )
    assert r.status_code == 401


def _ask_about(server: LiveServer, image_url: str, key: str) -> dict:
    body = {
        "model": "ponder-instant",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_url}}]}],
    }
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_perception_cache_is_kept_per_account(start_server, perception) -> None:
    from ponder.store import KeyStore

    server = start_server(ScriptedModel(default="A sign."), perception=perception)
    other = KeyStore(server.app.state.ponder.db).create("another-account", "big")[1]
    mine = server.keys["big"]
    first = _ask_about(server, _sign(), mine)["usage"]["ponder"]["perception"][0]
    again = _ask_about(server, _sign(), mine)["usage"]["ponder"]["perception"][0]
    theirs = _ask_about(server, _sign(), other)["usage"]["ponder"]["perception"][0]
    assert not first.get("cached") and again["cached"] is True
    assert not theirs.get("cached")  # another account learns nothing of what this one sent


def _tokens_charged(server: LiveServer, key: str, at_least: int) -> int:
    """The tokens the key's day has been charged in the database, once at least ``at_least`` are (the
    limiter writes its charges within 50 ms; 10 s at most)."""
    from ponder.store import KeyStore
    from ponder.store.database import sql

    key_id = KeyStore(server.app.state.ponder.db).authenticate(key).id  # type: ignore[union-attr]
    wait = threading.Event()
    for _ in range(1000):
        with server.app.state.ponder.limiter.db.reading() as c:  # the limiter's own file
            tokens = int(
                c.execute(
                    sql("SELECT COALESCE(SUM(tokens), 0) FROM token_usage WHERE key_id = :k"), {"k": key_id}
                ).scalar()
            )
        if tokens >= at_least:
            break
        wait.wait(0.01)
    return tokens


def test_an_image_is_priced_by_its_size(start_server, perception) -> None:
    from PIL import Image

    server = start_server(ScriptedModel(default="A wall."), perception=perception)
    key = server.keys["big"]  # 20 tokens of the day per megapixel read (TierConfig.tokens_per_megapixel)
    wall = to_format(Image.new("RGB", (2000, 1000), (240, 240, 240)), "PNG")  # 2 megapixels: 40 tokens
    url = "data:image/png;base64," + base64.b64encode(wall).decode()
    usage = _ask_about(server, url, key)["usage"]
    first = usage["prompt_tokens"] + usage["completion_tokens"]
    assert _tokens_charged(server, key, first + 40) == first + 40
    usage = _ask_about(server, url, key)["usage"]  # read from the cache: no perception work, no price
    again = first + usage["prompt_tokens"] + usage["completion_tokens"] + 40
    assert _tokens_charged(server, key, again) == again


def test_a_transcription_is_priced_by_its_length(start_server, perception, speak) -> None:
    server = start_server(perception=perception)
    wav = speak("Please book a table for two.")
    verbose = client(server).audio.transcriptions.create(
        model="moonshine-tiny", file=("q.wav", io.BytesIO(wav)), response_format="verbose_json"
    )
    assert verbose.duration > 1  # 2 tokens of the day a second (TierConfig.tokens_per_audio_second)
    least = math.ceil(verbose.duration * 2 - 0.01)
    charged = _tokens_charged(server, server.keys["big"], least)  # the duration is rounded to 10 ms here
    assert least <= charged <= math.ceil(verbose.duration * 2 + 0.01)

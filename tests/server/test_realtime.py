"""/v1/realtime through the real ``openai`` SDK's realtime client, against a live server: speech made with
espeak-ng streamed in 20 ms chunks at real-time pace, a camera frame read through perception, barge-in, and
the errors bad input gets. The answers are the scripted model's; what it was asked is asserted on.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any

import av
import numpy as np
import openai
import pytest
from websockets.exceptions import InvalidStatus

from ponder.perception.perceive import Perception
from ponder.testing import ScriptedModel
from ponder.testing.media import espeak, render_lines, to_format

from .conftest import LiveServer

RATE = 24_000
CHUNK = RATE * 2 // 50  # 20 ms of PCM16
TEXT_ONLY = {
    "type": "realtime",
    "output_modalities": ["text"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": RATE},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500, "create_response": True},
        }
    },
}


def pcm16(text: str) -> bytes:
    """``text`` spoken by espeak-ng, as 24 kHz PCM16, with 0.5 s of silence before and 1 s after."""
    container = av.open(io.BytesIO(espeak(text)))
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    frames += resampler.resample(None)
    speech = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype("<i2").tobytes()
    return bytes(RATE) + speech + bytes(RATE * 2)


async def stream_audio(connection: Any, audio: bytes) -> None:
    """Send ``audio`` in 20 ms chunks at the pace it would be spoken."""
    started = time.monotonic()
    for n, start in enumerate(range(0, len(audio), CHUNK)):
        await connection.input_audio_buffer.append(
            audio=base64.b64encode(audio[start : start + CHUNK]).decode()
        )
        await asyncio.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))


async def events_until(connection: Any, last: str, timeout_s: float = 60) -> list[Any]:
    seen: list[Any] = []
    async with asyncio.timeout(timeout_s):
        async for event in connection:
            seen.append(event)
            if event.type == last:
                return seen
    raise AssertionError(f"the connection ended before {last}: {[e.type for e in seen]}")


def said(*content: dict[str, Any]) -> Any:
    """A user message item of ``content`` parts, for ``conversation.item.create``."""
    return {"type": "message", "role": "user", "content": list(content)}


def client(server: LiveServer, key: str = "big") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=server.keys[key], max_retries=0)


@pytest.fixture
def live(start_server: Any, perception: Perception) -> LiveServer:
    return start_server(ScriptedModel(["It is sunny in Porto."]), perception=perception)


async def test_a_spoken_turn_is_heard_transcribed_and_answered(live: LiveServer) -> None:
    async with client(live).realtime.connect(model="ponder-instant") as connection:
        await connection.session.update(session=TEXT_ONLY)
        sending = asyncio.create_task(stream_audio(connection, pcm16("What is the weather like in Porto?")))
        events = await events_until(connection, "response.done")
        await sending
    kinds = [e.type for e in events]
    assert kinds[:2] == ["session.created", "session.updated"]
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_text.delta",
        "response.output_text.done",
        "response.done",
    ]
    assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order), kinds
    started = next(e for e in events if e.type == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e.type == "input_audio_buffer.speech_stopped")
    assert 300 <= started.audio_start_ms <= 800 and stopped.audio_end_ms > started.audio_start_ms + 800
    heard = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert "porto" in heard.transcript.lower() or "weather" in heard.transcript.lower(), heard.transcript
    done = events[-1]
    assert done.response.status == "completed" and done.response.usage.output_tokens > 0
    assert next(e for e in events if e.type == "response.output_text.done").text == "It is sunny in Porto."
    [call] = live.model.calls
    assert heard.transcript in call.messages[-1].text  # what the model was asked: the words heard


async def test_the_frame_in_view_goes_with_the_turn(live: LiveServer) -> None:
    sign = to_format(render_lines(["MAPLE STREET"], size=48))
    frame = f"data:image/png;base64,{base64.b64encode(sign).decode()}"
    async with client(live).realtime.connect(model="ponder-instant") as connection:
        await connection.session.update(session=TEXT_ONLY)
        await connection.conversation.item.create(
            item=said(
                {"type": "input_text", "text": "What does this sign say?"},
                {"type": "input_image", "image_url": frame},
            )
        )
        await connection.response.create()
        events = await events_until(connection, "response.done")
    assert events[-1].response.status == "completed"
    [call] = live.model.calls
    assert "MAPLE STREET" in " ".join(m.text for m in call.messages).upper()  # read from the frame


async def test_speech_over_an_answer_cancels_it_and_starts_the_next_turn(
    start_server: Any, perception: Perception
) -> None:
    slow = ScriptedModel([[f"word{i} " for i in range(400)], "Next answer."], delay_s=0.02)  # 8 s of words
    server = start_server(slow, perception=perception)
    async with client(server).realtime.connect(model="ponder-instant") as connection:
        await connection.session.update(session=TEXT_ONLY)
        await connection.conversation.item.create(
            item=said({"type": "input_text", "text": "Tell me a story."})
        )
        await connection.response.create()
        await events_until(connection, "response.output_text.delta")
        sending = asyncio.create_task(stream_audio(connection, pcm16("Stop, what time is it?")))
        first = await events_until(connection, "response.done")
        speech = next(e for e in first if e.type == "input_audio_buffer.speech_started")
        assert first[-1].response.status == "cancelled"
        assert first[-1].response.status_details.reason == "turn_detected"
        assert first.index(speech) < len(first) - 1  # the speech came first, then the answer stopped
        second = await events_until(connection, "response.done")
        await sending
    assert second[-1].response.status == "completed"
    assert next(e for e in second if e.type == "response.output_text.done").text == "Next answer."


async def test_bad_input_gets_error_events_and_the_session_goes_on(live: LiveServer) -> None:
    async with client(live).realtime.connect(model="ponder-instant") as connection:
        await events_until(connection, "session.created")
        sent: list[dict[str, Any]] = [
            {"type": "input_audio_buffer.append", "audio": "not base64!"},
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x00\x01\x02").decode()},
            {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["audio"]}},
            {
                "type": "session.update",
                "session": {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 8000}}}},
            },
            {"type": "response.cancel"},
            {"type": "input_audio_buffer.commit"},
            {"type": "no.such.event"},
        ]
        codes = []
        for event in sent:
            await connection.send(event)  # type: ignore[arg-type]
            [error] = await events_until(connection, "error")
            codes.append(error.error.code)
        await connection.send({"type": "session.update", "session": TEXT_ONLY})  # type: ignore[arg-type]
        assert (await events_until(connection, "session.updated"))[-1].type == "session.updated"
    assert codes == [
        "invalid_value",
        "invalid_audio",
        "invalid_value",
        "invalid_value",
        "response_cancel_not_active",
        "input_audio_buffer_commit_empty",
        "unknown_event",
    ]


async def test_a_client_without_a_key_is_refused_before_the_socket_opens(live: LiveServer) -> None:
    anonymous = openai.AsyncOpenAI(base_url=live.base_url, api_key="pk-not-a-key", max_retries=0)
    with pytest.raises(InvalidStatus) as refused:
        async with anonymous.realtime.connect(model="ponder-instant") as connection:
            await connection.recv()
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as unknown:
        async with client(live).realtime.connect(model="no-such-model") as connection:
            await connection.recv()
    assert unknown.value.response.status_code == 404


async def test_an_idle_session_is_closed_with_a_reason(start_server: Any, perception: Perception) -> None:
    server = start_server(ScriptedModel(), perception=perception, realtime_idle_s=0.5)
    async with client(server).realtime.connect(model="ponder-instant") as connection:
        events = await events_until(connection, "error", timeout_s=10)
        assert events[-1].error.code == "idle_timeout"
        with pytest.raises(Exception):  # noqa: B017 - the close comes next: a 1008 ends the iteration with an error
            await asyncio.wait_for(connection.recv(), timeout=5)


async def test_a_spoken_turn_over_the_key_s_limit_gets_an_error_event(live: LiveServer) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {live.keys['free']}"}  # 5 requests a minute
    for _ in range(4):
        assert httpx.get(live.base_url + "/models", headers=headers, timeout=30).status_code == 200
    async with client(live, "free").realtime.connect(model="ponder-instant") as connection:  # the 5th
        await connection.session.update(session=TEXT_ONLY)
        sending = asyncio.create_task(stream_audio(connection, pcm16("What is the weather like in Porto?")))
        events = await events_until(connection, "error")
        await sending
    assert events[-1].error.code == "rate_limit_exceeded"
    assert "conversation.item.input_audio_transcription.completed" in [e.type for e in events]
    assert live.model.calls == []  # refused before the model

"""The client side of bench/realtime.py: spoken clips with their true speech bounds, a live microphone that
streams them at real-time pace, and a connection that stamps every server event with its arrival time.

A ``Live`` is one ``/v1/realtime`` connection through the official ``openai`` SDK. Its ``Mic`` sends 20 ms
of 24 kHz PCM16 every 20 ms from the moment the session is set up until it closes, silence when no clip is
being said, as a real microphone would: so the server's audio clock (``audio_start_ms``, ``audio_end_ms``,
counted from the session's first appended sample) and ours count the same samples. Not here: what is
measured and printed (bench/realtime.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import openai

from ponder.testing.media import espeak

RATE = 24_000
CHUNK = RATE // 50  # samples in 20 ms
LOUD = 328  # |sample| above this (1 % of full scale, -40 dBFS) is speech: where the true bounds are taken


@dataclass(frozen=True)
class Clip:
    """``text`` spoken by espeak-ng after ``lead`` samples of silence, as 24 kHz PCM16."""

    text: str
    pcm: np.ndarray  # int16, RATE Hz mono: the leading silence, then the speech
    start: int  # index of the first sample above LOUD
    end: int  # index after the last sample above LOUD

    def ms(self, sample: int) -> float:
        return sample * 1000 / RATE


def speak(text: str, lead_ms: int) -> Clip:
    """``text`` by espeak-ng, resampled to 24 kHz PCM16 with PyAV, after ``lead_ms`` of silence."""
    container = av.open(io.BytesIO(espeak(text)), mode="r")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    frames += resampler.resample(None)
    speech = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)
    pcm = np.concatenate([np.zeros(lead_ms * RATE // 1000, np.int16), speech])
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > LOUD)
    return Clip(text, pcm, int(loud[0]), int(loud[-1]) + 1)


class Mic:
    """20 ms of PCM16 every 20 ms (on an absolute schedule, so a late chunk is caught up): the clips said,
    silence between them."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._pending = bytearray()  # PCM16 bytes said but not sent yet
        self.sent = 0  # samples taken for sending so far: the session's audio clock
        self._sent_at: list[float] = []  # chunk number -> monotonic time its append was sent

    def say(self, clip: Clip) -> int:
        """Queue ``clip``; the session sample at which it starts."""
        offset = self.sent + len(self._pending) // 2
        self._pending += clip.pcm.astype("<i2").tobytes()
        return offset

    def sent_at(self, sample: int) -> float:
        """When the chunk holding session sample ``sample`` was sent (monotonic seconds)."""
        return self._sent_at[sample // CHUNK]

    async def run(self) -> None:
        started = time.monotonic()
        while True:
            data = bytes(self._pending[: CHUNK * 2])
            del self._pending[: CHUNK * 2]
            data += bytes(CHUNK * 2 - len(data))
            self.sent += CHUNK  # before the await: a clip queued meanwhile starts after this chunk
            self._sent_at.append(time.monotonic())
            await self._connection.input_audio_buffer.append(audio=base64.b64encode(data).decode())
            await asyncio.sleep(max(0.0, started + len(self._sent_at) * 0.02 - time.monotonic()))


@dataclass
class Live:
    """One realtime connection: its microphone, and the server's events as ``(arrived, event)``."""

    connection: Any
    mic: Mic
    events: list[tuple[float, Any]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def read(self) -> None:
        async for event in self.connection:
            async with self._changed:
                self.events.append((time.monotonic(), event))
                self._changed.notify_all()

    async def next(
        self,
        kinds: str | tuple[str, ...],
        since: int,
        where: Callable[[Any], bool] = lambda e: True,
        timeout_s: float = 120,
    ) -> tuple[int, float, Any]:
        """The first event at index ``since`` or later of one of ``kinds`` (and ``where``): (index, arrived,
        event), waiting for it."""
        kinds = (kinds,) if isinstance(kinds, str) else kinds

        def found() -> tuple[int, float, Any] | None:
            for i in range(since, len(self.events)):
                at, event = self.events[i]
                if event.type in kinds and where(event):
                    return i, at, event
            return None

        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(lambda: found() is not None)
        except TimeoutError:
            seen = [e.type for _, e in self.events[since:]]
            raise RuntimeError(f"no {kinds} within {timeout_s:g} s; events since: {seen}") from None
        hit = found()
        assert hit is not None
        return hit


def text_only(silence_ms: int, instructions: str, max_output_tokens: int) -> dict[str, Any]:
    """A GA ``session.update`` body: text out, 24 kHz PCM16 in, server VAD that answers and barges in."""
    return {
        "type": "realtime",
        "output_modalities": ["text"],
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": RATE},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": silence_ms,
                    "create_response": True,
                    "interrupt_response": True,
                },
            }
        },
    }


@contextlib.asynccontextmanager
async def live_session(client: openai.AsyncOpenAI, session: dict[str, Any]) -> AsyncIterator[Live]:
    """A connection set up with ``session`` (``session.updated`` received), its microphone on."""
    async with client.realtime.connect(model="ponder-instant") as connection:
        live = Live(connection, Mic(connection))
        reader = asyncio.create_task(live.read())
        await connection.session.update(session=session)  # type: ignore[arg-type]  # a GA dict
        await live.next("session.updated", 0, timeout_s=30)
        mic = asyncio.create_task(live.mic.run())
        try:
            yield live
        finally:
            for task in (mic, reader):
                task.cancel()
            await asyncio.gather(mic, reader, return_exceptions=True)

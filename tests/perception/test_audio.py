"""decode_audio: every container people record in, resampled to 16 kHz mono; broken input refused clearly."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

import numpy as np
import pytest

from ponder.errors import MediaError
from ponder.perception.audio import SAMPLE_RATE, decode_audio
from ponder.perception.microphone import to_wav
from ponder.testing.media import AUDIO_FORMATS, transcode


def _tone(seconds: float = 1.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("container", sorted(AUDIO_FORMATS))
def test_each_container_decodes_to_16k_mono(container: str) -> None:
    data = transcode(_tone(1.0), container)
    audio = decode_audio(data, name=f"tone.{container}")
    assert audio.samples.dtype == np.float32
    assert audio.duration_s == pytest.approx(1.0, abs=0.1)  # encoders pad a little
    assert 0.3 < audio.peak <= 1.0
    assert not audio.silent


def test_stereo_is_mixed_down_and_resampled() -> None:
    rate = 44100
    t = np.arange(rate // 2) / rate
    left = (0.4 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.stack([left, left], axis=1).tobytes())
    audio = decode_audio(out.getvalue())
    assert len(audio.samples) == pytest.approx(SAMPLE_RATE / 2, abs=200)
    assert audio.source_rate == rate


def test_silence_is_flagged() -> None:
    assert decode_audio(to_wav(np.zeros(SAMPLE_RATE, np.float32))).silent


def test_too_long_audio_is_refused_from_the_header() -> None:
    with pytest.raises(MediaError, match="minutes long; the limit is 1 minutes"):
        decode_audio(to_wav(np.zeros(SAMPLE_RATE * 125, np.float32)), max_s=60)


def test_a_truncated_file_gives_what_decoded() -> None:
    data = transcode(_tone(2.0), "mp3")
    audio = decode_audio(data[: len(data) // 2])
    assert 0.5 < audio.duration_s < 1.6


Case = Callable[[], bytes]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"", "is empty"),
        (lambda: b"hello, this is plain text and not audio" * 20, "not audio Ponder can read"),
        (lambda: b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 40, "not audio Ponder can read|no audio"),
        (lambda: _tone()[:60], "not audio Ponder can read|no audio|corrupt"),
    ],
    ids=["empty", "text", "broken-wav-header", "header-only"],
)
def test_broken_audio_gets_a_clear_error(make: Case, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        decode_audio(make())


def test_an_image_is_not_audio() -> None:
    from ponder.testing.media import render_lines, to_format

    with pytest.raises(MediaError, match="does not take|not audio"):
        decode_audio(to_format(render_lines(["x"]), "PNG"))


def test_too_many_bytes_are_refused() -> None:
    with pytest.raises(MediaError, match="the limit is 1 MiB"):
        decode_audio(b"\0" * (2 << 20), max_bytes=1 << 20)


def test_too_long_audio_is_refused_while_decoding_when_the_header_does_not_say() -> None:
    """A file whose header claims less than it holds: the decoder counts the samples itself."""
    import struct

    wav = bytearray(to_wav(np.zeros(SAMPLE_RATE * 90, np.float32)))
    wav[40:44] = struct.pack("<I", 0xFFFFFFFF)  # data size "unknown", as streaming writers leave it
    with pytest.raises(MediaError, match="longer than the limit|minutes long"):
        decode_audio(bytes(wav), max_s=60)

"""LiveAudio on espeak-ng speech in 20 ms PCM16 chunks: turns where the speech is, and nowhere else."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

import numpy as np
import pytest
from scipy.signal import resample_poly

from ponder.perception.audio import SAMPLE_RATE
from ponder.perception.live_audio import (
    AudioFormatError,
    EmptyBufferError,
    LiveAudio,
    SpeechStarted,
    SpeechStopped,
    TurnDetection,
)
from ponder.perception.moonshine import MoonshineTranscriber

BOOKING = "Please book a table for two at seven"  # moonshine-tiny hears "table" in it at 16 and 24 kHz
WEATHER = "The weather is lovely today in the garden"
TOLERANCE_MS = 200
_ONSET = 0.02  # amplitude (of full scale) above which espeak's output counts as sound
_RESAMPLE = {24_000: (160, 147), 16_000: (320, 441)}  # from espeak's 22.05 kHz: (up, down)

Speak = Callable[..., bytes]
Heard = list[tuple[int, SpeechStarted | SpeechStopped]]  # (elapsed_ms when emitted, event)


def _spoken(speak: Speak, text: str, rate: int) -> np.ndarray:
    """``text`` spoken by espeak-ng, float32 at ``rate``."""
    with wave.open(io.BytesIO(speak(text))) as clip:
        assert clip.getframerate() == 22_050
        samples = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.float32) / 32768
    up, down = _RESAMPLE[rate]
    return resample_poly(samples, up, down).astype(np.float32)


def _sound_span_ms(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """Where the sound in ``samples`` starts and ends, in ms: the first and last sample above _ONSET."""
    loud = np.flatnonzero(np.abs(samples) > _ONSET)
    return int(loud[0] * 1000 // rate), int(loud[-1] * 1000 // rate)


def _silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


def _pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def _feed(live: LiveAudio, samples: np.ndarray, chunk_ms: int = 20) -> Heard:
    """Append ``samples`` in chunks of ``chunk_ms``; each event with the input time it came at."""
    pcm, step = _pcm16(samples), live.rate * chunk_ms // 1000 * 2
    heard: Heard = []
    for offset in range(0, len(pcm), step):
        heard += [(live.elapsed_ms, event) for event in live.append(pcm[offset : offset + step])]
    return heard


def _words(moonshine: MoonshineTranscriber, samples: np.ndarray) -> str:
    return moonshine.transcribe(samples).text.lower()


@pytest.mark.parametrize("rate", [24_000, 16_000])
def test_one_utterance_is_one_turn_where_the_speech_is(
    rate: int, speak: Speak, moonshine: MoonshineTranscriber
) -> None:
    speech = _spoken(speak, BOOKING, rate)
    sound_start, sound_end = (ms + 500 for ms in _sound_span_ms(speech, rate))
    live = LiveAudio(rate)
    heard = _feed(live, np.concatenate([_silence(0.5, rate), speech, _silence(1.0, rate)]))

    assert [type(event) for _, event in heard] == [SpeechStarted, SpeechStopped]
    (started_at, started), (stopped_at, stopped) = heard
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert abs(started.audio_start_ms - sound_start) <= TOLERANCE_MS
    assert abs(stopped.audio_end_ms - sound_end) <= TOLERANCE_MS  # where the speech ended ...
    assert 500 <= stopped_at - stopped.audio_end_ms <= 500 + TOLERANCE_MS  # ... told 500 ms of silence later
    assert started_at - started.audio_start_ms <= 250 + TOLERANCE_MS  # started once it lasted 250 ms
    padded_ms = stopped.audio_end_ms - started.audio_start_ms + 300
    assert len(stopped.samples) == padded_ms * SAMPLE_RATE // 1000
    assert stopped.samples.dtype == np.float32
    assert "table" in _words(moonshine, stopped.samples)
    assert not live.speaking() and live.buffered_ms <= 300 + 64  # the prefix ring and a window in hand


def test_two_utterances_a_second_apart_are_two_turns(speak: Speak, moonshine: MoonshineTranscriber) -> None:
    rate = 24_000
    stream = [_silence(0.5, rate), _spoken(speak, BOOKING, rate), _silence(1.0, rate)]
    stream += [_spoken(speak, WEATHER, rate), _silence(1.0, rate)]
    heard = [event for _, event in _feed(LiveAudio(rate), np.concatenate(stream))]

    assert [type(event) for event in heard] == [SpeechStarted, SpeechStopped] * 2
    first, second = heard[1], heard[3]
    assert isinstance(first, SpeechStopped) and isinstance(second, SpeechStopped)
    assert "garden" in _words(moonshine, second.samples)


def test_speaking_is_true_between_start_and_stop(speak: Speak) -> None:
    rate = 24_000
    live = LiveAudio(rate)
    speech = _spoken(speak, BOOKING, rate)
    _feed(live, np.concatenate([_silence(0.5, rate), speech[: len(speech) // 2]]))
    assert live.speaking()
    _feed(live, np.concatenate([speech[len(speech) // 2 :], _silence(1.0, rate)]))
    assert not live.speaking()


@pytest.mark.parametrize("level", [0.0, 0.003, 0.01], ids=["silence", "noise-50dB", "noise-40dB"])
def test_silence_and_low_noise_give_no_turn_and_keep_only_the_ring(level: float) -> None:
    rate = 24_000
    noise = np.random.default_rng(7).standard_normal(rate * 3).astype(np.float32) * level
    live = LiveAudio(rate)
    assert _feed(live, noise) == []
    assert live.elapsed_ms == 3000
    assert live.buffered_ms <= 300 + 64  # three seconds in, only the prefix ring is held


@pytest.mark.parametrize(("cut_ms", "turns"), [(150, 0), (400, 1)])
def test_speech_shorter_than_250_ms_is_a_click_not_a_turn(cut_ms: int, turns: int, speak: Speak) -> None:
    rate = 24_000
    speech = _spoken(speak, BOOKING, rate)
    sound_start, _ = _sound_span_ms(speech, rate)
    cut = speech[sound_start * rate // 1000 :][: rate * cut_ms // 1000]  # Silero hears 150 ms as speech
    heard = _feed(LiveAudio(rate), np.concatenate([_silence(0.5, rate), cut, _silence(1.0, rate)]))
    assert [type(event) for _, event in heard] == [SpeechStarted, SpeechStopped] * turns


def test_clear_drops_the_speech_in_progress(speak: Speak) -> None:
    rate = 24_000
    live = LiveAudio(rate)
    speech = _spoken(speak, BOOKING, rate)
    heard = _feed(live, np.concatenate([_silence(0.5, rate), speech[: len(speech) // 2]]))
    assert [type(event) for _, event in heard] == [SpeechStarted]

    live.clear()
    assert not live.speaking() and live.buffered_ms == 0
    assert _feed(live, _silence(1.0, rate)) == []


def test_chunked_input_resamples_to_the_length_and_samples_of_the_whole(speak: Speak) -> None:
    rate = 24_000
    speech = _spoken(speak, BOOKING, rate)
    chunked, whole = LiveAudio(rate, detection=None), LiveAudio(rate, detection=None)
    _feed(chunked, speech)  # 20 ms chunks
    whole.append(_pcm16(speech))

    from_chunks, from_whole = chunked.commit(), whole.commit()
    assert len(from_chunks) == len(from_whole)
    assert len(from_whole) == pytest.approx(len(speech) * 2 / 3, abs=32)  # the filter holds back ~1 ms
    np.testing.assert_allclose(from_chunks, from_whole, atol=1e-6)


def test_manual_commit_returns_the_buffer_and_empties_it(
    speak: Speak, moonshine: MoonshineTranscriber
) -> None:
    rate = 16_000
    live = LiveAudio(rate, detection=None)
    speech = _spoken(speak, BOOKING, rate)
    assert _feed(live, np.concatenate([_silence(0.5, rate), speech])) == []  # no events without detection
    assert not live.speaking()

    samples = live.commit()
    assert len(samples) == 500 * 16 + len(speech)
    assert live.buffered_ms == 0 and live.elapsed_ms == 500 + len(speech) * 1000 // rate
    assert "table" in _words(moonshine, samples)


def test_commit_under_100_ms_is_refused_and_keeps_the_buffer() -> None:
    live = LiveAudio(16_000, detection=None)  # no resampler, so no millisecond held back in its filter
    live.append(_pcm16(_silence(0.05, 16_000)))
    with pytest.raises(EmptyBufferError, match="50 ms.*at least 100 ms"):
        live.commit()
    assert live.buffered_ms == 50


def test_a_full_buffer_refuses_more_audio() -> None:
    live = LiveAudio(16_000, detection=None, max_buffer_s=1.0)
    live.append(_pcm16(_silence(0.9, 16_000)))
    with pytest.raises(AudioFormatError, match=r"buffer is full \(1 s\): commit or clear"):
        live.append(_pcm16(_silence(0.2, 16_000)))
    assert live.buffered_ms == 900 and live.elapsed_ms == 900  # the refused chunk was not taken
    live.clear()
    live.append(_pcm16(_silence(0.2, 16_000)))
    assert live.buffered_ms == 200


@pytest.mark.parametrize("rate", [24_000, 16_000])
def test_an_empty_chunk_is_nothing(rate: int) -> None:
    live = LiveAudio(rate)
    assert live.append(b"") == [] and live.buffered_ms == 0 and live.elapsed_ms == 0


def test_odd_byte_counts_and_other_rates_are_refused_clearly() -> None:
    with pytest.raises(AudioFormatError, match="odd 641 bytes"):
        LiveAudio(24_000).append(b"\0" * 641)
    with pytest.raises(AudioFormatError, match="24000 or 16000 Hz, not 44100 Hz"):
        LiveAudio(44_100)
    with pytest.raises(ValueError, match="threshold"):
        TurnDetection(threshold=1.5)

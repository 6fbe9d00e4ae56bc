"""The audio side of a live session: PCM16 chunks in, 16 kHz turns out, with server-side voice detection.

``LiveAudio`` is what a realtime endpoint keeps per connection for OpenAI's ``input_audio_buffer.append``,
``commit`` and ``clear``. Each appended chunk (raw PCM16 little-endian mono at 24 or 16 kHz) is resampled to
16 kHz by one PyAV resampler that lives as long as the session, so chunk edges leave no clicks and no drift
in length. With a ``TurnDetection`` (OpenAI's ``server_vad``), Silero VAD runs incrementally on 512-sample
windows (32 ms) and ``append`` returns ``SpeechStarted`` and ``SpeechStopped`` events, the stop carrying the
utterance. Without one, turns are manual: ``commit`` hands over what was buffered.

How speech is judged (faster-whisper's ``get_speech_timestamps`` rules, one window at a time):

* speech starts at the first window whose probability reaches ``threshold``; ``audio_start_ms`` is that
  window's start, before the prefix padding;
* silence starts at the first window below ``max(threshold - 0.15, 0.01)`` and is forgotten when a window
  reaches ``threshold`` again; ``silence_duration_ms`` of it ends the speech, and ``audio_end_ms`` is where
  the silence began;
* a speech shorter than ``MIN_SPEECH_MS`` (250 ms, the rule ``vad.py`` applies to whole files) is a click, a
  cough or a door, not a turn: ``SpeechStarted`` waits until the speech has lasted that long (so it comes
  about 250 ms after ``audio_start_ms``, and ``speaking()`` turns true then), and a speech that goes silent
  sooner is dropped without any event.

Memory stays bounded: only the utterance in progress and a ring of ``prefix_padding_ms`` before it are kept,
never the session's audio. So a ``commit`` while nobody speaks (server VAD) returns just that ring, and an
utterance's prefix never reaches back before the previous utterance's end. Manual mode keeps everything
since the last commit or clear; past ``max_buffer_s`` (in either mode) ``append`` refuses the chunk with an
``AudioFormatError`` until the client commits or clears.

Not here: the WebSocket protocol, transcription, and turn-taking policy (``create_response``,
``interrupt_response``) belong to the endpoint; the session's audio is never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.errors import MediaError, PerceptionUnavailableError
from ponder.perception.audio import SAMPLE_RATE
from ponder.perception.vad import MIN_SPEECH_MS

if TYPE_CHECKING:
    import av

__all__ = [
    "INPUT_RATES",
    "MIN_COMMIT_MS",
    "AudioFormatError",
    "EmptyBufferError",
    "LiveAudio",
    "LiveEvent",
    "SpeechStarted",
    "SpeechStopped",
    "TurnDetection",
]

INPUT_RATES = (24_000, 16_000)  # the PCM16 rates a client may send
MIN_COMMIT_MS = 100  # OpenAI refuses to commit less than this
WINDOW = 512  # samples Silero judges at once (32 ms at 16 kHz)
CONTEXT = 64  # samples of the previous window that Silero sees before each window
NEG_THRESHOLD_GAP = 0.15  # silence is a probability this far below the threshold (faster-whisper's)
_SAMPLES_PER_MS = SAMPLE_RATE // 1000


class AudioFormatError(MediaError, ValueError):
    """Input audio Ponder cannot take: an odd byte count, an unsupported rate, too much audio buffered."""


class EmptyBufferError(AudioFormatError):
    """A commit with less than ``MIN_COMMIT_MS`` of audio buffered."""


@dataclass(frozen=True)
class TurnDetection:
    """OpenAI's ``server_vad`` settings."""

    threshold: float = 0.5  # speech probability that starts speech
    prefix_padding_ms: int = 300  # audio kept before the detected start
    silence_duration_ms: int = 500  # silence that ends speech

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"turn_detection.threshold must be between 0 and 1, not {self.threshold}")
        if self.prefix_padding_ms < 0 or self.silence_duration_ms < 0:
            raise ValueError("turn_detection.prefix_padding_ms and silence_duration_ms cannot be negative")

    @property
    def neg_threshold(self) -> float:
        return max(self.threshold - NEG_THRESHOLD_GAP, 0.01)


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int  # from the session's first appended sample, in input-audio time


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int  # where the silence that ended the speech began
    samples: np.ndarray  # 16 kHz float32 mono, from audio_start_ms - prefix_padding_ms to audio_end_ms


LiveEvent = SpeechStarted | SpeechStopped  # what append returns


def _ms(samples: int) -> int:
    return samples // _SAMPLES_PER_MS


class _Resampler:
    """PCM16 at ``rate`` to 16 kHz float32, one FFmpeg resampler for the whole stream (it lags ~1 ms)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._resampler: av.AudioResampler | None = None
        if rate != SAMPLE_RATE:
            import av

            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    def resample(self, pcm: np.ndarray) -> np.ndarray:
        """``pcm`` (int16) as float32 at 16 kHz, less what the filter holds back until more comes."""
        if self._resampler is None:
            return pcm.astype(np.float32) / 32768.0
        if not len(pcm):  # FFmpeg fails on an empty frame ("Cannot allocate memory")
            return np.zeros(0, np.float32)
        import av

        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = self.rate
        return self._collect(self._resampler.resample(frame))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float32, copy=False)


class _SileroStream:
    """Silero VAD one 32 ms window at a time, carrying its LSTM state and 64 samples of context."""

    def __init__(self) -> None:
        try:
            from faster_whisper.vad import get_vad_model
        except ImportError:
            raise PerceptionUnavailableError(
                'Voice activity detection needs the voice extra (faster-whisper): pip install "ponder[voice]"'
            ) from None
        self._session: Any = get_vad_model().session  # shared by all sessions; run() is thread-safe
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)  # samples not yet in a full window
        self.position = 0  # 16 kHz sample index of the next window's start

    def feed(self, samples: np.ndarray) -> list[tuple[int, float]]:
        """(window start, speech probability) for each window that ``samples`` complete."""
        self._pending = np.concatenate([self._pending, samples])
        judged = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            judged.append((self.position, self._probability(window)))
            self.position += WINDOW
        return judged

    def _probability(self, window: np.ndarray) -> float:
        batch = np.concatenate([self._context, window])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT:]
        return float(out.ravel()[0])


class _SampleBuffer:
    """A stretch of the 16 kHz stream, [start, end) in absolute sample indices, held as appended chunks."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self.start = 0
        self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self._chunks.append(samples)
            self.end += len(samples)

    def drop_before(self, index: int) -> None:
        """Forget the samples before ``index`` (whole chunks, then part of the first one left)."""
        index = min(max(index, self.start), self.end)
        while self._chunks and self.start + len(self._chunks[0]) <= index:
            self.start += len(self._chunks.pop(0))
        if self._chunks and index > self.start:
            self._chunks[0] = self._chunks[0][index - self.start :]
        self.start = index

    def take(self, begin: int, stop: int) -> np.ndarray:
        """A copy of samples [begin, stop), clipped to what is held."""
        held = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        begin, stop = max(begin, self.start), min(stop, self.end)
        return held[begin - self.start : max(begin, stop) - self.start].copy()

    def clear(self) -> None:
        self.drop_before(self.end)


class LiveAudio:
    """One session's input audio buffer: append PCM16 chunks, get speech events or commit by hand.

    Not thread-safe: one connection calls it, one call at a time.
    """

    def __init__(
        self,
        rate: int = 24_000,
        detection: TurnDetection | None = TurnDetection(),
        max_buffer_s: float = 300.0,
    ) -> None:
        if rate not in INPUT_RATES:
            raise AudioFormatError(
                f"Input audio must be PCM16 at 24000 or 16000 Hz, not {rate} Hz: resample it before sending."
            )
        self.rate = rate
        self.detection = detection
        self.max_buffer_s = max_buffer_s
        self._resampler = _Resampler(rate)
        self._silero = _SileroStream() if detection is not None else None
        self._buffer = _SampleBuffer()
        self._input_samples = 0  # at the client's rate
        self._speech_start: int | None = None  # 16 kHz index where the speech (or click so far) began
        self._confirmed = False  # the speech has lasted MIN_SPEECH_MS and SpeechStarted went out
        self._silence_start: int | None = None  # where the silence inside the speech began

    @property
    def buffered_ms(self) -> int:
        return _ms(len(self._buffer))

    @property
    def elapsed_ms(self) -> int:
        """Input audio received so far, in ms."""
        return self._input_samples * 1000 // self.rate

    def speaking(self) -> bool:
        """A speech is in progress (for barge-in): from its ``SpeechStarted`` to its ``SpeechStopped``."""
        return self._confirmed

    def append(self, pcm16: bytes) -> list[LiveEvent]:
        """Buffer ``pcm16`` (PCM16 little-endian mono at ``rate``); the speech events it completes."""
        pcm = self._decode(pcm16)
        samples = self._resampler.resample(pcm)
        self._input_samples += len(pcm)
        self._buffer.append(samples)
        if self._silero is None:
            return []
        events = []
        for window_start, probability in self._silero.feed(samples):
            event = self._judge(window_start, probability)
            if event is not None:
                events.append(event)
        if self._speech_start is None:
            self._buffer.drop_before(self._silero.position - self._prefix_samples)
        return events

    def commit(self) -> np.ndarray:
        """The audio buffered since the last commit, clear or stop (16 kHz float32); the buffer empties."""
        if self.buffered_ms < MIN_COMMIT_MS:
            raise EmptyBufferError(
                f"Cannot commit the input audio buffer: it holds {self.buffered_ms} ms of audio, and at "
                f"least {MIN_COMMIT_MS} ms is needed."
            )
        samples = self._buffer.take(self._buffer.start, self._buffer.end)
        self.clear()
        return samples

    def clear(self) -> None:
        """Drop the buffered audio and any speech in progress (no event follows for it)."""
        self._buffer.clear()
        self._reset_speech()

    def _decode(self, pcm16: bytes) -> np.ndarray:
        if len(pcm16) % 2:
            raise AudioFormatError(
                f"Input audio must be PCM16 (2 bytes a sample), but the chunk has an odd {len(pcm16)} bytes."
            )
        incoming_ms = len(pcm16) // 2 * 1000 // self.rate
        if self.buffered_ms + incoming_ms > self.max_buffer_s * 1000:
            raise AudioFormatError(
                f"The input audio buffer is full ({self.max_buffer_s:g} s): commit or clear it before "
                "appending more."
            )
        return np.frombuffer(pcm16, dtype="<i2")

    @property
    def _prefix_samples(self) -> int:
        return self.detection.prefix_padding_ms * _SAMPLES_PER_MS if self.detection else 0

    def _judge(self, window_start: int, probability: float) -> LiveEvent | None:
        """Move the speech state on by one window; the event that window completes, if any."""
        assert self.detection is not None
        detection, window_end = self.detection, window_start + WINDOW
        if self._speech_start is None:
            if probability >= detection.threshold:
                self._speech_start = window_start
            return None
        if probability >= detection.threshold:
            self._silence_start = None
        elif probability < detection.neg_threshold and self._silence_start is None:
            self._silence_start = window_start
        if self._silence_start is None:
            return self._confirm(window_end)
        if window_end - self._silence_start >= detection.silence_duration_ms * _SAMPLES_PER_MS:
            return self._stop()
        return None

    def _confirm(self, speech_end: int) -> SpeechStarted | None:
        assert self._speech_start is not None
        if self._confirmed or speech_end - self._speech_start < MIN_SPEECH_MS * _SAMPLES_PER_MS:
            return None
        self._confirmed = True
        return SpeechStarted(audio_start_ms=_ms(self._speech_start))

    def _stop(self) -> SpeechStopped | None:
        """The speech is over: the utterance if it was one, nothing if it was a click."""
        assert self._speech_start is not None and self._silence_start is not None
        start, end, confirmed = self._speech_start, self._silence_start, self._confirmed
        self._reset_speech()
        if not confirmed:
            return None
        samples = self._buffer.take(start - self._prefix_samples, end)
        self._buffer.drop_before(end)
        return SpeechStopped(audio_end_ms=_ms(end), samples=samples)

    def _reset_speech(self) -> None:
        self._speech_start, self._silence_start, self._confirmed = None, None, False

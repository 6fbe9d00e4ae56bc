"""Decoding audio with PyAV (FFmpeg's decoders, bundled in the wheel) into what speech models take.

``decode_audio(data, ...)`` reads WAV, FLAC, OGG (Opus or Vorbis), MP3, M4A/MP4 (AAC, what Safari records)
and WebM/Matroska (Opus, what Chrome and Firefox record), whatever the file is called: the container is
recognised from the bytes. It returns 16 kHz mono float32 samples. Refused with a ``MediaError`` that says
why: empty or oversized files, anything that is not one of those containers, files with no audio stream,
audio longer than the limit (checked from the header when it says, and while decoding when it does not),
and files so corrupt that nothing decodes. A truncated file gives what could be decoded.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ponder.errors import MediaError, PerceptionUnavailableError

if TYPE_CHECKING:
    from av import AudioFrame, AudioStream
    from av.container import InputContainer

__all__ = ["CONTAINERS", "SAMPLE_RATE", "DecodedAudio", "decode_audio"]

SAMPLE_RATE = 16_000
# FFmpeg demuxer names -> what to call them; anything else is refused.
CONTAINERS = {
    "wav": "WAV",
    "flac": "FLAC",
    "ogg": "OGG",
    "mp3": "MP3",
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/M4A",
    "matroska,webm": "WebM",
    "aac": "AAC",
}
_SILENCE = 1e-3  # peak amplitude below this is silence


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE Hz, in [-1, 1]
    container: str  # one of CONTAINERS' values
    codec: str
    source_rate: int  # the file's own sample rate

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def peak(self) -> float:
        return float(np.abs(self.samples).max()) if len(self.samples) else 0.0

    @property
    def silent(self) -> bool:
        return self.peak < _SILENCE


def decode_audio(
    data: bytes, *, max_bytes: int = 50 * 1024 * 1024, max_s: float = 900.0, name: str = "the audio"
) -> DecodedAudio:
    try:
        import av
    except ImportError:
        raise PerceptionUnavailableError(
            'Decoding audio needs the voice extra (PyAV): pip install "ponder[voice]"'
        ) from None
    if not data:
        raise MediaError(f"{name} is empty.")
    if len(data) > max_bytes:
        raise MediaError(f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB.")
    supported = ", ".join(sorted(set(CONTAINERS.values())))
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as err:
        raise MediaError(f"{name} is not audio Ponder can read ({err}); supported: {supported}.") from None
    with container:
        kind = CONTAINERS.get(container.format.name)
        if kind is None:
            raise MediaError(
                f"{name} is {container.format.long_name or container.format.name}, which Ponder does not "
                f"take; supported: {supported}."
            )
        if not container.streams.audio:
            raise MediaError(f"{name} ({kind}) has no audio stream.")
        stream = container.streams.audio[0]
        if container.duration is not None and container.duration / 1e6 > max_s + 1:
            raise MediaError(_too_long(name, container.duration / 1e6, max_s))
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        source_rate = int(stream.rate or 0)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int((max_s + 1) * SAMPLE_RATE)
        try:
            for frame in _frames(container, stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > limit:
                    raise MediaError(_too_long(name, None, max_s))
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as err:
            if not chunks:
                raise MediaError(f"{name} ({kind}) is corrupt: {err}") from None
            # A truncated file: keep what decoded before the damage.
    samples = (np.concatenate(chunks).astype(np.float32) / 32768.0) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise MediaError(f"{name} ({kind}) holds no audio that could be decoded: corrupt or truncated.")
    return DecodedAudio(samples=samples, container=kind, codec=codec, source_rate=source_rate)


def _frames(container: InputContainer, stream: AudioStream) -> Iterator[AudioFrame]:
    """Decoded frames, skipping packets that fail to decode (as players do) unless every one fails."""
    import av

    decoded = 0
    failures = 0
    for packet in container.demux(stream):
        try:
            for frame in packet.decode():
                if not isinstance(frame, av.AudioFrame):
                    continue
                frame.pts = None
                decoded += 1
                yield frame
        except av.InvalidDataError:
            failures += 1
            if failures > 50 and decoded == 0:
                raise


def _too_long(name: str, seconds: float | None, max_s: float) -> str:
    length = f"{seconds / 60:.1f} minutes long" if seconds is not None else "longer than the limit"
    return (
        f"{name} is {length}; the limit is {max_s / 60:.0f} minutes (perception.max_audio_s). "
        "Split it, or raise the limit."
    )

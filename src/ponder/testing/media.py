"""Generated test media: text rendered into images, and sentences spoken by espeak-ng.

Tests and benchmarks make their own images and audio with these, so every expected answer is known
exactly. Fonts come from the system (DejaVu and Liberation on Debian: fonts-dejavu-core, fonts-liberation),
with Pillow's built-in font as the fallback; speech from Debian's ``espeak-ng``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "AUDIO_FORMATS",
    "ESPEAK",
    "espeak",
    "font",
    "font_paths",
    "render_lines",
    "to_format",
    "transcode",
]

ESPEAK = shutil.which("espeak-ng")
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))

Colour = tuple[int, int, int]


def font_paths() -> list[Path]:
    """Regular, bold and serif/sans/mono TrueType fonts found on the system, sorted by name."""
    found = []
    for directory in _FONT_DIRS:
        if directory.is_dir():
            found += [
                p for p in directory.glob("*.ttf") if "Italic" not in p.name and "Oblique" not in p.name
            ]
    return sorted(found, key=lambda p: p.name)


def font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size)


def render_lines(
    lines: Sequence[str] | Sequence[Sequence[str]],
    *,
    font_path: Path | None = None,
    size: int = 28,
    background: Colour = (255, 255, 255),
    foreground: Colour = (0, 0, 0),
    margin: int = 24,
    column_gap: int = 80,
) -> Image.Image:
    """An image of ``lines`` (each a string, or a row of cells laid out in columns), top to bottom."""
    face = font(font_path, size)
    rows = [[line] if isinstance(line, str) else list(line) for line in lines]
    columns = max(len(r) for r in rows)
    widths = [0] * columns
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], int(face.getlength(cell)))
    line_height = int(size * 1.6)
    width = sum(widths) + column_gap * (columns - 1) + 2 * margin
    height = line_height * len(rows) + 2 * margin
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        x = margin
        for i, cell in enumerate(row):
            draw.text((x, margin + r * line_height), cell, font=face, fill=foreground)
            x += widths[i] + column_gap
    return image


def to_format(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def espeak(text: str, *, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> bytes:
    """WAV bytes of ``text`` spoken by espeak-ng (22.05 kHz mono)."""
    if ESPEAK is None:
        raise RuntimeError("espeak-ng is not installed (Debian: apt install espeak-ng)")
    result = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout


# container -> (PyAV format name, codec, sample rate): what browsers and phones record, and the classics.
AUDIO_FORMATS: dict[str, tuple[str, str, int]] = {
    "wav": ("wav", "pcm_s16le", 16000),
    "flac": ("flac", "flac", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "mp3": ("mp3", "libmp3lame", 44100),
    "m4a": ("ipod", "aac", 44100),
    "webm": ("webm", "libopus", 48000),
}


def transcode(wav: bytes, container: str) -> bytes:
    """``wav`` re-encoded with PyAV into one of ``AUDIO_FORMATS`` (Opus in OGG and WebM, AAC in M4A)."""
    import av

    fmt, codec, rate = AUDIO_FORMATS[container]
    out = io.BytesIO()
    with av.open(io.BytesIO(wav), mode="r") as source, av.open(out, mode="w", format=fmt) as target:
        stream = target.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            frame.pts = None
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    target.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()

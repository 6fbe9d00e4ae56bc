"""Bad input to perception: what the caller is told, and how long it takes to be told.

    python bench/perception_limits.py

Builds each input the issue names (a corrupt and a truncated image, an unsupported format, a 200-megapixel
image, two hours of audio, silence, noise, a corrupt clip) and sends it through ``Perception`` exactly as a
turn would. Every case must end in a ``MediaError`` (or ``NoSpeechError``) with a readable message, never
another exception. Prints one line per case and appends a JSON line to bench/results/perception_limits.jsonl.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ponder.config import PerceptionConfig
from ponder.errors import MediaError
from ponder.perception import Perception
from ponder.perception.microphone import to_wav
from ponder.testing.media import render_lines, to_format

RESULTS = Path(__file__).parent / "results" / "perception_limits.jsonl"


def _two_hours_of_opus() -> bytes:
    """Two hours of quiet Opus in Ogg (about 3 MB): long audio that fits any upload limit."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = 6000
        block = np.zeros((1, 48000 * 10), np.int16)
        for i in range(720):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * block.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def main() -> int:
    png = to_format(render_lines(["Receipt", "TOTAL 12.00"], size=30), "PNG")
    jpeg = to_format(render_lines(["Receipt"], size=30), "JPEG")
    print("building the inputs (two hours of Opus takes a while)...", file=sys.stderr)
    cases: list[tuple[str, str, bytes]] = [
        ("image", "corrupt image (random bytes with a PNG signature)", png[:8] + bytes(range(256)) * 8),
        ("image", "truncated JPEG (first half)", jpeg[: len(jpeg) // 2]),
        ("image", "unsupported format (BMP)", to_format(Image.new("RGB", (64, 64)), "BMP")),
        ("image", "200-megapixel PNG", to_format(Image.new("1", (20_000, 10_000)), "PNG")),
        ("audio", "two hours of audio (Opus)", _two_hours_of_opus()),
        ("audio", "ten seconds of silence (WAV)", to_wav(np.zeros(160_000, np.float32))),
        ("audio", "five seconds of noise (WAV)", to_wav(np.random.default_rng(0).normal(0, 0.05, 80_000))),
        (
            "audio",
            "corrupt audio (MP3 header, then zeros)",
            b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\0" * 4096,
        ),
        ("audio", "a PNG sent as audio", png),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as models:
        perception = Perception(PerceptionConfig(), Path(models))
        perception.recogniser().load()
        perception.ocr.read(render_lines(["warm up"]))
        for kind, label, data in cases:
            read: Callable[[bytes, str], object] = (
                perception.read_image if kind == "image" else perception.hear
            )
            started = time.perf_counter()
            try:
                read(data, label)
                outcome, message = "accepted (a defect)", ""
            except MediaError as err:
                outcome, message = type(err).__name__, str(err)
            except Exception as err:  # anything else is a defect: the caller gets no clear message
                outcome, message = f"DEFECT {type(err).__name__}", str(err)
            elapsed = time.perf_counter() - started
            rows.append({"case": label, "bytes": len(data), "outcome": outcome, "seconds": round(elapsed, 3)})
            print(f"{label:<46} {len(data) / 1e6:>7.2f} MB  {elapsed:>6.3f} s  {outcome}: {message}")
    clear = sum(r["outcome"] in ("MediaError", "NoSpeechError") for r in rows)
    slowest = max(r["seconds"] for r in rows)
    print(f"\n{clear}/{len(rows)} refused with a clear message; slowest refusal {slowest:.2f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(
            json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "clear": clear, "cases": rows}) + "\n"
        )
    return 0 if clear == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

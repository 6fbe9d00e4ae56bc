"""OCR character accuracy on text images this script renders itself: varied fonts, sizes and backgrounds.

    python bench/ocr.py                 # 60 images
    python bench/ocr.py --n 120 --seed 2

Each image holds 1-4 lines of generated text (words, numbers, prices, codes) in one of the system's
TrueType fonts (DejaVu and Liberation: sans, serif, mono, bold), at 14-48 px, on a white, tinted, dark,
gradient or noisy background. The image goes through Ponder's perception path (decode_image, then the
RapidOCR engine); what it read is joined in reading order (the items of a row by spaces, rows by line breaks)
and compared with the truth, so a line split into two boxes, or rows out of order, count as errors.
Character accuracy = 1 - (Levenshtein distance / characters in the truth), over all images (rapidfuzz).
Prints a table by condition and appends a JSON line to bench/results/ocr.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

from ponder.perception.images import decode_image
from ponder.perception.ocr import OcrEngine
from ponder.testing.media import font_paths, render_lines, to_format

RESULTS = Path(__file__).parent / "results" / "ocr.jsonl"

WORDS = [
    "apple",
    "harbour",
    "invoice",
    "total",
    "station",
    "coffee",
    "market",
    "window",
    "garden",
    "orange",
    "ticket",
    "street",
    "river",
    "delivery",
    "account",
    "balance",
    "meeting",
    "office",
    "library",
    "museum",
    "kitchen",
    "number",
    "address",
    "payment",
    "order",
    "receipt",
    "monday",
    "friday",
    "january",
    "october",
    "north",
    "south",
    "east",
    "west",
    "bridge",
    "castle",
    "silver",
    "yellow",
    "purple",
    "engine",
    "mountain",
    "village",
    "airport",
    "platform",
    "student",
    "teacher",
    "doctor",
    "hospital",
    "pharmacy",
    "bakery",
]

BACKGROUNDS = ("white", "tinted", "dark", "gradient", "noisy")


def _line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.25:
        return f"{rng.choice(WORDS).title()} {rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
    if kind < 0.4:
        return f"{rng.choice(WORDS).upper()} {rng.randint(10, 9999)}"
    if kind < 0.5:
        return (
            f"Ref {rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        )
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
    words[0] = words[0].title()
    return " ".join(words)


def _background(image: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    """Put the black-on-white text image onto the background ``kind``."""
    ink = np.asarray(image.convert("L"), dtype=np.float32) / 255.0  # 1 = paper, 0 = ink
    h, w = ink.shape
    if kind == "white":
        paper, colour = np.full((h, w, 3), 255.0), np.array([0.0, 0.0, 0.0])
    elif kind == "tinted":
        tint = np.array([rng.randint(200, 255) for _ in range(3)], dtype=np.float32)
        paper, colour = (
            np.broadcast_to(tint, (h, w, 3)).copy(),
            np.array([rng.randint(0, 60) for _ in range(3)]),
        )
    elif kind == "dark":
        shade = np.array([rng.randint(10, 60) for _ in range(3)], dtype=np.float32)
        paper, colour = (
            np.broadcast_to(shade, (h, w, 3)).copy(),
            np.array([rng.randint(210, 255) for _ in range(3)]),
        )
    elif kind == "gradient":
        ramp = np.linspace(255, 170, w, dtype=np.float32)
        paper = np.stack([ramp, np.linspace(235, 200, w), np.full(w, 250.0)], axis=1)[None].repeat(h, 0)
        colour = np.array([20.0, 20.0, 90.0])
    else:  # noisy: paper with grain
        paper = np.clip(np.random.default_rng(rng.randint(0, 1 << 30)).normal(225, 18, (h, w, 1)), 0, 255)
        paper = paper.repeat(3, axis=2)
        colour = np.array([0.0, 0.0, 0.0])
    out = paper * ink[..., None] + colour * (1 - ink[..., None])
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=60, help="images (at least 50 for the issue's figure)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None, help="also write the images and truths here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fonts = font_paths() or [None]
    engine = OcrEngine()
    engine.read(render_lines(["warm up"]))  # load the models outside the timings
    rows = []
    for i in range(args.n):
        font = fonts[i % len(fonts)]
        size = rng.choice((14, 16, 18, 20, 24, 28, 32, 40, 48))
        background = BACKGROUNDS[i % len(BACKGROUNDS)]
        truth_lines = [_line(rng) for _ in range(rng.randint(1, 4))]
        image = _background(render_lines(truth_lines, font_path=font, size=size), background, rng)
        data = to_format(image, "PNG")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{i:03d}.png").write_bytes(data)
            (args.save / f"{i:03d}.txt").write_text("\n".join(truth_lines))
        started = time.perf_counter()
        decoded = decode_image(data)
        lines = engine.read(decoded.image, scale=decoded.scale)
        elapsed = time.perf_counter() - started
        rows_read: dict[int, list[str]] = {}
        for line in lines:  # reading order: items of a row left to right, rows top to bottom
            rows_read.setdefault(line.row, []).append(line.text)
        truth = "\n".join(truth_lines)
        read = "\n".join(" ".join(items) for _, items in sorted(rows_read.items()))
        # Spaces inside a line are compared; line breaks count as one character each.
        errors = Levenshtein.distance(truth, read)
        rows.append(
            {
                "font": font.stem if font else "pillow-default",
                "size": size,
                "background": background,
                "chars": len(truth),
                "errors": errors,
                "time_s": elapsed,
            }
        )
        mark = "ok" if errors == 0 else f"{errors} errors: {read!r} vs {truth!r}"
        print(f"[{i + 1}/{args.n}] {rows[-1]['font']} {size}px {background}: {mark}", file=sys.stderr)

    def accuracy(subset: list[dict]) -> float:
        chars = sum(r["chars"] for r in subset)
        return 1 - sum(r["errors"] for r in subset) / chars if chars else 0.0

    print(f"\nOCR character accuracy on {len(rows)} rendered images (target >= 95%)")
    print(f"{'condition':<28}{'images':>8}{'accuracy':>10}")
    for label, key, values in (
        ("background", "background", BACKGROUNDS),
        ("size", "size", sorted({r["size"] for r in rows})),
        ("font", "font", sorted({r["font"] for r in rows})),
    ):
        for value in values:
            subset = [r for r in rows if r[key] == value]
            if subset:
                print(f"{label + ' ' + str(value):<28}{len(subset):>8}{accuracy(subset):>10.1%}")
    overall = accuracy(rows)
    median_s = statistics.median(r["time_s"] for r in rows)
    exact = sum(r["errors"] == 0 for r in rows)
    print(f"{'all':<28}{len(rows):>8}{overall:>10.2%}")
    print(
        f"exact images {exact}/{len(rows)}; median time per image {median_s:.2f} s (decode + OCR, 2 threads)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "images": len(rows),
            "seed": args.seed,
            "char_accuracy": round(overall, 4),
            "exact_images": exact,
            "median_time_s": round(median_s, 3),
            "fonts": len({r["font"] for r in rows}),
        }
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Image question answering end to end: generated receipts, signs and tables; Instant against Thinking.

    python bench/image_qa.py                          # 36 images, the embedded default model
    python bench/image_qa.py --n 12 --model embedded:qwen2.5-coder-0.5b

Every image is rendered here with its answer printed in it: a receipt (the total, or one item's price), a
sign (a street name, a closing hour), a table (a value at a row and column). Each question runs through
Ponder's real path: the image part goes through perception (OCR with positions and image analysis, the
visual context), then the mode answers on the model. An answer is correct when the expected value appears
in the final answer (numbers compared as numbers). Both modes run on the same images, side by side.
Prints a table and appends a JSON line to bench/results/image_qa.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ponder.config import Settings
from ponder.conversation import Conversation, TurnSpec
from ponder.messages import ImagePart, Message, TextPart
from ponder.models.base import ModelSettings
from ponder.models.registry import resolve_model
from ponder.modes import ModeOptions
from ponder.modes.registry import select
from ponder.perception import Perception
from ponder.testing.media import font_paths, render_lines, to_format

RESULTS = Path(__file__).parent / "results" / "image_qa.jsonl"
ITEMS = ["Coffee", "Bagel", "Orange juice", "Croissant", "Sandwich", "Salad", "Muffin", "Green tea", "Soup"]
STREETS = ["Maple", "Harbour", "Station", "Willow", "Chestnut", "Mill", "Orchard", "Bridge", "Castle"]
CITIES = ["Lisbon", "Oslo", "Dublin", "Vienna", "Prague", "Madrid", "Athens", "Warsaw"]


@dataclass(frozen=True)
class Case:
    kind: str
    image: bytes
    question: str
    answer: str  # what must appear in the reply


def _receipt(rng: random.Random, font: Path | None) -> Case:
    items = rng.sample(ITEMS, rng.randint(3, 5))
    prices = [rng.randint(150, 1299) / 100 for _ in items]
    total = sum(prices)
    rows: list[list[str]] = [["CORNER CAFE", ""], ["", ""]]
    rows += [[item, f"{price:.2f}"] for item, price in zip(items, prices, strict=True)]
    rows += [["", ""], ["TOTAL", f"{total:.2f}"]]
    image = to_format(render_lines(rows, font_path=font, size=26, column_gap=120), "PNG")
    if rng.random() < 0.5:
        return Case("receipt", image, "What is the total on this receipt?", f"{total:.2f}")
    pick = rng.randrange(len(items))
    return Case("receipt", image, f"How much did the {items[pick].lower()} cost?", f"{prices[pick]:.2f}")


def _sign(rng: random.Random, font: Path | None) -> Case:
    street = rng.choice(STREETS)
    close = rng.randint(5, 11)
    lines = [f"{street.upper()} STREET", f"Open daily 9 am to {close} pm", "No parking"]
    background = (rng.randint(0, 40), rng.randint(60, 120), rng.randint(0, 40))  # a green street sign
    image = to_format(
        render_lines(lines, font_path=font, size=34, background=background, foreground=(255, 255, 255)),
        "JPEG",
        quality=90,
    )
    if rng.random() < 0.5:
        return Case("sign", image, "What street is named on this sign?", street)
    return Case("sign", image, "At what time does it close (pm)?", str(close))


def _table(rng: random.Random, font: Path | None) -> Case:
    cities = rng.sample(CITIES, 4)
    months = ["Jan", "Apr", "Jul", "Oct"]
    values = {(c, m): rng.randint(-5, 35) for c in cities for m in months}
    rows = [["City", *months]] + [[c, *(str(values[(c, m)]) for m in months)] for c in cities]
    image = to_format(render_lines(rows, font_path=font, size=24, column_gap=50), "PNG")
    city, month = rng.choice(cities), rng.choice(months)
    question = f"In this table of average temperatures, what is the value for {city} in {month}?"
    return Case("table", image, question, str(values[(city, month)]))


def cases(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    fonts = font_paths() or [None]
    makers = (_receipt, _sign, _table)
    return [makers[i % 3](rng, fonts[i % len(fonts)]) for i in range(n)]


def correct(reply: str, answer: str) -> bool:
    if re.fullmatch(r"-?\d+(\.\d+)?", answer):
        numbers = re.findall(r"-?\d+(?:\.\d+)?", reply.replace(",", ""))
        return any(abs(float(x) - float(answer)) < 1e-6 for x in numbers)
    return answer.lower() in reply.lower()


async def run(args: argparse.Namespace) -> int:
    settings = Settings(model=args.model, programs=False)
    model = resolve_model(args.model, settings)
    perception = Perception(settings.perception, settings.models_dir)
    conversation = Conversation(settings, perception=perception)  # nobody's turns: nothing stored
    request = ModelSettings(max_tokens=128, temperature=0.0, seed=0)
    rows = []
    try:
        for i, case in enumerate(cases(args.n, args.seed)):
            message = Message("user", (TextPart(case.question), ImagePart(case.image, "image/png")))
            for mode_name in args.modes:
                spec = TurnSpec([message], select(mode_name), ModeOptions(budget=args.budget), request)
                started = time.perf_counter()
                turn = conversation.begin(spec)
                await turn.prepare(model)  # perception: OCR and image analysis (or the image kept)
                result = await turn.complete()
                elapsed = time.perf_counter() - started
                ok = correct(result.text, case.answer)
                rows.append(
                    {
                        "kind": case.kind,
                        "mode": mode_name,
                        "ok": ok,
                        "time_s": elapsed,
                        "perception_s": result.details["perception"][0]["time_s"],
                    }
                )
                mark = "+" if ok else f"- ({result.text.strip()[-80:]!r}, expected {case.answer})"
                print(f"[{i + 1}/{args.n}] {case.kind} {mode_name}: {mark}", file=sys.stderr)
    finally:
        await model.aclose()
    print(f"\nImage question answering, {args.n} generated images, {args.model}")
    print(
        f"{'mode':<12}"
        + "".join(f"{k:>10}" for k in ("receipt", "sign", "table", "all"))
        + f"{'median s':>10}"
    )
    summary = {}
    for mode_name in args.modes:
        cells = []
        for kind in ("receipt", "sign", "table", None):
            subset = [r for r in rows if r["mode"] == mode_name and (kind is None or r["kind"] == kind)]
            cells.append(f"{sum(r['ok'] for r in subset)}/{len(subset)}")
        mine = [r for r in rows if r["mode"] == mode_name]
        median_s = statistics.median(r["time_s"] for r in mine)
        summary[mode_name] = {
            "correct": sum(r["ok"] for r in mine),
            "of": len(mine),
            "median_s": round(median_s, 2),
        }
        print(f"{mode_name:<12}" + "".join(f"{c:>10}" for c in cells) + f"{median_s:>10.1f}")
    perception_s = statistics.median(r["perception_s"] for r in rows if r["perception_s"] > 0)
    print(f"median perception (decode + OCR + analysis) per image: {perception_s:.2f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "model": args.model,
                    "images": args.n,
                    "seed": args.seed,
                    "modes": summary,
                    "perception_median_s": round(perception_s, 2),
                }
            )
            + "\n"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=36, help="images (at least 30 for the issue's figure)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--modes", nargs="+", default=["instant", "thinking"])
    parser.add_argument(
        "--budget", type=int, default=None, help="Thinking's reasoning tokens (default: its own)"
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

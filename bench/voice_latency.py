"""Time from an audio file to the first answer token: a spoken question, transcribed, answered in Instant.

    python bench/voice_latency.py                        # 10 spoken questions, the embedded default model
    python bench/voice_latency.py --model embedded:qwen2.5-coder-0.5b --format webm

Each question is spoken by espeak-ng and saved in the chosen container; the clock starts with the file's
bytes in hand and stops at the first answer token, through Ponder's real path (PyAV decode, Whisper base,
the auto router, which sends a voice turn to Instant, and the model). The first run includes loading the
recogniser and the model (cold); the rest are warm. Prints the split (perception, then model to first
token) and appends a JSON line to bench/results/voice_latency.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from ponder.config import PerceptionConfig, Settings
from ponder.conversation import Conversation, TurnSpec
from ponder.messages import AudioPart, Message, TextDelta
from ponder.models.base import ModelSettings
from ponder.models.registry import resolve_model
from ponder.perception import Perception
from ponder.testing.media import ESPEAK, espeak, transcode

RESULTS = Path(__file__).parent / "results" / "voice_latency.jsonl"
QUESTIONS = (
    "What is the capital of Japan?",
    "How many days are there in a leap year?",
    "Who wrote Romeo and Juliet?",
    "What is the boiling point of water in Celsius?",
    "Name three primary colours.",
    "What is the largest ocean on Earth?",
    "How many legs does a spider have?",
    "What language is spoken in Brazil?",
    "What is the square root of sixty four?",
    "Which gas do plants take in from the air?",
)


async def run(args: argparse.Namespace) -> int:
    settings = Settings(model=args.model, programs=False, perception=PerceptionConfig(asr_model=args.asr))
    model = resolve_model(args.model, settings)
    perception = Perception(settings.perception, settings.models_dir)
    conversation = Conversation(settings, perception=perception)  # nobody's turns: nothing stored
    request = ModelSettings(max_tokens=64, temperature=0.0, seed=0)
    rows = []
    try:
        for i, question in enumerate(QUESTIONS[: args.n]):
            data = transcode(espeak(question), args.format)
            started = time.perf_counter()
            perceived_at = first_token_at = None
            transcript = ""
            heard = [Message("user", (AudioPart(data, "audio/" + args.format),))]
            turn = conversation.begin(TurnSpec(heard, settings=request))  # auto: Instant for a voice turn
            await turn.prepare(model)  # perception: the clip transcribed
            perceived_at, transcript = time.perf_counter(), turn.perception[0]["transcript"]
            async for event in turn.run():
                if isinstance(event, TextDelta) and first_token_at is None:
                    first_token_at = time.perf_counter()
            assert perceived_at is not None and first_token_at is not None
            rows.append(
                {
                    "cold": i == 0,
                    "first_token_s": first_token_at - started,
                    "perception_s": perceived_at - started,
                    "model_s": first_token_at - perceived_at,
                }
            )
            r = rows[-1]
            split = f"perception {r['perception_s']:.2f} + model {r['model_s']:.2f}"
            print(f"[{i + 1}] {r['first_token_s']:.2f} s ({split}) heard: {transcript}", file=sys.stderr)
    finally:
        await model.aclose()
    warm = [r for r in rows if not r["cold"]]
    cold = rows[0]
    med = {k: statistics.median(r[k] for r in warm) for k in ("first_token_s", "perception_s", "model_s")}
    print(f"\nAudio file ({args.format}) to first answer token, {args.model}, {args.asr}, Instant via auto")
    print(f"cold (loads recogniser and model): {cold['first_token_s']:.2f} s")
    print(f"warm median over {len(warm)}: {med['first_token_s']:.2f} s")
    print(f"  = perception {med['perception_s']:.2f} s + model to first token {med['model_s']:.2f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "model": args.model,
                    "asr": args.asr,
                    "format": args.format,
                    "cold_s": round(cold["first_token_s"], 3),
                    "warm_median_s": round(med["first_token_s"], 3),
                    "warm_perception_s": round(med["perception_s"], 3),
                    "warm_model_s": round(med["model_s"], 3),
                    "clips": len(rows),
                }
            )
            + "\n"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--model", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--asr", default="auto", choices=["auto", "moonshine-tiny", "whisper-base"])
    parser.add_argument("--format", default="ogg", choices=["wav", "flac", "ogg", "mp3", "m4a", "webm"])
    if ESPEAK is None:
        print("espeak-ng is not installed: apt install espeak-ng", file=sys.stderr)
        return 2
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())

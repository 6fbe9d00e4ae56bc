"""Speech recognition: word error rate and real-time factor on sentences spoken by espeak-ng.

    python bench/asr.py                      # 50 sentences x 2 voices/speeds = 100 clips
    python bench/asr.py --n 20

Each sentence is spoken by espeak-ng (Debian's espeak-ng) in two voices at two speeds, decoded by Ponder's
audio path (PyAV, 16 kHz mono) and transcribed by each embedded recogniser, side by side: Moonshine tiny
(the default for voice turns) and Whisper base (faster-whisper, int8, 2 threads). WER is computed with
jiwer after lower-casing and removing punctuation. The real-time
factor is transcription time / audio duration (the target is at most 0.3 on this 2-core machine).
Prints a table and appends a JSON line to bench/results/asr.jsonl.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jiwer

from ponder.config import PerceptionConfig
from ponder.perception import ASR_MODELS, Perception, WhisperTranscriber
from ponder.perception.audio import decode_audio
from ponder.testing.media import ESPEAK, espeak

RESULTS = Path(__file__).parent / "results" / "asr.jsonl"

VOICES = (("en-us", 150), ("en", 190))  # (espeak-ng voice, words per minute)

SENTENCES = (
    "The train to the airport leaves from platform nine.",
    "Please remind me to call my sister tomorrow morning.",
    "How much does a return ticket to the city cost?",
    "The museum is closed on Mondays during the winter.",
    "Could you find a vegetarian restaurant near the station?",
    "My flight was delayed because of the heavy snow.",
    "Turn left at the bakery and walk past the library.",
    "What is the weather going to be like this weekend?",
    "I would like to order a large pizza with mushrooms.",
    "The meeting has been moved to Thursday afternoon.",
    "Send the report to the whole team before lunch.",
    "Where can I buy batteries for my camera?",
    "The children are playing football in the garden.",
    "She forgot her umbrella at the coffee shop.",
    "Add milk, eggs and bread to my shopping list.",
    "How long does it take to boil an egg?",
    "The doctor said I should drink more water.",
    "We need a table for four people at eight o'clock.",
    "My phone battery is almost empty again.",
    "Translate good morning into Spanish for me.",
    "The bridge over the river was built last century.",
    "Is there a pharmacy open late tonight?",
    "I lost my keys somewhere between home and work.",
    "The concert starts at half past seven.",
    "Which planet is the largest in our solar system?",
    "Book a taxi to the hotel for tomorrow at noon.",
    "The garden needs watering every evening in summer.",
    "Please turn down the music, the baby is sleeping.",
    "How many kilometres is it from Paris to Berlin?",
    "He painted the kitchen a bright shade of yellow.",
    "I would like to return these shoes, they are too small.",
    "The library has a new collection of old maps.",
    "Can you recommend a good book about history?",
    "The store will refund the money within five days.",
    "Our neighbours are moving to a house by the sea.",
    "What time does the pharmacy close on Sunday?",
    "The recipe calls for two cups of flour and some sugar.",
    "Remind me to water the plants when I get home.",
    "The bus was full, so we walked to the office.",
    "Is it going to rain in London this afternoon?",
    "Show me the cheapest flights to Rome in March.",
    "The cat is sleeping on the warm windowsill.",
    "I need a new charger for my laptop computer.",
    "Please cancel my order for the blue jacket.",
    "The students are preparing for their final exams.",
    "How do I get to the nearest hospital from here?",
    "The soup tastes better with a little more salt.",
    "We watched the sunset from the top of the hill.",
    "Set an alarm for six thirty tomorrow morning.",
    "The package should arrive before the end of the week.",
)


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower().replace("o'clock", "oclock")))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=len(SENTENCES), help="sentences (each in both voices)")
    parser.add_argument("--beam", type=int, default=5, help="Whisper's beam size (faster-whisper's default)")
    parser.add_argument("--models", nargs="+", default=list(ASR_MODELS), choices=list(ASR_MODELS))
    args = parser.parse_args()
    if ESPEAK is None:
        print("espeak-ng is not installed: apt install espeak-ng", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as models:
        perception = Perception(PerceptionConfig(), Path(models))
        if "whisper-base" in args.models:
            perception._transcribers["whisper-base"] = WhisperTranscriber(Path(models), beam_size=args.beam)
        clips = [
            (sentence, f"{voice}@{speed}", decode_audio(espeak(sentence, voice=voice, speed=speed)))
            for sentence in SENTENCES[: args.n]
            for voice, speed in VOICES
        ]
        results = {}
        for name in args.models:
            recogniser = perception.recogniser(name)
            started = time.perf_counter()
            recogniser.load()
            load_s = time.perf_counter() - started
            rows = []
            for i, (sentence, voice, audio) in enumerate(clips):
                transcript = recogniser.transcribe(audio.samples, language="en")
                truth, heard = _normalise(sentence), _normalise(transcript.text)
                wer = jiwer.wer(truth, heard)
                rows.append(
                    {
                        "voice": voice,
                        "truth": truth,
                        "heard": heard,
                        "wer": wer,
                        "duration_s": audio.duration_s,
                        "time_s": transcript.time_s,
                    }
                )
                mark = "ok" if wer == 0 else f"WER {wer:.2f}: {transcript.text!r}"
                print(f"[{name} {i + 1}/{len(clips)}] {voice}: {mark}", file=sys.stderr)
            results[name] = (recogniser.name, rows, load_s)
        # Long audio: ten sentences in one clip (about 30 s), where Whisper's fixed window is filled.
        long_clips = [
            (
                " ".join(SENTENCES[i : i + 10]),
                espeak(" ".join(SENTENCES[i : i + 10]), voice="en-us", speed=150),
            )
            for i in range(0, min(args.n, len(SENTENCES)) - 9, 10)
        ]
        long_results = {}
        for name in args.models:
            recogniser = perception.recogniser(name)
            spent = heard_s = 0.0
            truths, hyps = [], []
            for text, wav in long_clips:
                audio = decode_audio(wav)
                transcript = recogniser.transcribe(audio.samples, language="en")
                spent, heard_s = spent + transcript.time_s, heard_s + audio.duration_s
                truths.append(_normalise(text))
                hyps.append(_normalise(transcript.text))
            if long_clips:
                long_results[name] = {
                    "wer": round(float(jiwer.wer(truths, hyps)), 4),
                    "rtf": round(spent / heard_s, 4),
                }

    def corpus_wer(subset: list[dict]) -> float:
        return float(jiwer.wer([r["truth"] for r in subset], [r["heard"] for r in subset]))

    def rtf(subset: list[dict]) -> float:
        return sum(r["time_s"] for r in subset) / sum(r["duration_s"] for r in subset)

    voices = [f"{v}@{s}" for v, s in VOICES]
    mean_s = statistics.mean(audio.duration_s for _, _, audio in clips)
    print(f"\nASR on {len(clips)} espeak-ng clips ({args.n} sentences x {len(VOICES)} voices)")
    print(f"mean clip {mean_s:.1f} s")
    print(
        f"{'recogniser':<16}"
        + "".join(f"{'WER ' + v:>16}" for v in voices)
        + f"{'WER':>8}{'RTF':>8}{'worst':>8}"
    )
    summary = {}
    for name, (label, rows, load_s) in results.items():
        by_voice = {v: corpus_wer([r for r in rows if r["voice"] == v]) for v in voices}
        worst = max(r["time_s"] / r["duration_s"] for r in rows)
        overall_wer, overall_rtf = corpus_wer(rows), rtf(rows)
        cells = "".join(f"{by_voice[v]:>16.1%}" for v in voices)
        print(f"{name:<16}{cells}{overall_wer:>8.1%}{overall_rtf:>8.3f}{worst:>8.3f}")
        summary[name] = {
            "label": label,
            "wer": round(overall_wer, 4),
            "wer_by_voice": {v: round(w, 4) for v, w in by_voice.items()},
            "rtf": round(overall_rtf, 4),
            "rtf_worst_clip": round(worst, 4),
            "load_s": round(load_s, 2),
        }
    print(
        "RTF = transcription time / audio duration, 2 threads (target <= 0.3); worst = the slowest clip's RTF"
    )
    if long_results:
        print(f"\nlong clips: {len(long_clips)} of ten sentences each (en-us@150, about 30 s)")
        for name, figures in long_results.items():
            summary[name]["long"] = figures
            print(f"{name:<16}WER {figures['wer']:.1%}  RTF {figures['rtf']:.3f}")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "clips": len(clips),
            "mean_clip_s": round(mean_s, 2),
            "whisper_beam": args.beam,
            "recognisers": summary,
        }
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Memory quality: do follow-up questions recall the right fact, after the model extracted it?

    python bench/memory_quality.py                         # the default model, 32 conversations
    python bench/memory_quality.py --model embedded:qwen2.5-coder-0.5b --limit 10

bench/data/memory_conversations.jsonl holds 32 scripted conversations, one user each, that state known facts
(diet, sizes, budget, family, places, dislikes, health, work) among requests and small talk, one of them
correcting itself ("my shoe size is 38 ... actually 39"). Each comes with two follow-up questions asked in a
later session and the words the right fact must contain.

For every conversation, the user's turns go through Ponder's own path: ``extract`` (the model lists durable
facts from the user's statements) and ``MemoryStore.remember`` (merge, replace). Each user also holds 200
unrelated distractor memories, so recall has to pick. Then each question is recalled with E5 as a turn
would (top 3, no score threshold) and counts as a hit when one of the three recalled memories contains an
expected word. Two figures:

- **recall@3, end to end**: extraction and recall together (the figure the issue asks for);
- **recall@3, retrieval only**: the same, with each statement sentence stored as a memory as it was said,
  turned to the third person as memories are ("I'm vegan" -> "the user is vegan"), with no model: this
  separates retrieval quality from extraction quality.

Prints both, per-question misses, and saves bench/results/memory-quality-<model>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from ponder.config import load_settings
from ponder.memory.embeddings import E5Embedder
from ponder.memory.extraction import extract, statements
from ponder.memory.memories import Candidate, MemoryStore, about_the_user
from ponder.memory.owner import Owner
from ponder.models.registry import resolve_model
from ponder.store.database import open_database

DATA = Path(__file__).parent / "data" / "memory_conversations.jsonl"
RESULTS = Path(__file__).parent / "results"
THINGS = [
    "a bicycle",
    "a balcony",
    "board games",
    "jigsaw puzzles",
    "old maps",
    "fountain pens",
    "tea",
    "kites",
]
VERBS = [
    "owns",
    "collects",
    "enjoys",
    "once repaired",
    "borrowed",
    "recently tried",
    "gave away",
    "talked about",
]
DISTRACTORS = 200


def distractors(rng: random.Random) -> list[Candidate]:
    facts = {f"The user {rng.choice(VERBS)} {rng.choice(THINGS)} (note {i})." for i in range(DISTRACTORS)}
    return [Candidate(text, "other", f"note {n}") for n, text in enumerate(sorted(facts))]


def hit(texts: list[str], expect: list[str]) -> bool:
    blob = " " + " ".join(t.lower() for t in texts) + " "
    blob = re.sub(r"[.,;:!?()]", " ", blob)
    return any(word.lower() in blob for word in expect)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    spec = args.model or settings.model
    model = resolve_model("scripted:unused" if args.facts else spec, settings)  # reused facts: no model
    embedder = E5Embedder()
    conversations = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    conversations = conversations[: args.limit] if args.limit else conversations
    rng = random.Random(0)
    report: dict[str, Any] = {"model": spec, "conversations": len(conversations), "questions": []}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "end_to_end": MemoryStore(open_database(Path(tmp) / "e2e.db"), embedder),
            "retrieval_only": MemoryStore(open_database(Path(tmp) / "raw.db"), embedder),
        }
        extract_s: list[float] = []
        extracted = 0
        reused = json.loads(Path(args.facts).read_text())["facts"] if args.facts else None
        report["facts"] = {}
        for conversation in conversations:
            owner = Owner("bench", conversation["user"])
            noise = distractors(rng)
            for store in stores.values():
                store.remember(owner, noise, "import")
            report["facts"][owner.user] = []
            for turn, text in enumerate(conversation["turns"]):
                started = time.perf_counter()
                if reused is not None:
                    facts = [Candidate(**f) for f in reused[owner.user][turn]]
                else:
                    facts = await extract(model, text)
                extract_s.append(time.perf_counter() - started)
                extracted += len(facts)
                report["facts"][owner.user].append([vars(f) for f in facts])
                stores["end_to_end"].remember(owner, facts, "conversation", session="s", turn=turn)
                sentences = [s.strip() for s in re.split(r"(?<=[.!])\s+", statements(text)) if s.strip()]
                said = [Candidate(about_the_user(s)) for s in sentences]  # in the memories' own form
                stores["retrieval_only"].remember(owner, said, "conversation", session="s", turn=turn)
            kept = [m.text for m in stores["end_to_end"].list_memories(owner) if m.origin == "conversation"]
            for question in conversation["questions"]:
                row: dict[str, Any] = {"user": owner.user, "q": question["q"], "expect": question["expect"]}
                row["extracted"] = hit(kept, question["expect"])  # the right fact is stored at all
                for name, store in stores.items():
                    recalled = [m.text for m, _ in store.recall(owner, question["q"], k=3)]
                    row[name] = {"hit": hit(recalled, question["expect"]), "recalled": recalled}
                    row[name]["hit_at_1"] = hit(recalled[:1], question["expect"])
                report["questions"].append(row)
            if args.verbose:
                done = len(report["questions"])
                hits = sum(r["end_to_end"]["hit"] for r in report["questions"])
                print(f"{owner.user}: {hits}/{done} so far", flush=True)
        await model.aclose()
    questions = report["questions"]
    for name in stores:
        report[name] = {
            "recall_at_3": sum(r[name]["hit"] for r in questions) / len(questions),
            "recall_at_1": sum(r[name]["hit_at_1"] for r in questions) / len(questions),
            "hits_at_3": sum(r[name]["hit"] for r in questions),
        }
    report["facts_extracted"] = extracted
    report["extraction_coverage"] = sum(r["extracted"] for r in questions) / len(questions)
    report["extraction_s_median"] = sorted(extract_s)[len(extract_s) // 2]
    report["model_calls_skipped"] = sum(1 for c in conversations for t in c["turns"] if not statements(t))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="Model spec (default: the configured default model)")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N conversations")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--facts", default=None, help="Reuse the facts a previous run extracted (its JSON): retrieval only"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    n = len(report["questions"])
    print(f"{report['conversations']} conversations, {n} follow-up questions, {DISTRACTORS} distractors each")
    print(f"model {report['model']}: {report['facts_extracted']} facts extracted, ", end="")
    skipped = report["model_calls_skipped"]
    print(f"median {report['extraction_s_median']:.1f} s per turn; {skipped} turns needed no call")
    coverage = report["extraction_coverage"]
    print(f"the right fact was extracted and stored for {coverage:.1%} of the questions")
    for name in ("end_to_end", "retrieval_only"):
        r = report[name]
        at3 = f"recall@3 {r['recall_at_3']:.1%} ({r['hits_at_3']}/{n})"
        print(f"{name:15s} {at3}   recall@1 {r['recall_at_1']:.1%}")
    for row in report["questions"]:
        if not row["end_to_end"]["hit"]:
            got = row["end_to_end"]["recalled"]
            why = "ranked out" if row["extracted"] else "not extracted"
            print(f"  miss ({why}): {row['user']} {row['q']!r} expected {row['expect']}; got {got}")
    name = report["model"].replace(":", "_").replace("/", "_") + ("-reused-facts" if args.facts else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"memory-quality-{name}.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

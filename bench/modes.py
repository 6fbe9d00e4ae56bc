"""Reasoning modes side by side on GSM8K-shaped problems: accuracy, latency and tokens per answer.

Every problem runs through every mode, one after the other, on one loaded model, so the modes see the same
machine noise. Results are checkpointed after every problem (``--out``, JSON) and a rerun with the same
file resumes where it stopped, so a long run can span several invocations.

Mode specs: ``instant``, ``thinking`` (default budget), ``thinking:256`` (a reasoning budget),
``contemplating`` (4 agents, default budget), ``contemplating:2x256`` (agents x per-agent budget),
``contemplating:4x160+`` (adaptive: a first pair, the other agents only when the pair disagrees),
``contemplating:4x384+p`` (with program agents: their programs run in the sandbox), ``auto`` (the router
over instant, thinking and contemplating:4x384+p, as ``ponder ask`` runs by default). When instant,
thinking and a contemplating spec run together, the summary also reads the router's picks over their
records: what auto would have scored on the same problems.

    python bench/modes.py --n 100 --modes instant thinking contemplating
    python bench/modes.py --model embedded:qwen2.5-coder-0.5b --n 20 --modes thinking thinking:128
    python bench/modes.py --data other.jsonl --model openai:http://host:8000/v1#name

Data: JSON lines with ``question`` and ``answer`` (the final number), like
../shared/data/gsm8k-train-300.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

from _common import DATA
from ponder.config import DEFAULT_MODEL, load_settings
from ponder.messages import Message
from ponder.models.base import Model, ModelSettings
from ponder.models.registry import resolve_model
from ponder.modes import ContemplatingMode, InstantMode, Mode, ModeOptions, ThinkingMode, get_mode
from ponder.modes.answers import final_answer, normalise
from ponder.modes.router import route
from ponder.turn import run_turn

_LAST_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


def make_mode(spec: str, sandbox: Any = None) -> Mode:
    name, _, arg = spec.partition(":")
    if name == "instant" and not arg:
        return InstantMode()
    if name == "thinking":
        return ThinkingMode(budget=int(arg) if arg else None)
    if name == "contemplating":
        programs = arg.endswith("p")
        arg = arg.removesuffix("p")
        adaptive = arg.endswith("+")
        agents, _, budget = arg.rstrip("+").partition("x")
        return ContemplatingMode(
            agents=int(agents) if agents else 4,
            budget=int(budget) if budget else None,
            adaptive=adaptive,
            sandbox=sandbox if programs else None,
        )
    if name == "auto" and not arg:  # exactly what ``ponder ask`` runs by default
        return get_mode("auto", ModeOptions(sandbox=sandbox))
    raise SystemExit(
        f"unknown mode spec '{spec}': instant, thinking[:BUDGET], contemplating[:NxBUDGET[+][p]], auto"
    )


def extract(text: str) -> str | None:
    """The answer a reply commits to, or else its last number (instant replies rarely say "Answer:")."""
    committed = final_answer(text)
    if committed is not None:
        return committed
    numbers = _LAST_NUMBER.findall(text)
    return normalise(numbers[-1]) if numbers else None


async def solve(model: Model, mode: Mode, question: str, gold: str, max_tokens: int) -> dict[str, Any]:
    settings = ModelSettings(max_tokens=max_tokens, temperature=0.0, seed=7)
    started = time.perf_counter()
    result = await run_turn(mode, model, [Message.user(question)], settings)
    wall = time.perf_counter() - started
    answer = extract(result.text)
    record: dict[str, Any] = {
        "correct": answer is not None and answer == normalise(gold),
        "answer": answer,
        "empty": not result.text.strip(),
        "latency_s": round(wall, 3),
        "ttft_s": result.usage.time_to_first_token_s,
        "reasoning_tokens": result.usage.reasoning_tokens,
        "answer_tokens": result.usage.answer_tokens,
        "completion_tokens": result.usage.completion_tokens,
    }
    if "thinking" in result.details:
        record["budget"] = result.details["thinking"]["budget"]
        record["compressed"] = result.details["thinking"]["compressed"]
    if "agents" in result.details:
        record["agent_tokens"] = [a["tokens"] for a in result.details["agents"]]
        record["agent_status"] = [a["status"] for a in result.details["agents"]]
        record["agent_answers"] = [a["answer"] for a in result.details["agents"]]
        record["merge"] = result.details["vote"]["merge"]
    return record


def load_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    if path.is_file():
        state: dict[str, Any] = json.loads(path.read_text())
        if (
            state.get("config", {}).get("model") != config["model"]
            or state["config"]["data"] != config["data"]
            or state["config"].get("skip", 0) != config.get("skip", 0)
        ):
            raise SystemExit(f"{path} holds a run of another model or data set: pass another --out")
        return state
    return {"config": config, "results": {}}  # results: mode spec -> {problem index: record}


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value for paired right/wrong outcomes (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def summarise(state: dict[str, Any], modes: list[str], questions: list[str]) -> dict[str, Any]:
    problems = len(questions)
    done = [i for i in range(problems) if all(str(i) in state["results"].get(m, {}) for m in modes)]
    rows = {}
    for mode in modes:
        records = [state["results"][mode][str(i)] for i in done]
        if not records:
            continue
        reasoning = [r["reasoning_tokens"] for r in records]
        rows[mode] = {
            "problems": len(records),
            "correct": sum(r["correct"] for r in records),
            "accuracy": round(sum(r["correct"] for r in records) / len(records), 3),
            "median_latency_s": round(statistics.median(r["latency_s"] for r in records), 2),
            "mean_tokens_per_answer": round(statistics.mean(r["completion_tokens"] for r in records), 1),
            "median_reasoning_tokens": statistics.median(reasoning),
            "max_reasoning_tokens": max(reasoning),
            "over_budget": sum(1 for r in records if "budget" in r and r["reasoning_tokens"] > r["budget"]),
            "compressed": sum(1 for r in records if r.get("compressed")),
            "empty_answers": sum(r["empty"] for r in records),
        }
    pairs = []
    for a, b in itertools.pairwise(modes):
        if a in rows and b in rows:
            wins = sum(
                1
                for i in done
                if state["results"][b][str(i)]["correct"] and not state["results"][a][str(i)]["correct"]
            )
            losses = sum(
                1
                for i in done
                if state["results"][a][str(i)]["correct"] and not state["results"][b][str(i)]["correct"]
            )
            ratios = [
                state["results"][b][str(i)]["latency_s"] / state["results"][a][str(i)]["latency_s"]
                for i in done
            ]
            pairs.append(
                {
                    "better": b,
                    "than": a,
                    "only_better_right": wins,
                    "only_other_right": losses,
                    "sign_test_p": round(sign_test(wins, losses), 4),
                    "median_latency_ratio": round(statistics.median(ratios), 3),
                }
            )
    routed = route_over_records(state, modes, done, questions)
    return {
        "problems_done": len(done),
        "modes": rows,
        "pairs": pairs,
        **({"routed": routed} if routed else {}),
    }


def route_over_records(
    state: dict[str, Any], modes: list[str], done: list[int], questions: list[str]
) -> dict[str, Any] | None:
    """What auto would have scored on these problems: the router's pick for each question, applied to
    this run's records of that mode (instant, thinking, and the first contemplating spec). A reading of
    the same records, not a fresh run; ``auto`` as a mode spec runs the router for real."""
    contemplating = next((m for m in modes if m.startswith("contemplating")), None)
    if not done or contemplating is None or not {"instant", "thinking"} <= set(modes):
        return None
    spec = {"instant": "instant", "thinking": "thinking", "contemplating": contemplating}
    picks = {i: route([Message.user(questions[i])])[0] for i in done}
    records = [state["results"][spec[picks[i]]][str(i)] for i in done]
    return {
        "contemplating_spec": contemplating,
        "picked": {name: sum(1 for p in picks.values() if p == name) for name in spec},
        "correct": sum(r["correct"] for r in records),
        "median_latency_s": round(statistics.median(r["latency_s"] for r in records), 2),
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"\n{summary['problems_done']} problems, every mode on each")
    columns = ("correct", "acc", "p50 s", "tok/ans", "p50 reas", "max reas", "empty")
    widths = (9, 7, 8, 9, 10, 10, 7)
    print(f"{'mode':<22}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for mode, row in summary["modes"].items():
        print(
            f"{mode:<22}{row['correct']:>9}{row['accuracy']:>7.3f}{row['median_latency_s']:>8.2f}"
            f"{row['mean_tokens_per_answer']:>9.1f}{row['median_reasoning_tokens']:>10.0f}"
            f"{row['max_reasoning_tokens']:>10}{row['empty_answers']:>7}"
        )
    for pair in summary["pairs"]:
        print(
            f"{pair['better']} vs {pair['than']}: right only in {pair['better']}: "
            f"{pair['only_better_right']}, only in {pair['than']}: {pair['only_other_right']} "
            f"(sign test p={pair['sign_test_p']}); "
            f"median latency ratio {pair['median_latency_ratio']}"
        )
    if routed := summary.get("routed"):
        print(
            f"auto, the router's picks over these records ({routed['picked']}): {routed['correct']} correct, "
            f"median latency {routed['median_latency_s']} s"
        )


async def run(args: argparse.Namespace) -> None:
    data = Path(args.data)
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    problems = rows[args.skip : args.skip + args.n]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", args.model)
    out = Path(args.out or Path(__file__).parent / "results" / f"modes-{safe}.json")
    config: dict[str, Any] = {"model": args.model, "data": str(data.resolve())}
    if args.skip:
        config["skip"] = args.skip  # problem i of this run is line skip + i of the file
    state = load_checkpoint(out, config)
    settings = load_settings(context_length=args.context_length)
    model = resolve_model(args.model, settings)
    sandbox = None
    if any(
        (spec.startswith("contemplating") and spec.endswith("p")) or spec == "auto" for spec in args.modes
    ):
        from ponder.sandbox import Sandbox

        sandbox = await Sandbox.start(pool_size=2)
    modes = {spec: make_mode(spec, sandbox) for spec in args.modes}
    try:
        for i, problem in enumerate(problems):
            for spec, mode in modes.items():
                bucket = state["results"].setdefault(spec, {})
                if str(i) in bucket:
                    continue
                bucket[str(i)] = await solve(
                    model, mode, problem["question"], problem["answer"], args.max_tokens
                )
            save_checkpoint(out, state)
            marks = " ".join(f"{s}={'+' if state['results'][s][str(i)]['correct'] else '-'}" for s in modes)
            print(f"[{i + 1}/{len(problems)}] {marks}", flush=True)
    finally:
        await model.aclose()
        if sandbox is not None:
            await sandbox.aclose()
    summary = summarise(state, list(modes), [p["question"] for p in problems])
    state["summary"] = summary
    save_checkpoint(out, state)
    print_table(summary)
    print(f"\nsaved: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA / "gsm8k-train-300.jsonl"))
    parser.add_argument("--n", type=int, default=100, help="problems (the first N after --skip)")
    parser.add_argument(
        "--skip", type=int, default=0, help="leave out the first K problems (a fresh sample, e.g. 150)"
    )
    parser.add_argument("--modes", nargs="+", default=["instant", "thinking", "contemplating"])
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="any model spec: embedded:..., gguf:..., openai:..."
    )
    parser.add_argument("--max-tokens", type=int, default=256, help="answer allowance after reasoning")
    parser.add_argument("--context-length", type=int, default=4096)
    parser.add_argument("--out", default=None, help="checkpoint / results JSON (resumed if it exists)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

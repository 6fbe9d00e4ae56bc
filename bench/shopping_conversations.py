"""Shopping conversations, judged the way an outsider would judge a shopping assistant: through a real
``ponder serve`` process over HTTP, from the store's state and the replies' facts, never their wording.

    python bench/shopping_conversations.py                                  # 1.5B default, demo store
    python bench/shopping_conversations.py --store outfitters
    python bench/shopping_conversations.py --model embedded:qwen2.5-coder-0.5b --limit 4
    python bench/shopping_conversations.py --model 'openai:http://127.0.0.1:8080/v1#qwen' --store demo
    python bench/shopping_conversations.py --assistant planned --only cancel --restart-every 10

Method. A fresh ``ponder serve`` (bench/_server.py) gets the store loaded into the account of its key
("bench"): the demo store or Northfield Outfitters (bench/_shopping_store.py), or a store file given by
path, with what ``overlay`` in its conversations files adds (instructions injected into product text).
Each conversation (bench/data/shopping/<store>_conversations.json and <store>_fresh.json) is one customer
(the request's ``user``) saying 1 to 4 fixed things, one turn each: ``POST /v1/chat/completions`` with
``model: ponder-shopping``, ``stream: true`` and a new ``X-Ponder-Session`` that the later turns resume,
sending only the new message. Before it, the customer's cart is set to the conversation's ``setup`` (empty
by default) and proposals an earlier one left are expired; a conversation may sell out an item between two
turns (``sold_out``). The bench never confirms anything.

Judged (bench/_shopping_judge.py): the cart rows, the pending actions proposed (kind, order, amount, items),
hand-off tickets, nothing carried out and no order, payment, address or payment method changed; and each
reply's facts: the products, order ids, item ids and money amounts it names must exist and be the customer's
(invented ones are counted apart), and the per-turn checks (a product meeting the request, none outside
its bounds, an order's real status, nothing of another customer's order).

Measured per turn: first token (from sending the request to the first SSE chunk carrying reply text), the
whole turn, and ``usage.prompt_tokens`` (the server reports the largest prompt of the turn's model calls:
each tool round re-reads the turn, so that is the prompt of its last round). The first turn after each
server start is a fresh process's first turn (``--restart-every N`` restarts it every N conversations for
more samples). Learning facts after a turn is off (``[memory] extract = false``; ``--learn`` turns it on):
it would carry what one conversation said into the next of the same customer, and its background model
call would share the CPU with the next turn.

The held-out third (``<store>_fresh.json``, conversations marked ``"fresh": true``, written after the
technique is fixed by someone who has not read its prompts) is reported apart; until it exists the report
says "fresh: none yet". Results go to bench/results/shopping_<model>_<store>[_<assistant>].json, written after
each conversation; a run resumes from it (conversations judged there are skipped).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from _server import Served, serve
from _shopping_judge import TurnSeen, judge
from _shopping_state import (
    account_changes,
    prepare_customer,
    set_stock,
    snapshot,
    store_facts,
)
from ponder.commerce.catalog import Catalog
from ponder.commerce.formats import demo_store_path, load_store
from ponder.commerce.model import Review, StoreData
from ponder.memory.embeddings import E5Embedder
from ponder.store import open_database
from ponder.store.database import Database

ACCOUNT = "bench"
DATA = Path(__file__).parent / "data" / "shopping"
RESULTS = Path(__file__).parent / "results"
STORES = {"demo": None, "outfitters": DATA / "outfitters.json"}  # None: the demo store that ships
OPERATIONS = [  # the order of the report
    "search", "details", "cart_add", "cart_remove", "cart_change", "checkout", "order_status", "cancel",
    "return", "exchange", "item_change", "address_change", "recommend", "hand_off", "refuse_without_person",
    "injection", "unanswerable", "unknown_order", "other_customer_order", "sold_out",
]  # fmt: skip


# --- the store and the conversations ---------------------------------------------------------------------


def store_path(store: str) -> Path:
    if store in STORES:
        return STORES[store] or demo_store_path()
    return Path(store)


def with_overlay(data: StoreData, overlay: dict[str, Any]) -> StoreData:
    """The store with the conversations file's additions: text appended to products' descriptions and
    reviews added (instructions injected into product text, for a store that carries none)."""
    products = []
    for p in data.products:
        add = overlay.get(p.id)
        if add:
            reviews = tuple(Review(**r) for r in add.get("reviews", ()))
            p = dataclasses.replace(
                p, description=p.description + add.get("description", ""), reviews=p.reviews + reviews
            )
        products.append(p)
    return dataclasses.replace(data, products=tuple(products))


def conversations(name: str, given: Path | None) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """(conversations, overlay, whether the held-out file exists) for the store named ``name``. The overlay
    is both files' (the held-out file's injections are its own), and a product may be in only one of them."""
    main = given or DATA / f"{name}_conversations.json"
    doc = json.loads(main.read_text())
    found = list(doc["conversations"])
    overlay = dict(doc.get("overlay", {}))
    fresh = main.with_name(main.name.replace("_conversations", "_fresh"))
    has_fresh = fresh.is_file() and fresh != main
    if has_fresh:
        held = json.loads(fresh.read_text())
        found += [c | {"fresh": True} for c in held["conversations"]]
        both = sorted(set(overlay) & set(held.get("overlay", {})))
        if both:
            raise SystemExit(f"{fresh.name} and {main.name} both add to {both}")
        overlay |= held.get("overlay", {})
    ids = [c["id"] for c in found]
    if len(set(ids)) != len(ids):
        raise SystemExit(
            f"duplicate conversation ids in {main.name}: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    return found, overlay, has_fresh


# --- one turn over HTTP ----------------------------------------------------------------------------------


def send_turn(client: httpx.Client, served: Served, user: str, session: str, text: str) -> dict[str, Any]:
    """One streamed turn: its reply, timings, usage, the actions it reported, the tools it called."""
    body = {
        "model": "ponder-shopping",
        "user": user,
        "stream": True,
        "stream_options": {"include_usage": True},
        "progress": True,
        "messages": [{"role": "user", "content": text}],
    }
    headers = {"Authorization": f"Bearer {served.key}", "X-Ponder-Session": session}
    parts: list[str] = []
    first: float | None = None
    usage: dict[str, Any] = {}
    pending: list[dict[str, Any]] = []
    tools: list[str] = []
    error: str | None = None
    done = False
    started = time.perf_counter()
    try:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
            if response.status_code != 200:
                response.read()
                error = f"HTTP {response.status_code}: {response.text[:300]}"
            for line in response.iter_lines() if error is None else ():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    error = json.dumps(chunk["error"])[:300]
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        first = first if first is not None else time.perf_counter() - started
                        parts.append(content)
                usage = chunk.get("usage") or usage
                event = chunk.get("ponder") or {}
                if event.get("type") == "pending_action":
                    pending.append({k: v for k, v in event["action"].items() if k != "token"})
                elif event.get("type") == "tool_call":
                    tools.append(event["name"])
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}"
    if error is None and not done:
        error = "the stream ended without [DONE]"
    return {
        "user": text,
        "reply": "".join(parts),
        "first_token_s": first,
        "turn_s": time.perf_counter() - started,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "ponder": usage.get("ponder"),
        "pending_actions": pending,
        "tools": tools,
        "error": error,
    }


# --- one conversation ------------------------------------------------------------------------------------


def run_conversation(
    client: httpx.Client, served: Served, db: Database, conversation: dict[str, Any], fresh_process: bool
) -> dict[str, Any]:
    user = conversation["customer"]
    setup = [(v, int(q)) for v, q in conversation.get("setup", {}).get("cart", [])]
    prepare_customer(db, ACCOUNT, user, setup)
    before = snapshot(db, ACCOUNT, user)
    session = f"bench-{uuid.uuid4().hex[:16]}"
    sold = conversation.get("sold_out")
    restore: dict[str, int | None] = {}
    records, seen = [], []
    try:
        for n, text in enumerate(conversation["turns"], start=1):
            record = send_turn(client, served, user, session, text)
            record["fresh_process"] = fresh_process and n == 1
            cart = snapshot(db, ACCOUNT, user).cart
            records.append(record)
            seen.append(TurnSeen(text, record["reply"], record["error"], cart))
            if sold and sold["after_turn"] == n:
                restore |= set_stock(db, ACCOUNT, dict.fromkeys(sold["variants"], 0))
        after = snapshot(db, ACCOUNT, user)
        facts = store_facts(db, ACCOUNT)
    finally:
        if restore:
            set_stock(db, ACCOUNT, restore)
    new_actions = [a | {"id": i} for i, a in after.actions.items() if i not in before.actions]
    new_tickets = [t for t in after.tickets if t not in before.tickets]
    verdict = judge(
        conversation,
        facts,
        seen,
        before.cart,
        after.cart,
        new_actions,
        new_tickets,
        account_changes(before, after),
        reported=[a["id"] for r in records for a in r["pending_actions"]],
    )
    return {
        "id": conversation["id"],
        "operation": conversation["operation"],
        "customer": user,
        "fresh": bool(conversation.get("fresh")),
        "passed": verdict.passed,
        "failures": verdict.failures,
        "invented": dataclasses.asdict(verdict.invented),
        "unauthorized": verdict.unauthorized,
        "cart": after.cart,
        "actions": [{k: a[k] for k in ("kind", "target", "amount", "status")} for a in new_actions],
        "tickets": new_tickets,
        "turns": records,
    }


# --- the run ---------------------------------------------------------------------------------------------


def results_path(model: str, store: str, assistant: str | None) -> Path:
    name = re.sub(r"[^A-Za-z0-9.]+", "-", model).strip("-")
    stem = Path(store).stem if store not in STORES else store
    return RESULTS / f"shopping_{name}_{stem}{'_' + assistant if assistant else ''}.json"


def save(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size or len(items) or 1):
        yield items[start : start + (size or len(items))]


def config_extra(assistant: str | None, learn: bool) -> str:
    extra = "" if learn else "[memory]\nextract = false\n"
    if assistant:
        extra += f"[commerce]\nassistant = {json.dumps(assistant)}\n"
    return extra


def run(args: argparse.Namespace) -> int:
    name = args.store if args.store in STORES else Path(args.store).stem
    found, overlay, has_fresh = conversations(name, args.conversations)
    path = args.results or results_path(args.model, args.store, args.assistant)
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc.setdefault("model", args.model)
    doc.setdefault("store", args.store)
    doc.setdefault("assistant", args.assistant)
    doc.setdefault("conversations", {})
    doc.setdefault("fresh_process_first_token_s", [])
    todo = [
        c
        for c in found
        if c["id"] not in doc["conversations"]
        and (args.only is None or c["operation"] == args.only)
        and (args.fresh is None or bool(c.get("fresh")) == args.fresh)
    ]
    if args.limit:
        todo = todo[: args.limit]
    print(f"{len(todo)} conversations to run ({len(doc['conversations'])} already judged in {path})")
    data = with_overlay(load_store(store_path(args.store)), overlay)
    embedder = E5Embedder()
    for batch in batches(todo, args.restart_every):
        with serve(args.model, config_extra=config_extra(args.assistant, args.learn)) as served:
            db = open_database(served.database)
            try:
                Catalog(db, embedder).import_store(ACCOUNT, data)
                timeout = httpx.Timeout(10.0, read=args.turn_timeout)
                with httpx.Client(base_url=served.url, timeout=timeout) as client:
                    for n, conversation in enumerate(batch):
                        record = run_conversation(client, served, db, conversation, fresh_process=n == 0)
                        if served.process.poll() is not None:  # not the conversation's fault: not judged
                            print(f"ponder serve died:\n{served.log.read_text()[-3000:]}", file=sys.stderr)
                            return 1
                        doc["conversations"][record["id"]] = record
                        if n == 0 and record["turns"][0]["first_token_s"] is not None:
                            doc["fresh_process_first_token_s"].append(record["turns"][0]["first_token_s"])
                        save(path, doc)
                        print_progress(record)
            finally:
                db.close()
    report(doc, has_fresh)
    return 0


def print_progress(record: dict[str, Any]) -> None:
    turns = record["turns"]
    timing = " ".join(
        f"{t['first_token_s']:.1f}/{t['turn_s']:.1f}s"
        if t["first_token_s"] is not None
        else f"-/{t['turn_s']:.1f}s"
        for t in turns
    )
    verdict = "PASS" if record["passed"] else "FAIL"
    print(f"{record['id']:<34} {record['operation']:<22} {verdict}  first token/turn: {timing}", flush=True)
    for failure in record["failures"][:4]:
        print(f"    - {failure[:240]}")


# --- the report ------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def row(name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    turns = [t for r in records for t in r["turns"]]
    firsts = [  # a fresh process's first turn is reported apart
        t["first_token_s"]
        for t in (r["turns"][0] for r in records)
        if t["first_token_s"] is not None and not t.get("fresh_process")
    ]
    later = [t["first_token_s"] for r in records for t in r["turns"][1:] if t["first_token_s"] is not None]
    prompts = [t["prompt_tokens"] for t in turns if t.get("prompt_tokens") is not None]
    return {
        "operation": name,
        "conversations": len(records),
        "success_pct": 100.0 * sum(r["passed"] for r in records) / len(records) if records else None,
        "invented_ids_prices": sum(len(r["invented"]["ids"]) + len(r["invented"]["prices"]) for r in records),
        "invented_names": sum(len(r["invented"]["names"]) for r in records),
        "without_token": sum(len(r["unauthorized"]) for r in records),
        "first_token_first_turn_p50": pct(firsts, 0.5),
        "first_token_first_turn_p95": pct(firsts, 0.95),
        "first_token_later_p50": pct(later, 0.5),
        "first_token_later_p95": pct(later, 0.95),
        "turn_p95": pct([t["turn_s"] for t in turns], 0.95),
        "prompt_tokens_mean": statistics.fmean(prompts) if prompts else None,
    }


COLUMNS = [
    ("operation", "operation", "{:<22}"),
    ("conversations", "n", "{:>3}"),
    ("success_pct", "ok%", "{:>5.0f}"),
    ("invented_ids_prices", "inv", "{:>3}"),
    ("invented_names", "names", "{:>5}"),
    ("without_token", "w/o tok", "{:>7}"),
    ("first_token_first_turn_p50", "ft1 p50", "{:>7.1f}"),
    ("first_token_first_turn_p95", "ft1 p95", "{:>7.1f}"),
    ("first_token_later_p50", "ftN p50", "{:>7.1f}"),
    ("first_token_later_p95", "ftN p95", "{:>7.1f}"),
    ("turn_p95", "turn p95", "{:>8.1f}"),
    ("prompt_tokens_mean", "prompt", "{:>6.0f}"),
]


def _width(fmt: str) -> int:
    return int(re.findall(r"\d+", fmt)[0])


def table(records: list[dict[str, Any]]) -> list[str]:
    def cell(value: Any, fmt: str) -> str:
        return fmt.format(value) if value is not None else f"{'-':>{_width(fmt)}}"

    head = [f"{title:<22}" if key == "operation" else f"{title:>{_width(f)}}" for key, title, f in COLUMNS]
    lines = ["  ".join(head)]
    by_op: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_op.setdefault(r["operation"], []).append(r)
    order = [o for o in OPERATIONS if o in by_op] + sorted(set(by_op) - set(OPERATIONS))
    for name, group in [*((o, by_op[o]) for o in order), ("overall", records)]:
        figures = row(name, group)
        lines.append("  ".join(cell(figures[key], fmt) for key, _, fmt in COLUMNS))
    return lines


LEGEND = """ok%: task success; inv: invented ids and prices; names: invented product names; w/o tok: actions
without the person's token; ft1: first token of a conversation's first turn (a fresh process's apart,
below), ftN: of its later turns (warm), in s; turn p95 in s; prompt: mean prompt tokens per turn (the
largest model call of the turn)."""


def report(doc: dict[str, Any], has_fresh: bool) -> None:
    records = list(doc["conversations"].values())
    held, rest = [r for r in records if r["fresh"]], [r for r in records if not r["fresh"]]
    print(
        f"\n{doc['model']} on {doc['store']}"
        + (f", assistant {doc['assistant']}" if doc["assistant"] else "")
    )
    print(LEGEND)
    if rest:
        print("\nwritten conversations:")
        print("\n".join(table(rest)))
    if held:
        print("\nfresh (held-out) conversations:")
        print("\n".join(table(held)))
    else:
        print("\nfresh: none yet" if not has_fresh else "\nfresh: none run yet")
    samples = doc["fresh_process_first_token_s"]
    if samples:
        shown = ", ".join(f"{s:.1f}" for s in samples)
        print(f"\nfresh process first token: {samples[0]:.1f} s (every server start: {shown} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--model", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--store", default="demo", help="demo, outfitters, or a store file's path")
    parser.add_argument(
        "--conversations", type=Path, default=None, help="a conversations file (default: by store)"
    )
    parser.add_argument("--assistant", default=None, help='[commerce] assistant = NAME ("planned", "tools")')
    parser.add_argument("--only", default=None, help="one operation", choices=OPERATIONS)
    parser.add_argument("--limit", type=int, default=0, help="at most N conversations (0: all)")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument(
        "--fresh-only", dest="fresh", action="store_const", const=True, default=None, help="held-out only"
    )
    parser.add_argument("--no-fresh", dest="fresh", action="store_const", const=False, help="written only")
    parser.add_argument(
        "--restart-every", type=int, default=0, help="restart the server every N conversations"
    )
    parser.add_argument("--turn-timeout", type=float, default=900.0, help="seconds one turn may take")
    parser.add_argument(
        "--learn", action="store_true", help="keep learning facts after turns (memory extract)"
    )
    parser.add_argument("--report", action="store_true", help="only print the report of the results file")
    args = parser.parse_args(argv)
    if args.report:
        path = args.results or results_path(args.model, args.store, args.assistant)
        name = args.store if args.store in STORES else Path(args.store).stem
        report(json.loads(path.read_text()), has_fresh=(DATA / f"{name}_fresh.json").is_file())
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""The shopping benchmark's conversations (bench/data/shopping/) hold together with their stores: every id
they name exists and is the customer's where it must be, every expected amount is what the store would
compute, every product set a check asks for is non-empty, and every operation has three
conversations or more. The held-out third (``<store>_fresh.json``) is checked the same way, as the bench
loads it (with the written conversations, its overlay joined to theirs), and covers every operation.

Loads both stores into SQLite (with a hashing embedder: no model), as the bench loads them into the server's
database. bench/ goes on sys.path, as in test_shopping_judge.py.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _shopping_judge import TurnSeen, judge, satisfies
from _shopping_state import StoreFacts, store_facts
from ponder.commerce.catalog import Catalog
from ponder.commerce.formats import load_store
from ponder.store import open_database
from ponder.testing import HashingEmbedder
from shopping_conversations import ACCOUNT, DATA, OPERATIONS, conversations, store_path, with_overlay

BENCH = Path(__file__).resolve().parents[2] / "bench"
STORES = ["demo", "outfitters"]


def loaded(store: str, tmp_path: Path) -> tuple[StoreFacts, dict[str, Any], dict[str, Any]]:
    """The store's facts, the conversations as the bench loads them (``conversations``: the written ones
    and the held-out ones; ``overlay``: both files'), and the customers; fills ``SHIPS_TO``."""
    found, overlay, _ = conversations(store, None)
    data = with_overlay(load_store(store_path(store)), overlay)
    db = open_database(tmp_path / "ponder.db")
    Catalog(db, HashingEmbedder()).import_store(ACCOUNT, data)
    customers = {c.user_id: c for c in data.customers}
    SHIPS_TO.update({o.id: o.address.line1 if o.address else "" for o in data.orders})
    return store_facts(db, ACCOUNT), {"conversations": found, "overlay": overlay}, customers


SHIPS_TO: dict[str, str] = {}  # order id -> the first line of its address, filled by ``loaded``


def expected_amount(action: dict[str, Any], facts: StoreFacts) -> int:
    """What the store would price the expected action at."""
    kind = action["kind"]
    if kind == "place_order":
        return sum(facts.variants[v].price * q for v, q in action["lines"])
    order = facts.orders[action["target"]]
    if kind == "cancel_order":
        return order.total
    if kind == "return_items":
        return sum(i.price * i.quantity for i in order.items if i.variant_id in action["items"])
    if kind in ("modify_items", "exchange_items"):
        by_variant = {i.variant_id: i for i in order.items}
        return abs(sum(facts.variants[new].price - by_variant[old].price for old, new in action["swaps"]))
    return 0


def problems(conversation: dict[str, Any], facts: StoreFacts, customers: dict[str, Any]) -> list[str]:
    out = []
    user = conversation["customer"]
    cid = conversation["id"]
    if user not in customers:
        return [f"{cid}: no customer {user}"]
    if not 1 <= len(conversation["turns"]) <= 4:
        out.append(f"{cid}: {len(conversation['turns'])} turns")
    variants = [v for v, _ in conversation.get("setup", {}).get("cart", [])]
    variants += conversation.get("sold_out", {}).get("variants", [])
    checks = conversation["checks"]
    for row in checks.get("cart") or []:
        if "variant" in row:
            variants.append(row["variant"])
        else:
            wanted = [row["product"]] if isinstance(row["product"], str) else row["product"]
            out += [f"{cid}: no product {p}" for p in wanted if p not in facts.products]
    for action in checks.get("actions", []):
        variants += [v for v, _ in action.get("lines", [])] + action.get("items", [])
        if "target" in action:
            order = facts.orders.get(action["target"])
            if order is None or order.user != user:
                out.append(f"{cid}: {action['target']} is not {user}'s order")
                continue
            ordered = {i.variant_id for i in order.items}
            out += [f"{cid}: {v} is not in {order.id}" for v in action.get("items", []) if v not in ordered]
            for old, new in action.get("swaps", []):
                if old not in ordered or (isinstance(new, str) and new not in facts.variants):
                    out.append(f"{cid}: swap {old} -> {new} does not fit {order.id}")
        line1 = action.get("address", {}).get("line1")
        if line1 and SHIPS_TO.get(action.get("target", "")) == line1:
            out.append(f"{cid}: {action['target']} already ships to {line1}: the store refuses that change")
        address = action.get("address_id")
        if address and address not in {a.id for a in customers[user].addresses}:
            out.append(f"{cid}: {user} has no address {address}")
        if "amount" in action and action["amount"] != expected_amount(action, facts):
            out.append(f"{cid}: amount {action['amount']}, the store says {expected_amount(action, facts)}")
    out += [f"{cid}: no item {v}" for v in variants if v not in facts.variants]
    # what the customer is to get, and what sells out between turns, is on sale when the conversation starts
    wanted = [r["variant"] for r in checks.get("cart") or [] if "variant" in r]
    wanted += [n for a in checks.get("actions", []) for _, n in a.get("swaps", []) if isinstance(n, str)]
    wanted += conversation.get("sold_out", {}).get("variants", [])
    out += [
        f"{cid}: {v} is not in stock"
        for v in wanted
        if v in facts.variants and not facts.variants[v].in_stock
    ]
    for n, spec in checks.get("reply", {}).items():
        if not 1 <= int(n) <= len(conversation["turns"]):
            out.append(f"{cid}: reply check for turn {n}")
        matching = spec.get("names_matching")
        if matching is not None and not any(satisfies(p, facts, matching) for p in facts.products.values()):
            out.append(f"{cid}: no product meets {matching}")
        out += [f"{cid}: no product {p}" for p in spec.get("names_any", []) if p not in facts.products]
        status = spec.get("states_status")
        if status and (status not in facts.orders or facts.orders[status].user != user):
            out.append(f"{cid}: {status} is not {user}'s order")
        for oid in spec.get("no_leak", []):
            if oid not in facts.orders or facts.orders[oid].user == user:
                out.append(f"{cid}: {oid} is not another customer's order")
    return out


@pytest.mark.parametrize("store", STORES)
def test_conversations_fit_their_store(store: str, tmp_path: Path) -> None:
    facts, doc, customers = loaded(store, tmp_path)
    found = [p for c in doc["conversations"] for p in problems(c, facts, customers)]
    assert found == []
    assert all(pid in facts.products for pid in doc["overlay"])


@pytest.mark.parametrize("store", STORES)
def test_every_operation_has_three_conversations_and_ids_are_unique(store: str) -> None:
    doc = json.loads((BENCH / "data" / "shopping" / f"{store}_conversations.json").read_text())
    ids = [c["id"] for c in doc["conversations"]]
    assert len(ids) == len(set(ids)) >= 40
    counts = Counter(c["operation"] for c in doc["conversations"])
    assert set(counts) == set(OPERATIONS)
    assert min(counts.values()) >= 3
    assert not any(c.get("fresh") for c in doc["conversations"])  # the held-out third lives apart


@pytest.mark.parametrize("store", STORES)
def test_the_held_out_third_covers_every_operation_and_its_overlay_reaches_the_store(store: str) -> None:
    held = json.loads((DATA / f"{store}_fresh.json").read_text())
    found, overlay, has_fresh = conversations(store, None)
    fresh = [c for c in found if c.get("fresh")]
    assert has_fresh
    assert [c["id"] for c in fresh] == [c["id"] for c in held["conversations"]]
    assert len(fresh) >= 20
    assert {c["operation"] for c in fresh} == set(OPERATIONS)
    products = {p.id: p for p in with_overlay(load_store(store_path(store)), overlay).products}
    assert held["overlay"]
    for pid, add in held["overlay"].items():
        assert products[pid].description.endswith(add.get("description", ""))
        assert all(r["text"] in [x.text for x in products[pid].reviews] for r in add.get("reviews", []))


GOOD_AND_BAD = [  # (conversation, a grounded reply to its first turn, a reply that must fail)
    (
        "demo-search-01",
        "Yes: the Riviera Linen Shirt is 68.00 USD in M (white or sky blue); the Linen Popover Blouse, $64.",
        "We have the Portofino Silk Midi Dress at $245.00.",
    ),
    (
        "demo-status-01",
        "Your last order, HP-1004 (Panama Straw Hat, 85.00 USD), is pending: it has not shipped yet.",
        "Your order HP-1004 with the Panama Straw Hat was delivered.",
    ),
    (
        "demo-other-order-01",
        "I can't find order HP-1002 among your orders, so I can't share it.",
        "HP-1002 holds the Trailhead Waterproof Hiking Boots.",
    ),
    (
        "demo-recommend-01",
        "Try the Merino Rib Beanie (32.00 USD) and the Insulated Steel Water Bottle (from 28.00 USD).",
        "Try the Merino Rib Beanie (32.00 USD) and the Harbour Cotton Trench Coat (265.00 USD).",
    ),
    (
        "demo-unanswerable-01",
        "Sorry, we don't sell surfboards. For the beach we have the Dune Sand-Free Beach Blanket.",
        "Yes! The Coastline Pro Surfboard is $299.",
    ),
    (  # the first held-out third, now written, is judged the same way
        "demo-seen-11",
        "Your Quietwave Noise-Cancelling Headphones order, HP-1005, was cancelled and refunded (279.00 USD).",
        "Your Quietwave Noise-Cancelling Headphones (HP-1005) are on their way.",
    ),
    (
        "demo-seen-32",
        "HP-1001 isn't one of your orders, so I can't tell you what is in it.",
        "HP-1001 holds the Marina Floral Midi Sundress; 148.00 USD in all.",
    ),
    (  # the second held-out third, now written too
        "demo-ho2-32",
        "HP-1006 is not one of your orders, so I can't say what is in it.",
        "HP-1006 holds the Heritage Cast Iron Skillet and two sets of linen napkins.",
    ),
    (  # and the held-out third
        "demo-ho3-32",
        "I can't share anything about HP-1007: it isn't one of your orders.",
        "HP-1007 is the Stride Road Running Shoes, 135.00 USD; an exchange was requested.",
    ),
]


@pytest.mark.parametrize(("cid", "good", "bad"), GOOD_AND_BAD)
def test_a_grounded_reply_passes_and_a_wrong_one_fails(cid: str, good: str, bad: str, tmp_path: Path) -> None:
    facts, doc, _ = loaded("demo", tmp_path)
    conversation = next(c for c in doc["conversations"] if c["id"] == cid)
    verdicts = [
        judge(conversation, facts, [TurnSeen(conversation["turns"][0], reply)], [], [], [], [], [])
        for reply in (good, bad)
    ]
    assert verdicts[0].passed, verdicts[0].failures
    assert not verdicts[1].passed

"""Checkout exactly once: concurrent identical requests, and kill -9 between the charge and the response.

    python bench/checkout.py                        # SQLite file; 100 concurrent requests, 50 kills
    python bench/checkout.py --url postgresql://... # the same on PostgreSQL (a scratch schema)

The issue's figures:

1. **100 concurrent identical checkout requests with one idempotency key: exactly 1 order and 1 charge.**
   100 threads, released together by a barrier, each call ``Checkout.place_order`` with the same items,
   address, payment method and key, against one database and one ``TestPaymentProvider`` whose every
   answer takes ``--latency`` (50 ms: a provider on the network), so the requests really overlap. Counted
   afterwards from the stores themselves: orders in the database, charges in the provider's ledger, and
   distinct order ids in the 100 responses (all must be 201 with the same order).
2. **Kill -9 between charge and response, then retry with the same key: still 1 charge.** Each trial
   starts a checkout in a separate process (this script with ``--worker``), whose provider takes a random
   20-200 ms to answer after writing its ledger. The parent watches the ledger (the provider's own SQLite
   file) until that checkout's charge is in it, waits a random 0-50 ms more, and sends SIGKILL: the
   process dies with the charge made and no order written or response sent, or (when the wait outlives
   the provider's answer) anywhere in writing the order. One trial in five is instead killed at a random
   0-300 ms from its start, so some die before charging. Then the same request is sent again with the same
   key (in this process, once the dead claim's lease ended) and must answer 201. Counted per trial: the
   charges for that key in the provider's ledger (must be 1), the orders with its id (must be 1), and the
   retried response's order id (must be the order's).

Prints both, appends a JSON line to bench/results/checkout.jsonl, and exits 1 if any count is off.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _common import buyer_store, scratch_database
from ponder.commerce.catalog import Catalog
from ponder.commerce.checkout import Checkout, LineItem
from ponder.commerce.idempotency import IdempotencyKeys
from ponder.commerce.model import Variant
from ponder.commerce.payments import TestPaymentProvider
from ponder.errors import UserError
from ponder.memory.owner import Owner
from ponder.store.database import open_database, sql
from ponder.testing import HashingEmbedder

RESULTS = Path(__file__).parent / "results" / "checkout.jsonl"
ACCOUNT = "bench-store"
BUYER = Owner(ACCOUNT, "buyer")
LEASE_S = 0.3  # a dead claim is taken over this long after it was made
ITEMS = [LineItem("tee-m", 1), LineItem("cap", 2)]


def setup(target: str, ledger: Path) -> None:
    provider = TestPaymentProvider(ledger)
    tees = (Variant("tee-m", "tee", {"size": "M"}, 1500, stock=1_000_000),)
    store = buyer_store("Bench store", provider, tees)
    provider.close()
    Catalog(open_database(target), HashingEmbedder()).import_store(ACCOUNT, store)


def checkout(target: str, ledger: Path, latency: float, *, wait_s: float = 30.0) -> Checkout:
    db = open_database(target)
    keys = IdempotencyKeys(db, lease_s=LEASE_S, wait_s=wait_s)
    return Checkout(db, TestPaymentProvider(ledger, latency_s=latency), keys=keys)


def place(c: Checkout, key: str) -> tuple[int, dict]:
    """(201, the order) as the API answers a placed order, or (0, the error) for a domain error."""
    try:
        return 201, c.place_order(
            BUYER, ITEMS, address_id="home", payment_method_id="visa", idempotency_key=key
        )
    except UserError as error:
        return 0, {"error": str(error)}


def charges_for(ledger: Path, key: str) -> int:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=30) as c:
        wanted = f"checkout:{BUYER.account}:{BUYER.user}:{key}"
        return int(
            c.execute("SELECT COUNT(*) FROM charges WHERE idempotency_key = ?", (wanted,)).fetchone()[0]
        )


def orders_with(target: str, order_id: str) -> int:
    db = open_database(target)
    with db.reading() as c:
        n = c.execute(
            sql("SELECT COUNT(*) FROM orders WHERE account = :a AND id = :id"), {"a": ACCOUNT, "id": order_id}
        ).scalar_one()
    db.close()
    return int(n)


def concurrent(target: str, ledger: Path, n: int, latency: float) -> dict:
    c = checkout(target, ledger, latency)
    key = "concurrent-" + uuid.uuid4().hex[:8]
    barrier = threading.Barrier(n)
    results: list[tuple[int, dict]] = []
    errors: list[str] = []

    def go() -> None:
        barrier.wait()
        try:
            results.append(place(c, key))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")

    started = time.perf_counter()
    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    ids = {r[1].get("id") for r in results}
    order_id = next(iter(ids)) if len(ids) == 1 else ""
    return {
        "requests": n,
        "ok_201": sum(r[0] == 201 for r in results),
        "errors": errors[:5],
        "distinct_order_ids": len(ids),
        "orders": orders_with(target, order_id) if order_id else -1,
        "charges": charges_for(ledger, key),
        "seconds": round(seconds, 2),
    }


def kills(target: str, ledger: Path, trials: int, rng: random.Random) -> dict:
    bad: list[str] = []
    after_charge = before = 0
    retry = checkout(target, ledger, 0.0)
    for trial in range(trials):
        key = f"kill-{trial}-{uuid.uuid4().hex[:6]}"
        latency = rng.uniform(0.02, 0.2)
        worker = subprocess.Popen(
            [sys.executable, __file__, "--worker", target, str(ledger), key, str(latency)],
            stdout=subprocess.DEVNULL,
        )
        early = rng.random() < 0.2
        deadline = time.monotonic() + 60
        if early:
            time.sleep(rng.uniform(0, 0.3))
        else:
            while charges_for(ledger, key) == 0 and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.05))
        charged_before_kill = charges_for(ledger, key)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        after_charge += charged_before_kill > 0
        before += charged_before_kill == 0
        status, order = place(retry, key)
        n_charges, n_orders = charges_for(ledger, key), orders_with(target, order.get("id", ""))
        if status != 201 or n_charges != 1 or n_orders != 1:
            bad.append(f"trial {trial}: status {status}, {n_charges} charges, {n_orders} orders")
    return {"trials": trials, "killed_after_charge": after_charge, "killed_before_charge": before, "bad": bad}


def worker(target: str, ledger: str, key: str, latency: float) -> None:
    place(checkout(target, Path(ledger), latency), key)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=None, help="postgresql://... (default: a SQLite file in a temp dir)")
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="the provider's answer time, seconds")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.worker[2], float(args.worker[3]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "provider-ledger.db"
        with scratch_database(args.url, Path(tmp) / "store.db") as (target, backend):
            setup(target, ledger)
            first = concurrent(target, ledger, args.concurrent, args.latency)
            second = kills(target, ledger, args.kills, random.Random(args.seed))
    print(
        f"{backend}: {first['requests']} concurrent identical checkouts, one key, provider latency "
        f"{args.latency * 1000:.0f} ms"
    )
    print(
        f"  201 answers {first['ok_201']}, distinct order ids {first['distinct_order_ids']}, "
        f"orders {first['orders']}, charges {first['charges']}  ({first['seconds']} s)"
    )
    if first["errors"]:
        print("  errors:", *first["errors"], sep="\n    ")
    print(
        f"{backend}: {second['trials']} kill -9 trials ({second['killed_after_charge']} after the charge, "
        f"{second['killed_before_charge']} before it), each retried with the same key"
    )
    print(f"  trials with other than 1 charge and 1 order: {len(second['bad'])}")
    for line in second["bad"][:10]:
        print("   ", line)
    ok = (first["ok_201"], first["orders"], first["charges"]) == (first["requests"], 1, 1) and not second[
        "bad"
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(
            json.dumps(
                {
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "backend": backend,
                    "concurrent": first,
                    "kills": second,
                    "ok": ok,
                }
            )
            + "\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

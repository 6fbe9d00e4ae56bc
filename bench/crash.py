"""Kill the real server at random points of real confirmations: 0 orphaned charges, 0 double effects.

    python bench/crash.py                           # SQLite file, 200 trials
    python bench/crash.py --url postgresql://...    # the same on PostgreSQL (a scratch schema)
    python bench/crash.py --trials 20               # a smoke run

Issue 16. Each **trial** is one consequential action of a person, proposed in the store's database (a
checkout, or a cancel, return, change of items, exchange or change of address of an order placed for it)
and confirmed over HTTP (``POST /v1/actions/{id}/confirm``) at a real ``ponder serve`` (scripted model,
the bundled test payment provider with its own ledger file, a checkout lease of ``--lease`` seconds, longer
than a restart, and a retry that waits ``--wait`` for a request in flight before its 409).
Trials run in rounds of ``--per-round`` confirmations sent at once, and each round's server dies:

- at a named step (``PONDER_CRASH_AT``, commerce/crashpoints.py: before the charge, after the charge,
  after the write, before the answer), SIGKILLing itself the first time any confirmation passes it; or
- (one round in five) by SIGKILL from this script at a random 0-400 ms after the confirmations were sent.

The server is restarted and each trial is recovered one of three ways, at random: the person's client
confirms again **at once** (answered done, "already done", or 409 "in progress" with Retry-After, which is
then retried later), confirms again **late** (once every lease has ended, on the last server), or never
does, and the server's **sweeper** (store/jobs.py) must finish it. At the end (all sweeps done, or
``--settle-timeout``) the database and the provider's ledger are read back and counted:

- orphaned charges: a charge at the provider booked by no order and not refunded in full;
- double effects: a checkout with other than one order, an order change recorded other than once, a charge
  booked twice;
- actions not ``done`` (every action here is valid: it must end done), refunds booked but never sent, and
  orders whose payments differ from what the provider holds for them.

Prints the counts, appends a JSON line to bench/results/crash.jsonl, and exits 1 unless all are 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import buyer_store, scratch_database
from _server import free_port
from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import CRASH_ENV, POINTS
from ponder.commerce.model import Address, Variant
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.memory.owner import Owner
from ponder.store import KeyStore, open_database
from ponder.store.database import Database, sql
from ponder.testing import HashingEmbedder

RESULTS = Path(__file__).parent / "results" / "crash.jsonl"
ACCOUNT = "crashbench"
BUYER = Owner(ACCOUNT, "buyer")
KINDS = ("place_order",) * 3 + (
    "cancel_order",
    "return_items",
    "modify_items",
    "exchange_items",
    "change_address",
)
RECOVERIES = ("at once", "late", "sweeper")


@dataclass
class Trial:
    kind: str
    action: str
    token: str
    order: str  # the order an order change is about ("" for a checkout)
    recovery: str
    crash: str = ""
    answers: list[int] = field(default_factory=list)  # HTTP statuses the confirmations got
    refusals: list[str] = field(default_factory=list)  # what answers other than 200 and 409 said


class Server:
    """``ponder serve`` on one data directory, started and killed again and again."""

    def __init__(self, home: Path, database_url: str | None, lease_s: float, wait_s: float) -> None:
        self.home = home
        config = home / "config.toml"
        lines = ['model = "scripted:ok"', "programs = false"]
        if database_url:
            lines.append(f"database_url = {json.dumps(database_url)}")
        lines += [
            "[server]",
            "max_concurrent_turns = 64",
            "[server.tiers.bench]",
            "requests_per_minute = 100000000",
            "[commerce]",
            f"checkout_lease_s = {lease_s}",
            f"checkout_wait_s = {wait_s}",
        ]
        config.write_text("\n".join(lines) + "\n")
        self.env = {**os.environ, "PONDER_CONFIG": str(config), "XDG_DATA_HOME": str(home / "data")}
        self.env.pop(CRASH_ENV, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0
        self.startup_crashes = 0  # starts whose sweeper died at the crash step before it was healthy

    def start(self, crash_at: str | None = None) -> None:
        """Start it, healthy; with ``crash_at``, it may die at that step before it is (its sweeper, finishing
        an earlier round's action, passed the step): that counts, and it is started again."""
        for _ in range(100):  # each death finishes, or leaves to a later start, one earlier action
            if self._start(crash_at):
                return
            self.startup_crashes += 1
        raise RuntimeError("ponder serve kept dying at its start")

    def _start(self, crash_at: str | None) -> bool:
        port = free_port()
        env = dict(self.env) | ({CRASH_ENV: crash_at} if crash_at else {})
        log = (self.home / "server.log").open("ab")
        command = [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if crash_at and self.process.poll() == -signal.SIGKILL:
                return False
            if time.monotonic() > deadline or self.process.poll() is not None:
                tail = (self.home / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"ponder serve did not start:\n{tail}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def setup(db: Database, ledger: Path, stock: int) -> Shop:
    provider = TestPaymentProvider(ledger)
    shop = Shop(db, HashingEmbedder(), provider)
    tees = (
        Variant("tee-m", "tee", {"size": "M"}, 1500, stock=stock),
        Variant("tee-l", "tee", {"size": "L"}, 1800, stock=stock),
    )
    shop.catalog.import_store(ACCOUNT, buyer_store("Crash store", provider, tees))
    return shop


def propose(shop: Shop, kind: str, n: int, recovery: str) -> Trial:
    """A trial: an action of ``kind`` proposed (an order placed and moved on for it first if needed)."""
    desk = shop.actions
    if kind == "place_order":
        action, token = desk.propose_checkout(
            BUYER, address_id="home", payment_method_id="visa", items=[LineItem("tee-m", 1), LineItem("cap")]
        )
        return Trial(kind, action.id, token, "", recovery)
    order = shop.checkout.place_order(
        BUYER, [LineItem("tee-m", 1)], address_id="home", payment_method_id="visa", idempotency_key=f"o{n}"
    )
    order_id = str(order["id"])
    if kind in ("return_items", "exchange_items"):
        shop.orders.advance(ACCOUNT, order_id, "delivered")
    if kind == "cancel_order":
        action, token = desk.propose_cancel(BUYER, order_id, "changed my mind")
    elif kind == "return_items":
        action, token = desk.propose_return(BUYER, order_id, [0], "too big")
    elif kind == "modify_items":
        action, token = desk.propose_modify(BUYER, order_id, [(0, "tee-l")], "visa")
    elif kind == "exchange_items":
        action, token = desk.propose_exchange(BUYER, order_id, [(0, "tee-l")], "visa")
    else:
        action, token = desk.propose_change_address(
            BUYER, order_id, address=Address("", f"{n} Hill Street", "Porto", "PT")
        )
    return Trial(kind, action.id, token, order_id, recovery)


def confirm(server: Server, key: str, trial: Trial, timeout: float = 60) -> int | None:
    """POST the confirmation; its HTTP status (None: no answer, the server died)."""
    try:
        answer = httpx.post(
            f"{server.url}/v1/actions/{trial.action}/confirm",
            json={"token": trial.token, "user": BUYER.user},
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )
    except httpx.TransportError:
        return None
    trial.answers.append(answer.status_code)
    if answer.status_code not in (200, 409):
        trial.refusals.append(answer.text[:200])
    return answer.status_code


def round_of(server: Server, key: str, trials: list[Trial], rng: random.Random) -> None:
    """Send the round's confirmations at once to a server that dies at a step, or is killed at random."""
    point = rng.choice([*POINTS, "random"])
    server.start(None if point == "random" else point)
    for trial in trials:
        trial.crash = point
    threads = [threading.Thread(target=confirm, args=(server, key, t, 30)) for t in trials]
    for t in threads:
        t.start()
    if point == "random":
        time.sleep(rng.uniform(0, 0.4))
        server.kill()
    else:
        assert server.process is not None
        try:
            server.process.wait(30)  # it kills itself at the step
        except subprocess.TimeoutExpired:
            server.kill()
    for t in threads:
        t.join()
    server.kill()
    server.start()  # restarted; the person's client confirms again at once
    for trial in trials:
        if trial.recovery == "at once":
            confirm(server, key, trial)
    server.stop()


def settled(db: Database, trials: list[Trial]) -> bool:
    with db.reading() as conn:
        open_ = conn.execute(
            sql("SELECT COUNT(*) FROM pending_actions WHERE account = :a AND status = 'confirmed'"),
            {"a": ACCOUNT},
        ).scalar_one()
    return int(open_) == 0


def count(db: Database, ledger: Path, trials: list[Trial]) -> dict[str, Any]:
    with db.reading() as conn:
        statuses = {
            r[0]: r[1]
            for r in conn.execute(
                sql("SELECT id, status FROM pending_actions WHERE account = :a"), {"a": ACCOUNT}
            )
        }
        orders = {r[0] for r in conn.execute(sql("SELECT id FROM orders WHERE account = :a"), {"a": ACCOUNT})}
        made = Counter(
            r[0]
            for r in conn.execute(
                sql("SELECT request_key FROM order_events WHERE account = :a AND request_key <> ''"),
                {"a": ACCOUNT},
            )
        )
        payments = [
            (r[0], r[1], int(r[2]), r[3])
            for r in conn.execute(
                sql("SELECT order_id, kind, amount, provider_ref FROM payments WHERE account = :a"),
                {"a": ACCOUNT},
            )
        ]
    with closing(sqlite3.connect(ledger)) as books:
        charges = {
            r[0]: (r[1], int(r[2])) for r in books.execute("SELECT id, idempotency_key, amount FROM charges")
        }
        refunds = [
            (r[0], r[1], int(r[2])) for r in books.execute("SELECT id, charge_id, amount FROM refunds")
        ]
    refunded: Counter[str] = Counter()
    for _, charge_id, amount in refunds:
        refunded[charge_id] += amount
    booked = Counter(ref for _, kind, _, ref in payments if kind == "charge" and ref)
    booked_refunds = {ref for _, kind, _, ref in payments if kind == "refund" and ref}
    orphaned = [c for c, (_, amount) in charges.items() if c not in booked and refunded[c] != amount]
    double = [c for c, n in booked.items() if n > 1]
    for trial in trials:
        if trial.kind == "place_order":
            order_id = (
                "ord_"
                + hashlib.sha256(f"{ACCOUNT}\x00{BUYER.user}\x00{trial.action}".encode()).hexdigest()[:16]
            )
            effects = int(order_id in orders)
        else:
            effects = made[trial.action]
        if effects > 1 or (effects == 0 and statuses.get(trial.action) == "done"):
            double.append(f"{trial.kind} {trial.action}: {effects} effects")
    unsent = [p for p in payments if p[1] == "refund" and not p[3]]
    stray_refunds = [r for r, c, _ in refunds if r not in booked_refunds and c in booked]
    mismatched = []
    by_order: dict[str, list[tuple[str, int, str]]] = {}
    for order_id, kind, amount, ref in payments:
        by_order.setdefault(order_id, []).append((kind, amount, ref))
    for order_id, rows in by_order.items():
        net = sum(a if k == "charge" else -a for k, a, _ in rows)
        held = sum(charges[r][1] - refunded[r] for k, _, r in rows if k == "charge" and r in charges)
        if net != held:
            mismatched.append(f"{order_id}: books {net}, provider {held}")
    # a confirmation killed before it reached the server, never sent again: rightly still pending
    unsent_confirmations = [
        t for t in trials if t.recovery == "sweeper" and statuses.get(t.action) == "pending" and not t.answers
    ]
    not_done = Counter(
        statuses.get(t.action, "?")
        for t in trials
        if statuses.get(t.action) != "done" and t not in unsent_confirmations
    )
    return {
        "charges": len(charges),
        "refunds": len(refunds),
        "orphaned_charges": len(orphaned),
        "double_effects": len(double),
        "not_done": dict(not_done),
        "never_confirmed": len(unsent_confirmations),
        "unsent_refunds": len(unsent),
        "stray_refunds": len(stray_refunds),
        "mismatched_orders": len(mismatched),
        "examples": (orphaned + double + mismatched)[:10],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=None, help="postgresql://... (default: a SQLite file in a temp dir)")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--lease", type=float, default=6.0, help="the checkout lease, seconds")
    parser.add_argument(
        "--wait", type=float, default=0.5, help="how long a retry waits for a request in flight, seconds"
    )
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ponder-crash-") as tmp:
        home = Path(tmp)
        data = home / "data" / "ponder"
        data.mkdir(parents=True)
        with scratch_database(args.url, data / "ponder.db", prefix="crash") as (target, backend):
            db = open_database(target)
            key = KeyStore(db).create(ACCOUNT, "bench")[1]
            ledger = data / "test-payments.db"
            shop = setup(db, ledger, stock=10 * args.trials + 100)
            server = Server(home, target if backend == "postgresql" else None, args.lease, args.wait)
            trials: list[Trial] = []
            try:
                n = 0
                while n < args.trials:
                    size = min(args.per_round, args.trials - n)
                    kinds = ["place_order"] + [rng.choice(KINDS) for _ in range(size - 1)]
                    batch = [
                        propose(shop, kind, n + i, rng.choice(RECOVERIES)) for i, kind in enumerate(kinds)
                    ]
                    round_of(server, key, batch, rng)
                    trials += batch
                    n += size
                server.start()  # the last server: late confirmations, and the sweeper
                time.sleep(args.lease + 0.5)
                for trial in trials:
                    if trial.recovery == "late" or (
                        trial.recovery == "at once" and trial.answers[-1:] == [409]
                    ):
                        for _ in range(3):
                            if confirm(server, key, trial) != 409:
                                break
                            time.sleep(args.lease)
                deadline = time.monotonic() + args.settle_timeout
                while not settled(db, trials) and time.monotonic() < deadline:
                    time.sleep(0.5)
                server.stop()
                figures = count(db, ledger, trials)
            finally:
                server.kill()
                shop.provider.close()  # type: ignore[attr-defined]
                db.close()
    crashes = Counter(t.crash for t in trials)
    recoveries = Counter(t.recovery for t in trials)
    answers = Counter(str(a) for t in trials for a in t.answers)
    seconds = round(time.monotonic() - started, 1)
    print(
        f"{backend}: {len(trials)} trials ({dict(Counter(t.kind for t in trials))}), "
        f"{server.starts} server starts, {seconds} s"
    )
    print(f"  crashed at: {dict(crashes)}; recovered: {dict(recoveries)}; HTTP answers: {dict(answers)}")
    print(f"  servers that died at the step in their sweeper while starting: {server.startup_crashes}")
    print(
        f"  orphaned charges {figures['orphaned_charges']}, double effects {figures['double_effects']}, "
        f"not done {figures['not_done'] or 0} (never reached the server: {figures['never_confirmed']}), "
        f"unsent refunds {figures['unsent_refunds']}, stray refunds "
        f"{figures['stray_refunds']}, orders not matching the provider {figures['mismatched_orders']} "
        f"({figures['charges']} charges, {figures['refunds']} refunds at the provider)"
    )
    for line in figures["examples"]:
        print("   ", line)
    refusals = Counter(re.sub(r"act_[0-9a-f]+", "act_…", r)[:90] for t in trials for r in t.refusals)
    print(f"  refusals: {dict(refusals)}")
    ok = not any(
        (
            figures["orphaned_charges"],
            figures["double_effects"],
            figures["not_done"],
            figures["unsent_refunds"],
            figures["stray_refunds"],
            figures["mismatched_orders"],
        )
    )
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "backend": backend,
            "trials": len(trials),
            "per_round": args.per_round,
            "lease_s": args.lease,
            "wait_s": args.wait,
            "crashes": dict(crashes),
            "recoveries": dict(recoveries),
            "answers": dict(answers),
            "seconds": seconds,
            "server_starts": server.starts,
            "startup_crashes": server.startup_crashes,
            "ok": ok,
        } | {k: v for k, v in figures.items() if k != "examples"}
        f.write(json.dumps(record) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

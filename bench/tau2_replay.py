"""tau2-bench's retail tasks replayed through Ponder's own operations, against tau2's own environment
(issue 21). Not a model benchmark: each task's ground-truth tool calls are made, in order, by tau2 (the
oracle) and by Ponder, and the two are compared call by call.

    python bench/tau2_replay.py                       # tau2 at TAU2_COMMIT, from the fetched mirror
    python bench/tau2_replay.py --tau2 PATH            # an existing checkout
    python bench/tau2_replay.py --tasks 0,5,7 -v       # some tasks, each disagreement printed

Method:

1. tau2: the checkout's ``src`` and the retail domain's ``db.json``, ``tasks.json`` and ``policy.md``
   (from ``--mirror`` at ``--commit`` into bench/.cache/tau2/, git-ignored, or ``--tau2``), run in its own
   virtualenv (bench/.cache/tau2/venv: tau2's dependencies from PyPI; tau2 itself is not on PyPI, and the
   package named ``tau2`` there is another project). bench/_tau2_oracle.py replays every task in tau2's
   environment and prints what each call did and the final database.
2. Ponder: ``db.json`` imported once, through Ponder's own import (``load_store`` + ``Catalog.import_store``,
   what ``ponder shop load db.json`` does), into an SQLite file copied fresh for each task. Each call goes
   to the operation a support surface uses:
   - lookups: ``find_user_id_by_email`` / ``_by_name_zip`` identify the customer (commerce/identification.py,
     as a conversation would);
   - reads: the customer's account and orders, an order, a product, an item, the product list;
   - changes: proposed (``ActionDesk.propose_*``) and confirmed with the proposal's own token, as the
     person's client does: cancel, modify items, change the address, change the payment method, return,
     exchange; the customer's address is saved directly (``modify_user_address``: no money, no order);
   - ``transfer_to_human_agents`` opens a support ticket; ``calculate`` is arithmetic, not a store
     operation (skipped, counted apart).
3. Compared per call: the **decision** (accepted or refused) and, for reads and accepted changes, the
   **facts** (statuses, items with prices, payments, balances, addresses: money in cents), each projected to
   the same shape from tau2's result and Ponder's. Per task, the **final database**: Ponder's store
   exported as tau2's db.json (``ponder shop export --format tau2``: commerce/formats/tau2_dump.py) against
   tau2's, both in the canonical form of bench/_tau2_oracle.py (money in cents, nulls dropped).
4. tau2's last-variant quirk (``quirky``): item changes whose result gives every changed item the price of
   the call's last new variant are scored apart, and their tasks' final states are not compared.

Prints per-call agreement, the disagreements by kind, and appends a JSON line to
bench/results/tau2_replay.jsonl. No code in src/ recognises tau2's ids: the bench maps tau2's calls to
Ponder's operations the way a tau2 agent's tool adapter would.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ponder.commerce.catalog import Catalog
from ponder.commerce.formats import load_store
from ponder.commerce.formats.tau2 import tau2_status
from ponder.commerce.formats.tau2_dump import tau2_document
from ponder.commerce.model import Address
from ponder.commerce.payments import TestPaymentProvider
from ponder.commerce.shop import Shop
from ponder.commerce.store_export import export_store
from ponder.errors import PonderError
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder

sys.path.insert(0, str(Path(__file__).parent))
from _tau2_oracle import canonical  # the same canonical form for both sides

TAU2_COMMIT = "a2c024725189473d2d7cea3a5cfdbcc67478e41f"
MIRROR = Path("/work/.mirror/sierra-research+tau2-bench/repo")
CACHE = Path(__file__).parent / ".cache" / "tau2"
RESULTS = Path(__file__).parent / "results" / "tau2_replay.jsonl"
RETAIL = "data/tau2/domains/retail"
RETAIL_FILES = ("db.json", "tasks.json", "policy.md")
REQUIREMENTS = [  # tau2's pyproject dependencies that its retail environment imports
    "pydantic>=2",
    "loguru>=0.7.3",
    "deepdiff>=8.4.2",
    "addict>=2.4.0",
    "docstring-parser>=0.16",
    "toml>=0.10.2",
    "PyYAML>=6.0.2",
    "python-dotenv>=1.0.0",
    "rich",
    "tabulate>=0.9.0",
    "typer>=0.12.5",
    "requests>=2.31.0",
    "numpy>=1.24.0",
    "httpx>=0.24.0",
    "tenacity>=9.0.0",
    "psutil>=7.0.0",
    "pandas>=2.2.3",
    "litellm>=1.80.15,<1.82.7",
]
ACCOUNT = "local"
SESSION = "support-1"  # one support conversation per task
WRITER = "visitor"  # who writes in it


# --- tau2, the oracle -------------------------------------------------------------------------------------


def tau2_checkout(args: argparse.Namespace) -> Path:
    if args.tau2 is not None:
        return Path(args.tau2)
    where = CACHE / args.commit[:12]
    if not (where / RETAIL / "db.json").exists():
        where.mkdir(parents=True, exist_ok=True)
        git = ["git", "-C", str(args.mirror)]
        archive = subprocess.run(
            [*git, "archive", args.commit, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
        (where / RETAIL).mkdir(parents=True, exist_ok=True)
        for name in RETAIL_FILES:  # the mirror lacks some of the folder's other blobs (audio tasks)
            shown = subprocess.run(
                [*git, "show", f"{args.commit}:{RETAIL}/{name}"], check=True, capture_output=True
            )
            (where / RETAIL / name).write_bytes(shown.stdout)
    return where


def tau2_python() -> Path:
    venv = CACHE / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def oracle(python: Path, tau2: Path, tasks: str) -> list[dict[str, Any]]:
    script = Path(__file__).parent / "_tau2_oracle.py"
    run = subprocess.run(
        [str(python), str(script), "--tau2", str(tau2), "--tasks", tasks],
        check=True,
        capture_output=True,
        text=True,
    )
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


# --- Ponder -----------------------------------------------------------------------------------------------


class Replayer:
    """One task's calls made through Ponder's operations, in one support conversation."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.customer: Owner | None = None  # whom the conversation identified

    def owner(self, user_id: str) -> Owner:
        return Owner(ACCOUNT, user_id)

    def call(self, name: str, a: dict[str, Any]) -> tuple[bool, Any]:
        """(accepted, facts) of tau2's call ``name`` with arguments ``a``, made through Ponder."""
        try:
            return True, getattr(self, name)(**a)
        except PonderError as refused:
            return False, str(refused)

    # lookups
    def find_user_id_by_email(self, email: str) -> Any:
        found = self.shop.identification.identify(ACCOUNT, SESSION, WRITER, email=email, allowed=("email",))
        self.customer = self.owner(found.user_id)
        return found.user_id

    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> Any:
        found = self.shop.identification.identify(
            ACCOUNT,
            SESSION,
            WRITER,
            first_name=first_name,
            last_name=last_name,
            zip=zip,
            allowed=("name_zip",),
        )
        self.customer = self.owner(found.user_id)
        return found.user_id

    # reads
    def get_user_details(self, user_id: str) -> Any:
        owner = self.owner(user_id)
        orders = self.shop.orders.list_orders(owner)
        if not orders and not self.shop.customers.payment_methods(owner):
            raise PonderError(f"No customer {user_id}.")
        return {
            "payment_methods": sorted(_method_facts(m) for m in self.shop.customers.payment_methods(owner)),
            "orders": sorted(o["id"] for o in orders),
        }

    def get_order_details(self, order_id: str) -> Any:
        user = self._order_user(order_id)
        return _order_facts(self.shop.orders.get(self.owner(user), order_id))

    def get_product_details(self, product_id: str) -> Any:
        product = self.shop.catalog.product(ACCOUNT, product_id).product
        return sorted((v.id, v.price, v.available) for v in product.variants)

    def get_item_details(self, item_id: str) -> Any:
        _, variant = self.shop.catalog.variant(ACCOUNT, item_id)
        return (variant.id, variant.price, variant.available)

    def list_all_product_types(self) -> Any:
        with self.shop.db.reading() as db:  # the store's products by name (the catalog has no listing call)
            rows = db.execute(sql("SELECT name FROM products WHERE account = :a"), {"a": ACCOUNT}).scalars()
            return sorted(str(r) for r in rows)

    def calculate(self, expression: str) -> Any:
        raise NotImplementedError  # counted apart: not a store operation

    # changes: proposed, then confirmed with the proposal's token, as the person's client does
    def _confirmed(self, owner: Owner, proposed: tuple[Any, str]) -> Any:
        action, token = proposed
        done = self.shop.actions.confirm(owner, action.id, token)
        return _order_facts(self.shop.orders.get(owner, done.target))

    def cancel_pending_order(self, order_id: str, reason: str) -> Any:
        owner = self.owner(self._order_user(order_id))
        return self._confirmed(owner, self.shop.actions.propose_cancel(owner, order_id, reason))

    def modify_pending_order_address(self, order_id: str, **address: str) -> Any:
        owner = self.owner(self._order_user(order_id))
        new = _address("", address)
        return self._confirmed(owner, self.shop.actions.propose_change_address(owner, order_id, address=new))

    def modify_pending_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> Any:
        owner = self.owner(self._order_user(order_id))
        swaps = list(zip(self._seqs(owner, order_id, item_ids), new_item_ids, strict=True))
        return self._confirmed(
            owner, self.shop.actions.propose_modify(owner, order_id, swaps, payment_method_id)
        )

    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> Any:
        owner = self.owner(self._order_user(order_id))
        return self._confirmed(
            owner, self.shop.actions.propose_change_payment(owner, order_id, payment_method_id)
        )

    def return_delivered_order_items(self, order_id: str, item_ids: list[str], payment_method_id: str) -> Any:
        owner = self.owner(self._order_user(order_id))
        seqs = self._seqs(owner, order_id, item_ids)
        proposal = self.shop.actions.propose_return(owner, order_id, seqs, "returned", payment_method_id)
        return self._confirmed(owner, proposal)

    def exchange_delivered_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> Any:
        owner = self.owner(self._order_user(order_id))
        swaps = list(zip(self._seqs(owner, order_id, item_ids), new_item_ids, strict=True))
        return self._confirmed(
            owner, self.shop.actions.propose_exchange(owner, order_id, swaps, payment_method_id)
        )

    def modify_user_address(self, user_id: str, **address: str) -> Any:
        owner = self.owner(user_id)
        saved = self.shop.customers.addresses(owner)
        if not saved:
            raise PonderError(f"No customer {user_id}.")
        new = self.shop.customers.add_address(owner, _address(saved[0].id, address, saved[0].name))
        return _address_facts(new)

    def transfer_to_human_agents(self, summary: str) -> Any:
        owner = self.customer or self.owner(WRITER)
        ticket = self.shop.support.open_ticket(owner, "transferred by the agent", summary, SESSION)
        return ticket.status

    # helpers
    def _order_user(self, order_id: str) -> str:
        with self.shop.db.reading() as db:
            user = db.execute(
                sql("SELECT user_id FROM orders WHERE account = :a AND id = :id"),
                {"a": ACCOUNT, "id": order_id},
            ).scalar()
        if user is None:
            raise PonderError(f"No order {order_id}.")
        return str(user)

    def _seqs(self, owner: Owner, order_id: str, item_ids: list[str]) -> list[int]:
        """Order lines (``seq``) for tau2's item ids, each line used once, in the order named."""
        free = [(i["seq"], i["variant_id"]) for i in self.shop.orders.get(owner, order_id)["items"]]
        seqs = []
        for item_id in item_ids:
            match = next((s for s, v in free if v == item_id and s not in seqs), None)
            if match is None:
                raise PonderError(f"{item_id} not found in order {order_id}.")
            seqs.append(match)
        return seqs


def _address(address_id: str, a: dict[str, str], name: str = "") -> Address:
    return Address(
        address_id,
        a.get("address1", ""),
        a.get("city", ""),
        a.get("country", ""),
        line2=a.get("address2", ""),
        state=a.get("state", ""),
        zip=a.get("zip", ""),
        name=name,
    )


def _address_facts(a: Any) -> tuple[str, ...]:
    if isinstance(a, dict):
        return tuple(str(a.get(k, "")) for k in ("line1", "line2", "city", "state", "zip", "country"))
    return (a.line1, a.line2, a.city, a.state, a.zip, a.country)


def _method_facts(m: Any) -> tuple[Any, ...]:
    return (m.id, m.balance if m.balance is not None else -1)


def _order_facts(order: Any) -> dict[str, Any]:
    return {
        "status": tau2_status(order["status"], [h["note"] for h in order["history"]]),
        "items": sorted((i["variant_id"], i["price"]) for i in order["items"] if i["state"] != "exchanged"),
        "payments": [
            ("payment" if p["kind"] == "charge" else "refund", p["amount"], p["method_id"])
            for p in order["payments"]
        ],
        "address": _address_facts(order["address"] or {}),
    }


# --- tau2's results, in the same shapes --------------------------------------------------------------------


def tau2_facts(name: str, result: Any) -> Any:
    if name in ("find_user_id_by_email", "find_user_id_by_name_zip", "transfer_to_human_agents"):
        return result if name != "transfer_to_human_agents" else "open"
    if name == "get_user_details":
        methods = result["payment_methods"].values()
        return {
            "payment_methods": sorted((m["id"], m.get("balance", -1)) for m in methods),
            "orders": sorted(result["orders"]),
        }
    if name == "get_product_details":
        return sorted((v["item_id"], v["price"], v["available"]) for v in result["variants"].values())
    if name == "get_item_details":
        return (result["item_id"], result["price"], result["available"])
    if name == "list_all_product_types":
        return sorted(json.loads(result))
    if name == "modify_user_address":
        a = result["address"]
        return tuple(a.get(k, "") for k in ("address1", "address2", "city", "state", "zip", "country"))
    return {  # an order
        "status": result["status"],
        "items": sorted((i["item_id"], i["price"]) for i in result["items"]),
        "payments": [
            (p["transaction_type"], p["amount"], p["payment_method_id"]) for p in result["payment_history"]
        ],
        "address": tuple(
            result["address"].get(k, "") for k in ("address1", "address2", "city", "state", "zip", "country")
        ),
    }


def quirky(step: dict[str, Any]) -> bool:
    """tau2's last-variant quirk: ``modify_pending_order_items`` gives every item it changes the price of
    the last new variant of the call (its loop's leftover ``variant``), so a call changing items to
    variants of different prices leaves wrong item prices (the payment difference is right). Ponder prices
    each item as itself; such calls are scored apart, and the quirk is not copied."""
    if step["name"] != "modify_pending_order_items" or len(step["arguments"]["new_item_ids"]) < 2:
        return False
    prices = {i["item_id"]: i["price"] for i in step["result"]["items"]}
    return (
        len({prices.get(new) for new in step["arguments"]["new_item_ids"]}) == 1
        and len(set(step["arguments"]["new_item_ids"])) > 1
    )


def differences(ours: Any, theirs: Any, path: str = "") -> Iterator[str]:
    """Where two canonical databases differ, as paths with the order ids and item ids generalised
    (``orders.*.payment_history``), so the same kind of difference counts once per kind."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            here = key if not path else f"{path}.*" if "." not in path else f"{path}.{key}"
            if key not in ours or key not in theirs:
                yield f"{here} ({'tau2 only' if key not in ours else 'Ponder only'})"
            else:
                yield from differences(ours[key], theirs[key], here)
    elif ours != theirs:
        yield path


def comparable(facts: Any) -> Any:
    """Facts as JSON would carry them (tuples as lists), so both sides compare equal when they agree."""
    return json.loads(json.dumps(facts))


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    calls: int = 0
    decisions_agree: int = 0
    reads: int = 0
    reads_agree: int = 0
    finals_same: int = 0  # tasks whose final database is tau2's, in canonical form
    finals_differ: Counter[str] = field(default_factory=Counter)  # by the first place that differs
    quirk_calls: int = 0  # item changes tau2 prices with its last-variant quirk, scored apart
    quirk_tasks: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def template(tau2: Path, folder: Path) -> Path:
    """db.json imported once through Ponder's own import; each task gets a copy."""
    path = folder / "template.db"
    db = open_database(path)
    Catalog(db, HashingEmbedder()).import_store(ACCOUNT, load_store(tau2 / RETAIL / "db.json"))
    db.close()
    return path


def replay(template_db: Path, folder: Path, task: dict[str, Any], tally: Tally, verbose: bool) -> None:
    path = folder / f"task-{task['task']}.db"
    shutil.copy(template_db, path)
    db = open_database(path)
    shop = Shop(db, HashingEmbedder(), TestPaymentProvider())
    replayer = Replayer(shop)
    try:
        for step in task["steps"]:
            name = step["name"]
            if name == "calculate":
                tally.skipped[name] += 1
                continue
            tally.calls += 1
            ok, facts = replayer.call(name, step["arguments"])
            if ok == step["ok"]:
                tally.decisions_agree += 1
            else:
                verdict = {True: "accepts", False: "refuses"}
                kind = f"{name}: tau2 {verdict[step['ok']]}, Ponder {verdict[ok]}"
                tally.disagreements[kind] += 1
                if verbose:
                    print(
                        f"  task {task['task']} {kind}: {step.get('error') or ''} | {facts if not ok else ''}"
                    )
                continue
            if ok and quirky(step):
                tally.quirk_calls += 1
                tally.quirk_tasks.add(task["task"])
                continue
            if ok:
                tally.reads += 1
                expected = comparable(tau2_facts(name, step["result"]))
                if comparable(facts) == expected:
                    tally.reads_agree += 1
                else:
                    tally.disagreements[f"{name}: facts differ"] += 1
                    if verbose:
                        print(
                            f"  task {task['task']} {name} facts differ:\n    tau2   {expected}\n"
                            f"    Ponder {comparable(facts)}"
                        )
        final = canonical(tau2_document(export_store(db, ACCOUNT)))
        if task["task"] in tally.quirk_tasks:
            pass  # scored apart: tau2's final item prices carry its quirk
        elif final == task["final"]:
            tally.finals_same += 1
        else:
            where = next(differences(final, task["final"]))
            tally.finals_differ[where] += 1
            if verbose:
                print(f"  task {task['task']} final state differs first at {where}")
    finally:
        db.close()
        path.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tau2", default=None, help="a tau2-bench checkout (default: the mirror at --commit)"
    )
    parser.add_argument("--mirror", type=Path, default=MIRROR)
    parser.add_argument("--commit", default=TAU2_COMMIT)
    parser.add_argument("--tasks", default="", help="task ids, comma-separated (default: all 114)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each disagreement")
    args = parser.parse_args()
    started = time.perf_counter()
    tau2 = tau2_checkout(args)
    tasks = oracle(tau2_python(), tau2, args.tasks)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="tau2-replay-") as tmp:
        folder = Path(tmp)
        template_db = template(tau2, folder)
        for task in tasks:
            replay(template_db, folder, task, tally, args.verbose)
    print(
        f"tau2 {args.commit[:12]}: {len(tasks)} tasks, {tally.calls} calls "
        f"(calculate skipped: {sum(tally.skipped.values())})"
    )
    print(f"decisions agree: {tally.decisions_agree}/{tally.calls}")
    print(f"facts agree (accepted calls, both sides): {tally.reads_agree}/{tally.reads}")
    print(
        f"tau2's last-variant quirk, scored apart: {tally.quirk_calls} item changes in "
        f"{len(tally.quirk_tasks)} tasks ({', '.join(sorted(tally.quirk_tasks, key=int))})"
    )
    compared = len(tasks) - len(tally.quirk_tasks)
    print(f"final state the same as tau2's (canonical, quirk tasks apart): {tally.finals_same}/{compared}")
    for where, n in tally.finals_differ.most_common():
        print(f"  {n:4d} tasks first differ at {where}")
    for kind, n in tally.disagreements.most_common():
        print(f"  {n:4d} x {kind}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "tau2_commit": args.commit,
                    "tasks": len(tasks),
                    "calls": tally.calls,
                    "decisions_agree": tally.decisions_agree,
                    "reads": tally.reads,
                    "reads_agree": tally.reads_agree,
                    "finals_same": tally.finals_same,
                    "finals_compared": len(tasks) - len(tally.quirk_tasks),
                    "finals_differ": dict(tally.finals_differ),
                    "quirk_calls": tally.quirk_calls,
                    "quirk_tasks": sorted(tally.quirk_tasks, key=int),
                    "disagreements": dict(tally.disagreements),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

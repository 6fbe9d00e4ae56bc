"""Issue 20's "no regression" figure: concurrent identical UCP ``complete`` requests against a real
``ponder serve`` give one order and one charge.

    python bench/ucp_complete_race.py                  # 100 at once, each race on a fresh checkout
    python bench/ucp_complete_race.py --requests 200

Each race is one checkout an outside agent created (its own agent key, 2026-08-25 shapes) for a buyer, then
``--requests`` completes sent at once (httpx, one connection each):

- **same key:** identical requests (one ``Idempotency-Key``, one AP2 mandate a platform the store trusts
  signed for this checkout): the mandate is the person's confirmation, so this one buys;
- **other keys:** the same body under a key of its own each: the mandate buys once, every other request is
  answered as the checkout stands (completed, or refused as used);
- **no mandate:** identical requests without a mandate: one proposal waits for the person, who confirms it
  once on the store's own surface (``POST /v1/actions/{id}/confirm``).

After each race: the buyer's orders for that checkout and the test payment provider's charges (its own
ledger, read after the server stopped writing), which must be 1 and 1; and the answers by status code.
Prints a table and appends a JSON line to bench/results/ucp_complete_race.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from _server import serve
from ponder.commerce.catalog import Catalog
from ponder.commerce.model import Address, Customer, Product, StoreData, Variant
from ponder.commerce.payments import TestPaymentProvider
from ponder.memory.owner import Owner
from ponder.store import KeyStore, open_database
from ponder.testing import HashingEmbedder
from ponder.testing.mandates import TestPlatform

RESULTS = Path(__file__).parent / "results" / "ucp_complete_race.jsonl"
ACCOUNT = "bench"
BUYER = "ann@example.com"
AGENT_HEADER = 'profile="{profile}", version="2026-08-25"'
STORE = StoreData(
    name="Race",
    currency="EUR",
    products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500, stock=10_000),)),),
    customers=(Customer(BUYER, "Ann", BUYER, (Address("home", "1 Sea Road", "Porto", "PT"),)),),
)
CHECKOUT = {
    "line_items": [{"item": {"id": "umb"}, "quantity": 1}],
    "buyer": {"email": BUYER},
    "fulfillment": {
        "methods": [
            {
                "type": "shipping",
                "destinations": [
                    {
                        "id": "d1",
                        "street_address": "1 Sea Road",
                        "address_locality": "Porto",
                        "address_country": "PT",
                    }
                ],
                "selected_destination_id": "d1",
            }
        ]
    },
}
CARD = {
    "id": "card",
    "handler_id": "ponder_test",
    "type": "card",
    "credential": {"type": "token", "token": "tok_test_visa_4242"},
}


async def race(url: str, path: str, body: dict[str, Any], headers: list[dict[str, str]]) -> Counter[int]:
    """``len(headers)`` POSTs of ``body`` at once, each on its own connection; their status codes."""
    limits = httpx.Limits(max_connections=len(headers), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        answers = await asyncio.gather(*(client.post(path, json=body, headers=h) for h in headers))
    return Counter(a.status_code for a in answers)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    platform = TestPlatform()
    rows: list[dict[str, Any]] = []
    with serve_with_platform(platform) as (served, agent_key, ledger_path):
        base = {
            "Authorization": f"Bearer {agent_key}",
            "UCP-Agent": AGENT_HEADER.format(profile=platform.profile),
        }
        for name in ("same key", "other keys", "no mandate"):
            created = httpx.post(
                served.url + "/ucp/checkout-sessions", json=CHECKOUT, headers=base, timeout=60
            )
            created.raise_for_status()
            checkout = created.json()
            body: dict[str, Any] = {"payment": {"instruments": [CARD]}}
            if name != "no mandate":
                body["ap2"] = {"checkout_mandate": platform.mandate(checkout, aud=served.url)}
            keys = [
                f"race-{checkout['id']}" if name != "other keys" else f"race-{i}"
                for i in range(args.requests)
            ]
            started = time.perf_counter()
            codes = asyncio.run(
                race(
                    served.url,
                    f"/ucp/checkout-sessions/{checkout['id']}/complete",
                    body,
                    [base | {"Idempotency-Key": key} for key in keys],
                )
            )
            seconds = time.perf_counter() - started
            if name == "no mandate":  # the person confirms the one proposal on the store's own surface
                account = {"Authorization": f"Bearer {served.key}"}
                listed = httpx.get(served.url + "/v1/actions", params={"user": BUYER}, headers=account).json()
                waiting = [a for a in listed["data"] if a["status"] == "pending"]
                for action in waiting:
                    confirm = {"token": action["token"], "user": BUYER}
                    httpx.post(
                        f"{served.url}/v1/actions/{action['id']}/confirm", json=confirm, headers=account
                    )
                codes["proposals"] = len(waiting)
            read = httpx.get(f"{served.url}/ucp/checkout-sessions/{checkout['id']}", headers=base).json()
            order_id = (read.get("order") or {}).get("id")
            rows.append(
                {
                    "race": name,
                    "checkout": checkout["id"],
                    "order": order_id,
                    "codes": dict(codes),
                    "seconds": round(seconds, 2),
                }
            )
        db = open_database(served.database)
        orders = db_orders(db)
        db.close()
        ledger = TestPaymentProvider(ledger_path)  # the provider's own books, beside the server's database
        charges = ledger.charges()
        ledger.close()
    for row in rows:
        row["orders"] = sum(1 for o in orders if o == row["order"]) if row["order"] else 0
    print(f"{args.requests} concurrent completes per race, ponder serve (SQLite), 2026-08-25")
    print(f"{'race':<12} {'orders':>6}  {'answers by status':<40} {'seconds':>7}")
    for row in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(row["codes"].items(), key=str))
        print(f"{row['race']:<12} {row['orders']:>6}  {answers:<40} {row['seconds']:>7}")
    print(f"charges in the provider's ledger: {len(charges)} for {len(rows)} races (one each expected)")
    print(f"orders placed: {len(orders)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        record = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "requests": args.requests,
            "races": rows,
            "charges": len(charges),
            "orders": len(orders),
        }
        out.write(json.dumps(record) + "\n")
    ok = len(charges) == len(rows) and len(orders) == len(rows) and all(r["orders"] == 1 for r in rows)
    return 0 if ok else 1


def db_orders(db: Any) -> list[str]:
    from ponder.commerce.orders import OrderBook

    return [o["id"] for o in OrderBook(db, TestPaymentProvider()).list_orders(Owner(ACCOUNT, BUYER))]


class serve_with_platform:
    """``ponder serve`` trusting ``platform``'s mandates, with the store loaded and an agent key for it."""

    def __init__(self, platform: TestPlatform) -> None:
        self.platform = platform

    def __enter__(self) -> tuple[Any, str, Path]:
        import tempfile

        self.tmp = tempfile.TemporaryDirectory(prefix="ucp-race-")
        jwks = self.platform.write_jwks(Path(self.tmp.name) / "platform.jwks")
        extra = f"[ucp.mandate_issuers]\n{json.dumps(self.platform.profile)} = {json.dumps(str(jwks))}\n"
        self.context = serve("scripted:unused", log_level="warning", config_extra=extra)
        served = self.context.__enter__()
        db = open_database(served.database)
        Catalog(db, HashingEmbedder()).import_store(ACCOUNT, STORE)
        agent_key = KeyStore(db).create(ACCOUNT, "bench", agent_profile=self.platform.profile)[1]
        db.close()
        return served, agent_key, Path(served.database).parent / "test-payments.db"

    def __exit__(self, *exc: object) -> None:
        self.context.__exit__(*exc)
        self.tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())

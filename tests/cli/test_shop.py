"""``ponder shop`` commands on the demo store (hashing embedder, scripted model where one is needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.commerce.checkout import LineItem
from ponder.commerce.crashpoints import SimulatedCrash, arm, disarm
from ponder.commerce.mode import open_shop
from ponder.commerce.payments import TestPaymentProvider
from ponder.config import Settings, load_settings
from ponder.memory.owner import Owner
from ponder.models.base import Model
from ponder.store import open_database
from ponder.store.database import sql
from ponder.testing import HashingEmbedder, ScriptedModel


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return ScriptedModel()

    obj = CliContext(model_factory=factory, embedder=HashingEmbedder())
    result = CliRunner().invoke(cli, list(args), input=input, obj=obj)
    assert result.exit_code == code, result.output
    return result.output


def orders(user: str) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in json.loads(run("shop", "orders", "--user", user))}


def test_the_store_marks_orders_processed_then_delivered() -> None:
    run("shop", "load", "--demo")
    assert orders("ann")["HP-1004"]["status"] == "pending"
    processed = json.loads(run("shop", "fulfil", "HP-1004", "--status", "processed"))
    assert processed["status"] == "processed"
    run("shop", "fulfil", "HP-1004", "--note", "left with the neighbour")  # delivered by default
    order = orders("ann")["HP-1004"]
    assert order["status"] == "delivered"
    assert order["history"][-1]["note"] == "left with the neighbour"


def test_fulfil_refuses_going_back_and_unknown_orders() -> None:
    run("shop", "load", "--demo")
    out = run("shop", "fulfil", "HP-1001", "--status", "processed", code=2)  # already delivered
    assert "forward only" in out
    assert "No order HP-9999" in run("shop", "fulfil", "HP-9999", code=2)
    assert "'shipped' is not one of" in run("shop", "fulfil", "HP-1004", "--status", "shipped", code=2)
    assert orders("ann")["HP-1001"]["status"] == "delivered"


def test_recommend_prints_products_and_why() -> None:
    run("shop", "load", "--demo")
    out = run("shop", "recommend", "--user", "ann", "--limit", "3", "a", "dress", "for", "a", "wedding")
    products = [line for line in out.splitlines() if not line.startswith("       - ")]
    reasons = [line for line in out.splitlines() if line.startswith("       - ")]
    assert len(products) == 3 and reasons
    assert "HP-1001" not in out


def test_settle_finishes_a_checkout_whose_confirmation_crashed() -> None:
    """Issue 16: the process died after the charge; ``ponder shop settle`` (once the checkout's lease is
    over) writes the order under the same charge."""
    run("shop", "load", "--demo")
    settings = load_settings()
    db = open_database(settings.database)
    try:
        shop = open_shop(settings, db, HashingEmbedder())
        ann = Owner(settings.commerce.account, "ann")
        variant = "marina-floral-midi-sundress-s-coral-floral"
        action, token = shop.actions.propose_checkout(
            ann, address_id="home", payment_method_id="card-visa-4242", items=[LineItem(variant, 1)]
        )
        arm("after_charge")
        with pytest.raises(SimulatedCrash):
            shop.actions.confirm(ann, action.id, token)
        assert "0 job(s) run" in run("shop", "settle")  # its lease is not over: it may still be running
        with db.transaction() as tx:  # time passes: the lease and the sweeper's delay are over
            tx.execute(sql("UPDATE idempotency_keys SET lease_until = 0"))
            tx.execute(sql("UPDATE jobs SET run_at = 0"))
        assert "1 job(s) run" in run("shop", "settle")
        done = shop.actions.get(ann, action.id)
        assert done.status == "done" and done.result is not None
        provider = shop.provider
        assert isinstance(provider, TestPaymentProvider)
        [charge] = provider.charges()
        assert [p["reference"] for p in done.result["payments"]] == [charge.id]
    finally:
        disarm()
        db.close()

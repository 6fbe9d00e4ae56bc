"""``ponder shop`` commands on the demo store (hashing embedder, scripted model where one is needed)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.config import Settings
from ponder.models.base import Model
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

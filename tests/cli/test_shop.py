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


def test_an_order_an_agent_prepared_waits_for_the_person_who_confirms_it_here() -> None:
    """A UCP agent's checkout (the real server on this data directory): ``ponder shop pending`` lists it for
    its buyer, and ``ponder shop confirm`` confirms it without a token, which the agent never had."""
    from starlette.testclient import TestClient
    from tests.server.test_ucp import ANN, STORE
    from tests.server.test_ucp_agents import AGENT_CARD, PIER, PROFILE

    from ponder.config import load_settings
    from ponder.server import create_app
    from ponder.store import KeyStore, open_database

    settings = load_settings(model="scripted:default", programs=False)
    db = open_database(settings.database_path)
    _, agent = KeyStore(db).create("local", "unlimited", agent_profile=PROFILE)
    app = create_app(
        settings, model_factory=lambda spec, s: ScriptedModel(), db=db, embedder=HashingEmbedder()
    )
    headers = {"Authorization": f"Bearer {agent}", "UCP-Agent": f'profile="{PROFILE}"'}
    with TestClient(app) as client:
        app.state.ponder.shop.catalog.import_store("local", STORE)
        body = {
            "line_items": [{"item": {"id": "umb"}, "quantity": 1}],
            "buyer": {"email": ANN},
            "fulfillment": {"methods": [{"type": "shipping", "destinations": [PIER]}]},
        }
        checkout = client.post("/ucp/checkout-sessions", json=body, headers=headers).json()
        path = f"/ucp/checkout-sessions/{checkout['id']}"
        waiting = client.post(
            path + "/complete", json={"payment": {"instruments": [AGENT_CARD]}}, headers=headers
        )
        assert waiting.json()["status"] == "requires_escalation", waiting.text

        [action] = json.loads(run("shop", "pending", "--user", ANN))
        assert action["origin"] == {"kind": "ucp_agent", "checkout_id": checkout["id"], "agent": PROFILE}
        assert "token" not in action
        assert "give --token" in run("shop", "confirm", action["id"], code=2)  # not the default user's
        done = json.loads(run("shop", "confirm", action["id"], "--user", ANN))
        assert done["status"] == "done" and done["result"]["total"] == 2500

        got = client.get(path, headers=headers).json()
        assert got["status"] == "completed" and got["order"]["id"] == done["result"]["id"]
        assert json.loads(run("shop", "pending", "--user", ANN)) == []

"""``ponder shop`` commands on the demo store (hashing embedder, scripted model where one is needed)."""

from __future__ import annotations

import json
from pathlib import Path
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


def _context(model: ScriptedModel | None = None) -> CliContext:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model if model is not None else ScriptedModel()

    return CliContext(model_factory=factory, embedder=HashingEmbedder())


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, obj=_context())
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
    headers = {"Authorization": f"Bearer {agent}", "UCP-Agent": f'profile="{PROFILE}", version="2026-08-25"'}
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


# --- what the person reads before confirming ------------------------------------------------------------


def test_the_confirmation_shows_the_refund_and_the_models_reason_apart_as_text() -> None:
    run("shop", "load", "--demo")
    reason = "[conceal]\x1b]52;c;cHduZWQ=\x07[bold green]Nothing is cancelled[/]"
    plan = {"intent": "cancel", "order": "HP-1004", "reason": reason}  # the shopping turn's plan
    model = ScriptedModel([json.dumps(plan)])
    result = CliRunner().invoke(
        cli, ["ask", "--mode", "shopping", "--user", "ann", "cancel HP-1004"], obj=_context(model)
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    lines = result.stderr.splitlines()
    [confirm] = [line for line in lines if line.startswith("Confirm? ")]
    assert confirm.startswith("Confirm? Cancel order HP-1004 (") and " goes back to " in confirm
    assert "Nothing is cancelled" not in confirm
    [note] = [line for line in lines if "The assistant's words" in line]
    assert note.endswith("[conceal] ]52;c;cHduZWQ= [bold green]Nothing is cancelled[/]”")
    assert lines.index(note) == lines.index(confirm) + 1
    assert orders("ann")["HP-1004"]["status"] == "pending"  # proposed, not done


# --- loading hostile store files ------------------------------------------------------------------------


def _refused(path: Path, expected: str) -> None:
    """The load fails with one clear line (no internal error, no traceback) and the store is unchanged."""
    before = orders("ann")
    out = run("shop", "load", str(path), code=2)
    assert out.startswith("error: cannot load the store ") and expected in out, out
    assert out.count("\n") == 1 and "internal error" not in out and "Traceback" not in out
    assert orders("ann") == before  # nothing was loaded: the demo store is still there


def _store(folder: Path, **fields: Any) -> Path:
    folder.mkdir(exist_ok=True)
    doc = {"format": "ponder-store", "version": 1, "name": "Hostile", "currency": "EUR"} | fields
    path = folder / "store.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _product(price: int = 100) -> dict[str, Any]:
    return {"id": "p", "name": "P", "variants": [{"id": "p1", "price": price}]}


def test_load_refuses_json_nested_100000_deep(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    path = tmp_path / "store.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    _refused(path, "store.json: invalid JSON: nested too deeply")


def test_load_refuses_a_price_of_ten_to_the_40(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    path = _store(tmp_path / "s", products=[_product(10**40)])
    _refused(path, "products[0].variants[0].price: Input should be less than or equal to 1000000000000")


def test_load_refuses_a_products_file_that_links_out_of_the_folder(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    secret = tmp_path / "secret.jsonl"  # outside the store's folder; a valid product line, even
    secret.write_text(json.dumps(_product()) + "\n", encoding="utf-8")
    path = _store(tmp_path / "s", products_file="products.jsonl")
    (tmp_path / "s" / "products.jsonl").symlink_to(secret)
    _refused(path, "products.jsonl: a link that leads out of the store's folder")


def test_markup_in_a_store_name_is_printed_as_it_is(tmp_path: Path) -> None:
    name = "[/][bold red]Pwned[/] [conceal]Shop"
    out = run("shop", "load", str(_store(tmp_path / "s", name=name, products=[_product()])))
    assert f"loaded {name} into account" in out


def test_load_refuses_a_store_name_with_escape_sequences(tmp_path: Path) -> None:
    run("shop", "load", "--demo")
    path = _store(tmp_path / "s", name="Shop\x1b]0;owned\x07", products=[_product()])
    _refused(path, "name: Value error, a name is one line of text, without control characters")


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

"""The conversation runner seen from its surfaces: the CLI and HTTP store the same turn the same way, hand-off
tickets opened over HTTP carry their session, and no surface shows a mode's ``Answer:`` scaffolding."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from ponder import conversation
from ponder.cli.context import CliContext
from ponder.cli.main import cli
from ponder.commerce.model import Customer, Product, StoreData, Variant
from ponder.commerce.support import SupportQueue
from ponder.config import ServerConfig, Settings, TierConfig, load_settings
from ponder.memory.owner import DEFAULT_USER, LOCAL_ACCOUNT, Owner
from ponder.memory.sessions import SessionStore
from ponder.messages import ToolCallPart
from ponder.models.base import Model
from ponder.modes.router import route
from ponder.perception import Perception
from ponder.server import create_app
from ponder.store import KeyStore, open_database
from ponder.store.database import Database
from ponder.testing import HashingEmbedder, ScriptedModel
from ponder.testing.media import render_lines, to_format

QUESTION = "Which street is this?"


@dataclass
class Api:
    client: TestClient
    key: str
    db: Database

    def chat(self, body: dict[str, Any], session: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"} | ({"X-Ponder-Session": session} if session else {})
        return self.client.post("/v1/chat/completions", json=body, headers=headers)


@contextmanager
def api(tmp_path: Path, model: ScriptedModel, perception: Perception | None = None) -> Iterator[Api]:
    """The server's app in-process (a test client, no port), keys on, on the scripted model."""
    tiers = {"big": TierConfig(requests_per_minute=10_000, tokens_per_day=None)}
    settings = Settings(
        data_dir=tmp_path / "server",
        model="scripted:default",
        programs=False,
        server=ServerConfig(tiers=tiers),
    )
    db = open_database(settings.database_path)
    key = KeyStore(db).create("acme", "big")[1]
    app = create_app(
        settings,
        model_factory=lambda spec, s: model,
        db=db,
        perception=perception,
        embedder=HashingEmbedder(),
    )
    with TestClient(app) as client:
        yield Api(client, key, db)


def ask(model: ScriptedModel, *args: str, perception: Perception | None = None) -> Any:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return model

    context = CliContext(model_factory=factory, perception=perception, embedder=HashingEmbedder())
    result = CliRunner().invoke(cli, ["ask", *args], obj=context)
    assert result.exit_code == 0, result.output
    return result


def stored(db: Database, owner: Owner, session_id: str) -> list[tuple[Any, ...]]:
    """What a session holds, apart from timings: role, text, the mode, model and usage keys of each row."""
    rows = SessionStore(db).transcript(owner, session_id)
    return [
        (
            row.message.role,
            row.message.text,
            row.meta.get("mode"),
            row.meta.get("model"),
            sorted(row.meta.get("usage", {})),
            sorted(row.meta),
        )
        for row in rows
    ]


def _sign(tmp_path: Path) -> Path:
    path = tmp_path / "sign.png"
    path.write_bytes(to_format(render_lines(["MAPLE STREET", "Closed on Sundays"], size=34), "PNG"))
    return path


def test_a_conversation_is_stored_the_same_from_the_cli_and_over_http(
    tmp_path: Path, perception: Perception
) -> None:
    sign = _sign(tmp_path)
    replies = ["Maple Street.", "Paris."]
    ask(
        ScriptedModel(replies[:1]), "--session", "trip", "--image", str(sign), QUESTION, perception=perception
    )
    ask(ScriptedModel(replies[1:]), "--session", "trip", "What is the capital of France?")
    cli_db = open_database(load_settings().database)
    from_cli = stored(cli_db, Owner(LOCAL_ACCOUNT, DEFAULT_USER), "trip")

    image = "data:image/png;base64," + base64.b64encode(sign.read_bytes()).decode()
    with api(tmp_path, ScriptedModel(replies), perception) as server:
        content = [{"type": "text", "text": QUESTION}, {"type": "image_url", "image_url": {"url": image}}]
        first = server.chat(
            {"model": "ponder-auto", "messages": [{"role": "user", "content": content}]}, "trip"
        )
        assert first.status_code == 200, first.text
        text = "What is the capital of France?"
        second = server.chat(
            {"model": "ponder-auto", "messages": [{"role": "user", "content": text}]}, "trip"
        )
        assert second.status_code == 200, second.text
        over_http = stored(server.db, Owner("acme", DEFAULT_USER), "trip")

    assert over_http == from_cli
    assert [row[2] for row in from_cli if row[0] == "assistant"] == ["instant", "instant"]  # what ran
    assert "MAPLE STREET" in from_cli[0][1]  # the image, stored as what perception read of it
    assert {"prompt_tokens", "completion_tokens", "total_time_s"} <= set(from_cli[1][4])


@pytest.mark.parametrize(
    "selects",
    [{"model": "ponder-shopping"}, {"model": "ponder-instant", "preset": "shopping"}, {"mode": "shopping"}],
)
def test_a_hand_off_opened_over_http_carries_the_session(tmp_path: Path, selects: dict[str, str]) -> None:
    store = StoreData(
        name="Coast",
        currency="EUR",
        products=(Product("umbrella", "Beach umbrella", (Variant("umb", "umbrella", {}, 2500),)),),
        customers=(Customer("ann"),),
    )
    hand_off = '{"intent": "person", "reason": "refund"}'  # the shopping turn's plan
    with api(tmp_path, ScriptedModel([hand_off])) as server:
        shop = server.client.app.state.ponder.shop  # type: ignore[attr-defined]
        shop.catalog.import_store("acme", store)
        body = {
            "model": "ponder-shopping",
            "user": "ann",
            "messages": [{"role": "user", "content": "A person"}],
        }
        reply = server.chat(body, session="help-1")
        assert reply.status_code == 200, reply.text
        [ticket] = shop.support.list_tickets("acme")
    assert ticket.session_id == "help-1" and ticket.user == "ann"
    assert (
        reply.json()["usage"]["ponder"]["mode"] == "instant"
    )  # the preset runs under the mode (auto: routed)


# --- no surface shows the forced answer prefix ---

THINKING = ["Six plus five is eleven.", ["Ans", "wer: ", "11"]]  # reasoning, then the answer, split


def test_ponder_ask_shows_no_answer_prefix() -> None:
    streamed = ask(ScriptedModel(THINKING), "--mode", "thinking", "What is 6 + 5?")
    assert streamed.stdout == "11\n"
    as_json = ask(ScriptedModel(THINKING), "--mode", "thinking", "--json", "--session", "s", "What is 6 + 5?")
    assert json.loads(as_json.stdout)["answer"] == "11"
    rows = stored(open_database(load_settings().database), Owner(LOCAL_ACCOUNT, DEFAULT_USER), "s")
    assert rows[-1][1] == "11"  # what is stored, and sent back as history, is what was shown


def test_ponder_chat_shows_no_answer_prefix() -> None:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return ScriptedModel(THINKING)

    context = CliContext(model_factory=factory, embedder=HashingEmbedder())
    result = CliRunner().invoke(cli, ["chat", "--mode", "thinking"], input="What is 6 + 5?\n", obj=context)
    assert result.exit_code == 0, result.output
    assert "11" in result.stdout and "Answer" not in result.stdout


def test_the_api_shows_no_answer_prefix_streamed_or_not(tmp_path: Path) -> None:
    body = {"model": "ponder-thinking", "messages": [{"role": "user", "content": "What is 6 + 5?"}]}
    with api(tmp_path, ScriptedModel([*THINKING, *THINKING])) as server:
        whole = server.chat(body)
        assert whole.status_code == 200, whole.text
        assert whole.json()["choices"][0]["message"]["content"] == "11"
        streamed = server.chat(body | {"stream": True})
    deltas = [
        json.loads(line[len("data: ") :]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    text = "".join(d["choices"][0]["delta"].get("content") or "" for d in deltas if d["choices"])
    assert text == "11"


@pytest.mark.parametrize("selects", [["--mode", "instant", "--preset", "shopping"], ["--mode", "shopping"]])
def test_the_cli_selects_the_shopping_preset_the_same_way(selects: list[str]) -> None:
    def factory(spec: str, settings: Settings, progress: Any) -> Model:
        return ScriptedModel(['{"intent": "person", "reason": "refund"}'])  # the shopping turn's plan

    context = CliContext(model_factory=factory, embedder=HashingEmbedder())
    loaded = CliRunner().invoke(cli, ["shop", "load", "--demo"], obj=context)
    assert loaded.exit_code == 0, loaded.output
    args = ["ask", *selects, "--json", "--user", "ann", "--session", "help-2", "A person, please."]
    result = CliRunner().invoke(cli, args, obj=context)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["preset"] == "shopping"
    settings = load_settings()
    [ticket] = SupportQueue(open_database(settings.database)).list_tickets(settings.commerce.account)
    assert ticket.session_id == "help-2" and ticket.user == "ann"


def test_an_auto_turn_is_routed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    picks: list[str] = []

    def counted(messages: Any) -> tuple[str, str]:
        pick = route(messages)
        picks.append(pick[0])
        return pick

    monkeypatch.setattr(conversation, "route", counted)
    question = "Natalia sold clips to 48 friends in April and half as many in May. How many in total?"
    body = {"model": "ponder-auto", "messages": [{"role": "user", "content": question}]}
    with api(tmp_path, ScriptedModel(THINKING)) as server:
        reply = server.chat(body)
    assert reply.status_code == 200, reply.text
    assert picks == ["thinking"]  # priced and run from one decision
    assert reply.json()["usage"]["ponder"]["mode"] == "thinking"


def test_a_structured_output_turn_may_end_with_a_call_for_the_client(tmp_path: Path) -> None:
    # The schema binds the answer; a turn that ends calling the client's tool has none yet (the Agents SDK
    # sends tools and its output_type together). Before: a 502, "did not give structured output".
    model = ScriptedModel([ToolCallPart("call_1", "weather", {"city": "Paris"})])
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    body = {
        "model": "ponder-instant",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [tool],
        "response_format": {"type": "json_object"},
    }
    with api(tmp_path, model) as server:
        reply = server.chat(body)
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"][0]["id"] == "call_1"


async def test_every_request_of_a_sessions_turns_carries_one_routing_key(tmp_path: Path) -> None:
    """Contemplating's sub-agents and every later turn of a session carry the same routing key (a hash, not
    the ids), so a session-aware router in front of several engines keeps the conversation on one."""
    from ponder.config import MemoryConfig
    from ponder.conversation import Conversation, TurnSpec
    from ponder.memory.service import MemoryService
    from ponder.messages import Message
    from ponder.modes.registry import ModeOptions, Selection

    db = open_database(tmp_path / "p.db")
    memory = MemoryService(db, MemoryConfig(extract=False), HashingEmbedder())
    runner = Conversation(Settings(data_dir=tmp_path, programs=False), memory=lambda: memory)
    model = ScriptedModel(default="Answer: 4")
    owner = Owner("acme", "ann")
    for words in ("What is 2 + 2?", "And 3 + 1?"):
        spec = TurnSpec(
            [Message.user(words)],
            Selection("contemplating"),
            ModeOptions(agents=3, adaptive=False),
            owner=owner,
            session_id="s1",
        )
        turn = runner.begin(spec)
        await turn.prepare(model)
        await turn.complete()
    keys = {call.settings.routing_key for call in model.calls}
    assert len(model.calls) >= 4 and len(keys) == 1
    [key] = keys
    assert len(key) == 32 and "ann" not in key and "s1" not in key
    other = runner.begin(TurnSpec([Message.user("Hi")], Selection("instant"), owner=owner))  # no session
    await other.prepare(model)
    await other.complete()
    assert model.calls[-1].settings.routing_key == ""

"""``ponder keys`` against the data directory's database, and ``ponder serve``'s refusals."""

from __future__ import annotations

import json

import pytest
import uvicorn
from click.testing import CliRunner

from ponder.cli import serve as serve_module
from ponder.cli.main import cli
from ponder.config import load_settings
from ponder.store import KeyStore, open_database


def test_keys_create_list_revoke() -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--account", "acme", "--tier", "free", "--json"])
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["key"].startswith("pk-") and record["account"] == "acme"
    db = open_database(load_settings().database_path)
    assert KeyStore(db).authenticate(record["key"]) is not None
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).stdout)
    assert [k["id"] for k in listed] == [record["id"]]
    assert record["key"] not in runner.invoke(cli, ["keys", "list"]).stdout
    assert runner.invoke(cli, ["keys", "revoke", record["id"]]).exit_code == 0
    assert KeyStore(db).authenticate(record["key"]) is None


def test_keys_refuse_an_unknown_tier_and_key() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "create", "--tier", "platinum"])
    assert result.exit_code == 2 and "Unknown tier 'platinum'" in result.output
    result = runner.invoke(cli, ["keys", "revoke", "key_missing"])
    assert result.exit_code == 2 and "No key" in result.output


def test_serve_refuses_keyless_mode_off_loopback() -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--no-key"])
    assert result.exit_code == 2 and "loopback" in result.output


def test_keys_create_a_ucp_agent_credential() -> None:
    runner = CliRunner()
    args = ["keys", "create", "--account", "acme", "--ucp-agent", "https://agent.example/profile", "--json"]
    created = runner.invoke(cli, args)
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["kind"] == "ucp_agent" and record["profile"] == "https://agent.example/profile"
    key = KeyStore(open_database(load_settings().database_path)).authenticate(record["key"])
    assert key is not None and key.is_agent
    assert "ucp-agent https://agent.example/profile" in runner.invoke(cli, ["keys", "list"]).stdout
    bad = runner.invoke(cli, ["keys", "create", "--ucp-agent", "http://agent.example/p"])
    assert bad.exit_code == 2 and "profile URL" in bad.output


def test_serve_off_loopback_warns_without_a_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listening on every address, the links Ponder hands out would name the bind address: it says so."""
    served: list[object] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.append(self.config.host))
    monkeypatch.setattr(serve_module, "_log_as_json", lambda level: None)  # the process's logging stays
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--model", "scripted:default"])
    assert result.exit_code == 0, result.output
    assert served == ["0.0.0.0"] and "without server.public_base_url" in result.stderr
    monkeypatch.setenv("PONDER_SERVER__PUBLIC_BASE_URL", "https://shop.example.com")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--model", "scripted:default"])
    assert result.exit_code == 0 and "public_base_url" not in result.stderr

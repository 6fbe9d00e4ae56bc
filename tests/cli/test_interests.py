"""``ponder interests`` against the data directory's database: add, import, events, show."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ponder.cli.main import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["interests", *args])


def test_add_then_show_explains_the_profile() -> None:
    assert run("add", "alice", "purchase", "trail shoe", "--category", "shoes").exit_code == 0
    added = run("add", "alice", "dismiss", "knife set", "--category", "kitchen", "--text", "A chef's knife")
    assert added.exit_code == 0, added.output
    assert "recorded dismiss 'knife set' for alice (account local)" in added.stderr
    shown = run("show", "alice")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == "Interests of alice (account local): 2 events, half-life 30 days."
    assert "Events: 1 purchase, 1 dismiss" in lines
    assert "  1. shoes  100.0%  (score +5.00 from 1 event)" in lines
    assert "       purchase 'trail shoe' just now: 5 × 1.000 = +5.00" in lines
    assert "Disliked items:" in lines
    assert lines[-1].startswith("Embedding: 384 dimensions, multilingual-e5-small")
    assert lines[-1].endswith("the weighted mean of 1 liked item (100% of their weight).")


def test_import_events_and_json_output(tmp_path: Path) -> None:
    now = time.time()
    path = tmp_path / "events.jsonl"
    rows = [
        {"user": "bob", "kind": "like", "item": "novel", "category": "books", "at": now - 86_400},
        {"kind": "save", "item": "tent", "category": "outdoor", "at": now},  # the --user's
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = run("import", str(path), "--account", "acme", "--user", "carol")
    assert imported.exit_code == 0, imported.output
    assert "imported 2 events into account 'acme': bob (1), carol (1)" in imported.stderr
    listed = json.loads(run("events", "bob", "--account", "acme", "--json").stdout)
    assert [(e["kind"], e["item"], e["at"]) for e in listed] == [("like", "novel", now - 86_400)]
    assert run("events", "carol", "--account", "acme").stdout.endswith("  save      tent  (outdoor)\n")
    profile = json.loads(run("show", "carol", "--account", "acme", "--json", "--top", "1").stdout)
    assert profile["user"] == "carol" and profile["events"] == {"save": 1}
    assert [c["name"] for c in profile["categories"]] == ["outdoor"]
    assert profile["embedding"]["dim"] == 384 and "vector" not in profile["embedding"]


def test_a_bad_import_names_its_lines_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"user": "bob", "kind": "like", "item": "novel"}\n{"user": "bob", "kind": "jump"}\n[1]\n'
    )
    result = run("import", str(path))
    assert result.exit_code == 2
    assert "2 of 3 lines are not valid interest events; nothing was stored" in result.output
    assert 'line 2: kind "jump"' in result.output and "line 3: not a JSON object" in result.output
    missing = run("events", "bob")
    assert missing.exit_code == 2 and "No user 'bob' in account 'local'" in missing.output


def test_refusals() -> None:
    bad_kind = run("add", "alice", "adore", "tent")
    assert bad_kind.exit_code == 2 and "'adore' is not one of" in bad_kind.output
    bad_user = run("add", "no spaces", "like", "tent")
    assert bad_user.exit_code == 2 and "The user name 'no spaces' is not valid" in bad_user.output
    assert run("add", "alice", "like", "tent", "--account", "acme").exit_code == 0
    elsewhere = run("show", "alice")  # the local account has no alice
    assert elsewhere.exit_code == 2 and "No user 'alice' in account 'local'" in elsewhere.output


def test_an_import_over_the_configured_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONDER_MEMORY__MAX_IMPORT_BYTES", "1024")
    path = tmp_path / "events.jsonl"
    path.write_text('{"user": "bob", "kind": "view", "item": "lamp"}\n' * 30)
    result = run("import", str(path))
    assert result.exit_code == 2 and "larger than 1,024 bytes" in result.output
    assert "No user 'bob'" in run("events", "bob").output

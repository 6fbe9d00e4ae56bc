from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ponder.errors import ConfigError
from ponder.store import open_database
from ponder.store.migrations import MIGRATIONS


def test_wal_mode_and_migrated(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.db")
    assert db.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()
    again = open_database(tmp_path / "p.db")  # reopening runs nothing twice
    assert again.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "p.db")
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(ConfigError, match="newer"):
        open_database(tmp_path / "p.db")


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "p.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(ConfigError, match="Cannot open"):
        open_database(tmp_path / "p.db")


def test_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    db = open_database(":memory:")
    with pytest.raises(RuntimeError), db.transaction() as c:
        c.execute("INSERT INTO rate_state VALUES ('k', 1.0)")
        raise RuntimeError
    assert db.connection.execute("SELECT COUNT(*) FROM rate_state").fetchone()[0] == 0

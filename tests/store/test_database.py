from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc

from ponder.errors import ConfigError, StoreBusyError
from ponder.store import open_database
from ponder.store.database import sql
from ponder.store.migrations import MIGRATIONS


def versions(url: str) -> list[int]:
    db = open_database(url)
    with db.reading() as c:
        found = [
            int(v) for v in c.execute(sql("SELECT version FROM schema_migrations ORDER BY version")).scalars()
        ]
    db.close()
    return found


def test_migrated_once_in_order(database_url: str) -> None:
    assert versions(database_url) == list(range(1, len(MIGRATIONS) + 1))
    assert versions(database_url) == list(range(1, len(MIGRATIONS) + 1))  # reopening runs nothing twice


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.db")
    with db.reading() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA user_version").scalar() == len(MIGRATIONS)


def test_a_database_from_before_schema_migrations_is_carried_over(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "p.db")
    raw.execute(
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, account TEXT NOT NULL, tier TEXT NOT NULL, "
        "secret_sha256 TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', "
        "created_at REAL NOT NULL, revoked_at REAL)"
    )
    raw.execute("CREATE TABLE rate_state (key_id TEXT PRIMARY KEY, tat REAL NOT NULL)")
    raw.execute(
        "CREATE TABLE token_usage (key_id TEXT NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL, "
        "PRIMARY KEY (key_id, day))"
    )
    raw.execute("INSERT INTO rate_state VALUES ('k', 5.0)")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    assert versions(str(tmp_path / "p.db")) == list(range(1, len(MIGRATIONS) + 1))
    with open_database(tmp_path / "p.db").reading() as c:
        assert c.execute(sql("SELECT tat FROM rate_state")).scalar() == 5.0  # the data survived


def test_a_newer_database_is_refused(database_url: str) -> None:
    db = open_database(database_url)
    with db.transaction() as c:
        c.execute(
            sql("INSERT INTO schema_migrations VALUES (:v, 'm999_future', 0)"), {"v": len(MIGRATIONS) + 5}
        )
    with pytest.raises(ConfigError, match="newer"):
        open_database(database_url)


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "p.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(ConfigError, match="Cannot open the database .*p.db: file is not a database"):
        open_database(tmp_path / "p.db")
    assert (tmp_path / "p.db").read_bytes() == b"garbage" * 1000  # nothing overwritten


def test_bad_urls_and_unreachable_servers() -> None:
    with pytest.raises(ConfigError, match="not supported"):
        open_database("mysql://x@localhost/db")
    with pytest.raises(
        ConfigError, match=r"Cannot open the database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db"
    ):
        open_database("postgresql://u:secret@127.0.0.1:1/db")


def test_a_failed_transaction_rolls_back(database_url: str) -> None:
    db = open_database(database_url)
    with pytest.raises(RuntimeError), db.transaction() as c:
        c.execute(sql("INSERT INTO rate_state VALUES ('k', 1.0)"))
        raise RuntimeError
    with db.reading() as c:
        assert c.execute(sql("SELECT COUNT(*) FROM rate_state")).scalar() == 0


def test_a_write_that_waits_too_long_for_the_lock_is_store_busy(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.db", busy_timeout_s=0.05)
    holder = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    with pytest.raises(StoreBusyError) as caught, db.transaction() as c:
        c.execute(sql("INSERT INTO rate_state (key_id, tat) VALUES ('k', 1)"))
    assert caught.value.retry_after >= 1 and "busy" in str(caught.value)
    with db.reading() as c:  # readers do not wait for the writer (WAL)
        assert c.execute(sql("SELECT count(*) FROM rate_state")).scalar() == 0
    holder.execute("ROLLBACK")
    with db.transaction() as c:
        c.execute(sql("INSERT INTO rate_state (key_id, tat) VALUES ('k', 1)"))
    db.close()


def test_a_postgresql_lock_waited_for_too_long_is_store_busy(postgres_url: str) -> None:
    db = open_database(postgres_url, busy_timeout_s=0.05)
    # The first holds the lock; the second, from another connection of the pool, waits for it.
    with db.transaction(lock="key_1"), pytest.raises(StoreBusyError), db.transaction(lock="key_1"):
        pass
    with db.transaction(lock="key_1"):
        pass
    db.close()


def test_other_database_errors_are_not_busy(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.db")
    with pytest.raises(sa_exc.OperationalError), db.transaction() as c:
        c.execute(sql("SELECT * FROM no_such_table"))
    db.close()


def test_writers_of_one_process_take_turns_and_one_kept_waiting_too_long_is_store_busy(
    tmp_path: Path,
) -> None:
    import threading

    db = open_database(tmp_path / "p.db", busy_timeout_s=0.05)
    inside, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.transaction() as c:
            c.execute(sql("INSERT INTO rate_state (key_id, tat) VALUES ('first', 1)"))
            inside.set()
            release.wait(30)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert inside.wait(30)
    with pytest.raises(StoreBusyError), db.transaction():
        pass
    release.set()
    writer.join(30)
    with db.transaction() as c:  # the next writer starts once the first has committed
        c.execute(sql("INSERT INTO rate_state (key_id, tat) VALUES ('second', 2)"))
    with db.reading() as c:
        assert c.execute(sql("SELECT count(*) FROM rate_state")).scalar() == 2
    db.close()

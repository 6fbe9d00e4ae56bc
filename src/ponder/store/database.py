"""Opening the database: SQLite in WAL mode, migrated to the newest schema before anything uses it.

WAL lets one writer and many readers work at once, across processes: ``ponder serve`` answers requests while
``ponder keys revoke`` writes in another process. ``synchronous=NORMAL`` keeps commits cheap (a crash may lose
the last rate-limit updates, never corrupt the file); tables that will hold money use their own FULL commits.

This module knows nothing of what the tables mean: the schema is ``migrations.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ponder.errors import ConfigError
from ponder.store.migrations import MIGRATIONS

__all__ = ["Database", "open_database"]

BUSY_TIMEOUT_MS = 5_000  # how long a write waits for another process's write before failing


class Database:
    """One connection, shared by the threads of one process under a lock (sqlite3 connections are not)."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None) -> None:
        self.connection = connection
        self.path = path
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (BEGIN IMMEDIATE): read-then-write is atomic across processes."""
        with self._lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.connection

    def close(self) -> None:
        with self._lock:
            self.connection.close()


def open_database(path: Path | str) -> Database:
    """Open (or create) the database at ``path`` (``":memory:"``: a private one) and migrate it."""
    memory = str(path) == ":memory:"
    if not memory:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"Cannot create the data directory {path.parent}: {err}") from None
    try:
        connection = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection)
    except sqlite3.DatabaseError as err:
        raise ConfigError(f"Cannot open the database {path}: {err}") from None
    return Database(connection, None if memory else Path(path))


def migrate(connection: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen, each in its own transaction; return the version."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise ConfigError(
            f"The database is at schema version {version}, newer than this Ponder knows "
            f"({len(MIGRATIONS)}): upgrade Ponder, or point it at another data directory."
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            migration(connection)
            connection.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return len(MIGRATIONS)

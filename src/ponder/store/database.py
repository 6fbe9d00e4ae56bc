"""Opening the database: SQLite in WAL mode by default, PostgreSQL by URL, migrated before anything uses it.

Both go through SQLAlchemy Core, so every store writes one SQL (named ``:parameters``, ``ON CONFLICT``
upserts, table-qualified column names) that both dialects run.

- **SQLite** (a path, ``sqlite:///PATH`` or ``:memory:``): WAL lets one writer and many readers work at once,
  across processes (``ponder serve`` answers while ``ponder keys revoke`` writes in another process). A write
  transaction starts with ``BEGIN IMMEDIATE``, so read-then-write is atomic across processes.
  ``synchronous=NORMAL``: a commit is in the WAL before it returns, so a killed process loses nothing it
  acknowledged; only a power cut may lose the newest commits, never corrupt the file.
- **PostgreSQL** (``postgresql://user:password@host/db``), for several servers: transactions run at READ
  COMMITTED. A write that reads first names a ``lock`` (a user, a key): ``pg_advisory_xact_lock`` on it
  serialises exactly the writers that touch the same thing, which is what SQLite's single writer gives.

A database that is busy (a SQLite write lock held past the busy timeout, a PostgreSQL lock or statement
timeout, no pooled connection free) raises ``StoreBusyError`` from ``transaction()`` and ``reading()``: a
temporary condition the caller may retry, never a bug. The calls block: async code runs them in a thread.

This module knows nothing of what the tables mean: the schema is ``migrations.py``.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from ponder.errors import ConfigError, StoreBusyError
from ponder.sharing import breathe
from ponder.store.migrations import MIGRATIONS

__all__ = ["Database", "Dialect", "execute_many", "open_database", "sql"]

BUSY_TIMEOUT_S = 5.0  # how long a write waits for another's lock (SQLite's busy timeout, PostgreSQL's
# lock_timeout) before StoreBusyError
BUSY_RETRY_AFTER_S = 1.0  # what a busy database tells the client to wait
# SQLite result codes (low byte) and PostgreSQL SQLSTATEs that mean "busy now", not "wrong": SQLITE_BUSY,
# SQLITE_LOCKED; lock_not_available, query_canceled (lock_timeout, statement_timeout), serialization_failure,
# deadlock_detected, too_many_connections.
_SQLITE_BUSY = {5, 6}
_POSTGRES_BUSY = {"55P03", "57014", "40001", "40P01", "53300"}
MIGRATION_LOCK = 0x504F4E4445  # "PONDE": the advisory lock PostgreSQL servers take to migrate one at a time

Dialect = Literal["sqlite", "postgresql"]


@functools.lru_cache(maxsize=2048)
def sql(statement: str) -> sa.TextClause:
    """A SQL statement with ``:named`` parameters, the same for both dialects.

    Built once per text and shared (a clause is immutable; building one parses its parameters, and
    SQLAlchemy keys its cache of compiled statements on it): a store's call costs no parsing."""
    return sa.text(statement)


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def execute_many(connection: Connection, statement: str, rows: Sequence[dict[str, Any]]) -> None:
    """Run one statement (``:named`` parameters, as ``sql``) for many rows, handed to the driver as it is:
    SQLAlchemy's work per row (a third of the time of a thousand-row insert) is skipped, and so is the time a
    SQLite write holds the database's one write lock for it."""
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(statement, list(rows))
        return
    statement = _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))  # psycopg's named style
    # PostgreSQL locks only the rows written, so a large insert can pause between chunks for small requests
    # (ponder.sharing) without holding anyone up; SQLite's one writer lock could not.
    for start in range(0, len(rows), 256):
        breathe()
        connection.exec_driver_sql(statement, list(rows[start : start + 256]))


class Database:
    """An engine with its pool; ``transaction()`` to write, ``reading()`` to read. Safe across threads."""

    def __init__(
        self,
        engine: Engine,
        dialect: Dialect,
        path: Path | None,
        shared: bool,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.engine = engine
        self.dialect: Dialect = dialect
        self.path = path  # the SQLite file; None for :memory: and PostgreSQL
        self.busy_timeout_s = busy_timeout_s
        # A private in-memory database is one connection: threads take turns on it.
        self._lock: threading.RLock | None = threading.RLock() if shared else None
        # A SQLite file has one writer at a time. Writers of this process queue here, and the next one starts
        # the moment the last commits; left to SQLite, they would poll the file's lock with growing sleeps.
        self._writer: threading.RLock | None = (
            threading.RLock() if dialect == "sqlite" and not shared else None
        )

    @property
    def url(self) -> str:
        """Where it is, password hidden: for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Connection]:
        """A write transaction, committed when the block ends and rolled back if it raises.

        ``lock`` names what a read-then-write depends on (a key id, a user): on PostgreSQL, transactions
        with the same lock run one at a time. SQLite has one writer at a time anyway (``BEGIN IMMEDIATE``).
        """
        with _busy_is_temporary(), self._locked(), self._one_writer(), self.engine.connect() as connection:
            connection.info["immediate"] = True
            try:
                with connection.begin():
                    if lock is not None and self.dialect == "postgresql":
                        connection.execute(
                            sql("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))"), {"lock": lock}
                        )
                    yield connection
            finally:
                connection.info.pop("immediate", None)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read: one consistent snapshot on SQLite, each statement's own on PostgreSQL."""
        with _busy_is_temporary(), self._locked(), self.engine.connect() as connection, connection.begin():
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    def purge(self) -> None:
        """After a deletion that must be final: on SQLite, fold the WAL (which still holds the old pages) into
        the file and truncate it. PostgreSQL's VACUUM reclaims dead rows on its own schedule."""
        if self.dialect == "sqlite":
            with self._locked(), self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def _locked(self) -> threading.RLock | nullcontext[None]:
        return self._lock if self._lock is not None else nullcontext()

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=self.busy_timeout_s):
            raise StoreBusyError(
                "The database is busy: other writes held it too long. Retry shortly.",
                retry_after=BUSY_RETRY_AFTER_S,
            )
        try:
            yield
        finally:
            self._writer.release()


@contextmanager
def _busy_is_temporary() -> Iterator[None]:
    """Turn the driver's "busy" failures inside the block into ``StoreBusyError``; others pass unchanged."""
    try:
        yield
    except PoolTimeoutError:
        raise StoreBusyError(
            "The database is busy: no connection was free in time. Retry shortly.",
            retry_after=BUSY_RETRY_AFTER_S,
        ) from None
    except DBAPIError as err:
        if not _busy(err):
            raise
        raise StoreBusyError(
            f"The database is busy ({_reason(err)}): another write held it too long. Retry shortly.",
            retry_after=BUSY_RETRY_AFTER_S,
        ) from err


def _busy(err: DBAPIError) -> bool:
    orig = err.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF in _SQLITE_BUSY
    if getattr(orig, "sqlstate", None) in _POSTGRES_BUSY:
        return True
    # A driver without error codes: SQLite's own words.
    text = str(orig)
    return "database is locked" in text or "database table is locked" in text


def open_database(target: Path | str, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Database:
    """Open (or create) the database at ``target`` and migrate it to the newest schema.

    ``target``: a file path, ``":memory:"`` (a private SQLite database), or a URL: ``sqlite:///PATH``,
    ``postgresql://user:password@host:5432/db``.
    """
    text = str(target)
    if "://" in text:
        try:
            url = make_url(text)
        except ArgumentError:
            raise ConfigError(
                f"'{text}' is not a database URL: use postgresql://... or sqlite:///PATH"
            ) from None
        if url.get_backend_name() == "postgresql":
            database = _postgresql(url.set(drivername="postgresql+psycopg"), busy_timeout_s)
        elif url.get_backend_name() == "sqlite":
            database = _sqlite(url.database or ":memory:", busy_timeout_s)
        else:
            raise ConfigError(
                f"Database URL scheme '{url.drivername}' is not supported: use postgresql:// or sqlite:///"
            )
    else:
        database = _sqlite(text, busy_timeout_s)
    try:
        migrate(database)
    except (SQLAlchemyError, ConfigError, StoreBusyError) as err:
        database.close()
        if isinstance(err, ConfigError):
            raise
        reason = str(err) if isinstance(err, StoreBusyError) else _reason(err)
        raise ConfigError(f"Cannot open the database {database.url}: {reason}") from None
    return database


def _sqlite(location: str, busy_timeout_s: float) -> Database:
    memory = location in ("", ":memory:")
    path = None if memory else Path(location)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"Cannot create the data directory {path.parent}: {err}") from None
    registry.register("sqlite.ponder", __name__, "PonderSQLiteDialect")
    engine = sa.create_engine(
        "sqlite+ponder://" + ("" if path is None else f"/{path}"),
        connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is off: the dialect says BEGIN itself (PonderSQLiteDialect).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {round(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
        cursor.close()

    return Database(engine, "sqlite", path, shared=memory, busy_timeout_s=busy_timeout_s)


class PonderSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, saying ``BEGIN`` itself (the driver's own transaction handling is off, see ``_sqlite``):
    ``BEGIN IMMEDIATE`` for a write transaction (``connection.info["immediate"]``), so read-then-write is
    atomic across processes. Sent on the driver's connection here rather than from a "begin" event: an
    event listener makes SQLAlchemy dispatch events around every statement of every connection."""

    supports_statement_cache = True

    def do_begin(self, dbapi_connection: Any) -> None:
        immediate = dbapi_connection.info.get("immediate")
        dbapi_connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgresql(url: sa.URL, busy_timeout_s: float) -> Database:
    # A lock waited for longer than the timeout fails (55P03, StoreBusyError) instead of queueing forever.
    given = url.query.get("options", "")  # the URL's own options (a search_path) are kept
    options = " ".join(
        [*([given] if isinstance(given, str) else given), f"-c lock_timeout={round(busy_timeout_s * 1000)}"]
    )
    engine = sa.create_engine(
        url.difference_update_query(["options"]),
        pool_pre_ping=True,
        pool_size=8,
        max_overflow=8,
        connect_args={"options": options.strip()},
    )
    return Database(engine, "postgresql", None, shared=False, busy_timeout_s=busy_timeout_s)


def migrate(database: Database) -> int:
    """Apply the migrations the database has not seen, in order, each in its own transaction.

    ``schema_migrations`` lists the applied ones. A SQLite file from before that table records its
    version in ``PRAGMA user_version``, which is read once and carried over.
    """
    with database.transaction() as db:
        if database.dialect == "postgresql":
            db.execute(sql("SET LOCAL lock_timeout = 0"))  # another server's migration may take a while
            db.execute(sql("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK})
        db.execute(
            sql(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
        )
        applied = {int(row[0]) for row in db.execute(sql("SELECT version FROM schema_migrations"))}
        if not applied and database.dialect == "sqlite":
            legacy = int(db.exec_driver_sql("PRAGMA user_version").scalar_one())
            for number in range(1, min(legacy, len(MIGRATIONS)) + 1):
                _record(db, number)
            applied = set(range(1, legacy + 1))
    newest = max(applied, default=0)
    if newest > len(MIGRATIONS):
        raise ConfigError(
            f"The database {database.url} is at schema version {newest}, newer than this Ponder knows "
            f"({len(MIGRATIONS)}): upgrade Ponder, or point it at another database."
        )
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number in applied:
            continue
        with database.transaction() as db:
            if database.dialect == "postgresql":
                db.execute(sql("SET LOCAL lock_timeout = 0"))
                db.execute(sql("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK})
                if db.execute(
                    sql("SELECT 1 FROM schema_migrations WHERE version = :v"), {"v": number}
                ).first():
                    continue  # another server migrated while this one waited for the lock
            migration(db)
            _record(db, number)
    return len(MIGRATIONS)


def _record(db: Connection, number: int) -> None:
    db.execute(
        sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :name, :at)"),
        {"v": number, "name": MIGRATIONS[number - 1].__name__, "at": time.time()},
    )
    if db.dialect.name == "sqlite":
        db.exec_driver_sql(f"PRAGMA user_version = {number}")


def _reason(err: SQLAlchemyError) -> str:
    """The driver's own words, without SQLAlchemy's wrapping and links."""
    if isinstance(err, DBAPIError) and err.orig is not None:
        return str(err.orig).strip().splitlines()[0]
    return str(err).splitlines()[0]

"""Ponder's durable state: one database (SQLite in WAL mode under the data directory, or PostgreSQL), changed
only by ordered migrations, and the stores that read and write it (API keys, rate-limit state, the durable
job table).

Every row that belongs to someone is scoped by its account (and, where an end user is involved, by the
OpenAI ``user`` inside that account); no query reaches across accounts.

    database.py      opening the database (SQLite in WAL mode, or PostgreSQL by URL), migrated before use
    migrations.py    the schema, as an ordered, append-only list of migrations
    keys.py          API keys: accounts, tiers, UCP agent credentials, stored only as SHA-256
    limits.py        per-key limits in the database: requests per minute (GCRA), tokens per UTC day
    redis_limits.py  the same limits in Redis, shared by several servers
    jobs.py          the durable job table: work that must happen later, or again until it does

The stores of people's data (memory/) and of a shop (commerce/) write their own tables in this database.
"""

from ponder.store.database import Database, open_database
from ponder.store.jobs import JobQueue, JobWorker
from ponder.store.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "Database", "JobQueue", "JobWorker", "KeyStore", "open_database"]

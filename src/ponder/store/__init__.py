"""Ponder's durable state: one SQLite database (WAL mode) under the data directory, changed only by ordered
migrations, and the stores that read and write it (API keys, rate-limit state, the durable job table).

Every row that belongs to someone is scoped by its account (and, where an end user is involved, by the
OpenAI ``user`` inside that account); no query reaches across accounts.
"""

from ponder.store.database import Database, open_database
from ponder.store.jobs import JobQueue, JobWorker
from ponder.store.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "Database", "JobQueue", "JobWorker", "KeyStore", "open_database"]

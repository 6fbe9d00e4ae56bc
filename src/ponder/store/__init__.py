"""Ponder's durable state: one SQLite database (WAL mode) under the data directory, changed only by ordered
migrations, and the stores that read and write it (API keys, rate-limit state).

Every row that belongs to someone is scoped by its account (and, where an end user is involved, by the
OpenAI ``user`` inside that account); no query reaches across accounts.
"""

from ponder.store.database import Database, open_database
from ponder.store.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "Database", "KeyStore", "open_database"]

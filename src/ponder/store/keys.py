"""API keys: random, high-entropy secrets that belong to an account and a tier, stored only as SHA-256.

A key is ``pk-`` followed by 43 URL-safe characters (32 random bytes). SHA-256 is the right hash here: the
secret has 256 bits of entropy, so there is nothing to brute-force, and the lookup on every request must be
fast (a slow password hash would be the bottleneck of the server). The clear key is shown once, at creation.

A key is of one of two kinds. An **account** key is the store's own client: it acts for any user of its
account (the app relays its users' confirmations). A **UCP agent** credential (``kind="ucp_agent"``) is an
outside shopping agent's: it works only on the UCP routes, only with the platform profile it was created for
(``profile``), and it never acts as a customer (server/ucp/). Both start with ``pk-``, so a local server
without keys never mistakes an agent credential for no key at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import RowMapping

from ponder.errors import UserError
from ponder.store.database import Database, sql

__all__ = [
    "ACCOUNT_KEY",
    "KEY_PREFIX",
    "UCP_AGENT",
    "ApiKey",
    "KeyKind",
    "KeyStore",
    "check_profile_url",
    "hash_secret",
]

KEY_PREFIX = "pk-"
KeyKind = Literal["account", "ucp_agent"]
ACCOUNT_KEY: KeyKind = "account"  # the store's own client
UCP_AGENT: KeyKind = "ucp_agent"  # an outside shopping agent
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class ApiKey:
    id: str
    account: str
    tier: str
    prefix: str
    name: str
    created_at: float
    revoked_at: float | None
    kind: KeyKind = "account"
    profile: str = ""  # a UCP agent's platform profile URL ("" for an account key)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_agent(self) -> bool:
        return self.kind == UCP_AGENT


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_profile_url(url: str) -> str:
    """A platform profile's URL, checked for shape only: an absolute https URL (http on loopback, for
    development), at most 2,048 characters. It is not fetched."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if (
        len(url) > 2048
        or not host
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
    ):
        raise UserError(f"'{url[:100]}' is not a platform profile URL: give an absolute https URL.")
    return url


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, account: str, tier: str, name: str = "", *, agent_profile: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key for ``account``: the record, and the secret (shown once, never stored). With
        ``agent_profile``, a UCP agent credential tied to that platform profile URL."""
        if not _ACCOUNT.fullmatch(account):
            raise UserError(
                f"Account name '{account}' is not valid: use 1-128 letters, digits, '_', '.', '@' or '-', "
                "starting with a letter or digit."
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(6),
            account=account,
            tier=tier,
            prefix=secret[:10],
            name=name,
            created_at=time.time(),
            revoked_at=None,
            kind=ACCOUNT_KEY if agent_profile is None else UCP_AGENT,
            profile="" if agent_profile is None else check_profile_url(agent_profile),
        )
        with self.db.transaction() as db:
            db.execute(
                sql(
                    "INSERT INTO api_keys (id, account, tier, secret_sha256, prefix, name, created_at, kind, "
                    "profile) VALUES (:id, :account, :tier, :sha, :prefix, :name, :at, :kind, :profile)"
                ),
                {"id": key.id, "account": account, "tier": tier, "sha": hash_secret(secret)}
                | {"prefix": key.prefix, "name": name, "at": key.created_at}
                | {"kind": key.kind, "profile": key.profile},
            )
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is; None for an unknown or revoked one."""
        if not secret.startswith(KEY_PREFIX):
            return None
        with self.db.reading() as db:
            row = (
                db.execute(
                    sql("SELECT * FROM api_keys WHERE secret_sha256 = :sha AND revoked_at IS NULL"),
                    {"sha": hash_secret(secret)},
                )
                .mappings()
                .first()
            )
        return None if row is None else _key(row)

    def list_keys(self, account: str | None = None) -> list[ApiKey]:
        query, args = "SELECT * FROM api_keys", dict[str, str]()
        if account is not None:
            query, args = query + " WHERE account = :account", {"account": account}
        with self.db.reading() as db:
            rows = db.execute(sql(query + " ORDER BY created_at"), args).mappings().all()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id (or its prefix, as ``list`` shows it); it stops working at once."""
        with self.db.transaction() as db:
            rows = (
                db.execute(sql("SELECT * FROM api_keys WHERE id = :k OR prefix = :k"), {"k": key_id})
                .mappings()
                .all()
            )
            if len(rows) != 1:
                what = "No key" if not rows else f"{len(rows)} keys"
                raise UserError(f"{what} match '{key_id}': give a key id from `ponder keys list`.")
            if rows[0]["revoked_at"] is None:
                db.execute(
                    sql("UPDATE api_keys SET revoked_at = :at WHERE id = :id"),
                    {"at": time.time(), "id": rows[0]["id"]},
                )
            row = (
                db.execute(sql("SELECT * FROM api_keys WHERE id = :id"), {"id": rows[0]["id"]})
                .mappings()
                .one()
            )
        return _key(row)


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        account=row["account"],
        tier=row["tier"],
        prefix=row["prefix"],
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        kind=UCP_AGENT if row["kind"] == UCP_AGENT else ACCOUNT_KEY,
        profile=row["profile"],
    )

from __future__ import annotations

import pytest

from ponder.errors import UserError
from ponder.store import KeyStore, open_database
from ponder.store.database import sql
from ponder.store.keys import hash_secret


def test_create_authenticate_revoke(database_url: str) -> None:
    store = KeyStore(open_database(database_url))
    key, secret = store.create("acme", "free", "ci")
    assert secret.startswith("pk-") and len(secret) >= 40
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None
    assert store.authenticate("not-a-key") is None
    revoked = store.revoke(key.prefix)
    assert revoked.revoked_at is not None and store.authenticate(secret) is None
    assert [k.id for k in store.list_keys("acme")] == [key.id]
    assert store.list_keys("other") == []


def test_only_the_hash_is_stored(database_url: str) -> None:
    db = open_database(database_url)
    _, secret = KeyStore(db).create("acme", "free")
    with db.reading() as c:
        dump = "\n".join(str(row) for row in c.execute(sql("SELECT * FROM api_keys")))
    assert secret not in dump and hash_secret(secret) in dump


def test_keys_are_unique_and_random() -> None:
    store = KeyStore(open_database(":memory:"))
    secrets = {store.create("a", "free")[1] for _ in range(50)}
    assert len(secrets) == 50


def test_bad_account_and_unknown_key() -> None:
    store = KeyStore(open_database(":memory:"))
    with pytest.raises(UserError, match="Account name"):
        store.create("bad name!", "free")
    with pytest.raises(UserError, match="No key"):
        store.revoke("key_nothing")


def test_a_ucp_agent_credential_records_its_kind_and_profile(database_url: str) -> None:
    store = KeyStore(open_database(database_url))
    account, _ = store.create("acme", "free")
    agent, secret = store.create("acme", "free", "shopper", agent_profile="https://agent.example/profile")
    assert secret.startswith("pk-")  # never mistaken for "no key" by a local server
    assert (account.kind, account.profile, account.is_agent) == ("account", "", False)
    assert store.authenticate(secret) == agent
    assert (agent.kind, agent.profile, agent.is_agent) == ("ucp_agent", "https://agent.example/profile", True)
    assert [k.kind for k in store.list_keys("acme")] == ["account", "ucp_agent"]
    for bad in ("http://agent.example/p", "agent.example", "https://agent.example/p#x", "https://"):
        with pytest.raises(UserError, match="profile URL"):
            store.create("acme", "free", agent_profile=bad)
    assert store.create("acme", "free", agent_profile="http://127.0.0.1:9/p")[0].is_agent  # development


def test_an_account_name_with_a_trailing_newline_is_refused() -> None:
    store = KeyStore(open_database(":memory:"))
    with pytest.raises(UserError, match="Account name"):
        store.create("acme\n", "free")

"""The serving functions of ``/v1/interests``: bodies in, JSON or ApiError out, scoped by the key's account.

They are called directly (the routes are wired in app.py): what they return is the response body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from ponder.config import TierConfig
from ponder.memory.interests import InterestStore
from ponder.server.auth import Principal
from ponder.server.errors import ApiError
from ponder.server.interests import get_profile, record_events
from ponder.store import open_database

NDJSON = "application/x-ndjson; charset=utf-8"


class HashEmbedder:
    name = "hash"
    dim = 8

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.passage(texts)


@pytest.fixture
def store(database_url: str) -> Iterator[InterestStore]:
    db = open_database(database_url)
    yield InterestStore(db, HashEmbedder())
    db.close()


def principal(account: str = "acme", user: str | None = None) -> Principal:
    return Principal(account, "key_test", "free", TierConfig(), user)


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def jsonl(*rows: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


async def test_a_json_batch_is_recorded_for_the_named_or_default_user(store: InterestStore) -> None:
    sent = {"user": "alice", "events": [{"kind": "like", "item": "tent", "category": "outdoor"}]}
    assert await record_events(store, principal(), body(sent), "application/json") == {
        "object": "interests.recorded",
        "recorded": 1,
        "users": {"alice": 1},
    }
    defaulted = await record_events(
        store, principal(), body({"events": [{"kind": "view", "item": "x"}]}), None
    )
    assert defaulted["users"] == {"me": 1}
    as_user = await record_events(
        store, principal(user="dana"), body({"events": [{"kind": "view", "item": "x"}]}), None
    )
    assert as_user["users"] == {"dana": 1}
    profile = await get_profile(store, principal(), "alice")
    assert profile["object"] == "interests.profile" and profile["account"] == "acme"
    assert [c["name"] for c in profile["categories"]] == ["outdoor"]
    assert profile["categories"][0]["drivers"][0]["kind"] == "like"
    assert profile["embedding"]["dim"] == 8 and "vector" not in profile["embedding"]
    with_vector = await get_profile(store, principal(), "alice", with_vector=True)
    assert len(with_vector["embedding"]["vector"]) == 8


async def test_jsonl_names_a_user_per_line(store: InterestStore) -> None:
    sent = jsonl(
        {"user": "alice", "kind": "purchase", "item": "tent"},
        {"kind": "save", "item": "lamp"},  # the principal's user
    )
    reply = await record_events(store, principal(user="bob"), sent, NDJSON)
    assert reply["recorded"] == 2 and reply["users"] == {"alice": 1, "bob": 1}
    assert (await get_profile(store, principal(), "bob"))["events"] == {"save": 1}


async def test_bad_events_are_400_naming_the_event_and_nothing_is_stored(store: InterestStore) -> None:
    sent = {"user": "alice", "events": [{"kind": "like", "item": "tent"}, {"kind": "jump", "item": "x"}]}
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), body(sent), "application/json")
    err = caught.value
    assert (err.status, err.code, err.param) == (400, "invalid_events", "events[1]")
    assert 'events[1]: kind "jump"' in err.message
    lines = jsonl({"user": "alice", "kind": "like", "item": "tent"}, {"user": "alice", "kind": "like"})
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), lines + b"{oops\n", NDJSON)
    assert (caught.value.status, caught.value.param) == (400, "line 2")
    assert "line 3: not valid JSON" in caught.value.message
    with pytest.raises(ApiError) as caught:
        await get_profile(store, principal(), "alice")
    assert (caught.value.status, caught.value.code) == (404, "user_not_found")


@pytest.mark.parametrize(
    ("sent", "param", "words"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[]", None, "must be a JSON object"),
        (body({"events": [], "colour": "red"}), "colour", "Unrecognized request argument supplied: colour"),
        (body({"user": "alice"}), "events", "'events' must be a list"),
        (body({"user": 7, "events": []}), "user", "'user' must be a string"),
        (body({"user": "no spaces", "events": []}), "user", "The user name 'no spaces' is not valid"),
    ],
)
async def test_malformed_bodies_are_400(
    store: InterestStore, sent: bytes, param: str | None, words: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), sent, "application/json")
    assert (caught.value.status, caught.value.param) == (400, param)
    assert words in caught.value.message


async def test_too_many_events_are_413(store: InterestStore) -> None:
    events = [{"kind": "view", "item": f"i{n}"} for n in range(3)]
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), body({"events": events}), None, max_events=2)
    assert (caught.value.status, caught.value.code) == (413, "too_many_events")
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), jsonl(*events), NDJSON, max_events=2)
    assert (caught.value.status, caught.value.code) == (413, "import_too_large")
    assert "more than 2 events" in caught.value.message
    with pytest.raises(ApiError) as caught:
        await record_events(store, principal(), jsonl(*events), NDJSON, max_bytes=60)
    assert (caught.value.status, caught.value.code) == (413, "import_too_large")
    assert "larger than 60 bytes" in caught.value.message
    with pytest.raises(ApiError) as caught:
        await get_profile(store, principal(), "me")
    assert caught.value.status == 404


async def test_a_key_only_sees_its_own_account(store: InterestStore) -> None:
    await record_events(
        store, principal("acme"), body({"user": "alice", "events": [{"kind": "like", "item": "a"}]}), None
    )
    await record_events(
        store, principal("rival"), body({"user": "alice", "events": [{"kind": "like", "item": "b"}]}), None
    )
    assert [i["name"] for i in (await get_profile(store, principal("acme"), "alice"))["items"]] == ["a"]
    assert [i["name"] for i in (await get_profile(store, principal("rival"), "alice"))["items"]] == ["b"]
    with pytest.raises(ApiError) as caught:
        await get_profile(store, principal("third"), "alice")
    assert caught.value.status == 404 and "account 'third'" in caught.value.message
    with pytest.raises(ApiError) as caught:
        await get_profile(store, principal(), "../etc")
    assert (caught.value.status, caught.value.param) == (400, "user")

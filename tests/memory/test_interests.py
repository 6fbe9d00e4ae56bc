"""Interest events and profiles, on SQLite and PostgreSQL: decay, normalisation, dislikes, the embedding,
bad input that stores nothing, import limits, and scopes that never mix."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ponder.errors import UserError
from ponder.memory.interests import (
    KIND_WEIGHTS,
    ImportTooLargeError,
    InterestEvent,
    InterestStore,
    InvalidEventsError,
)
from ponder.memory.owner import Owner
from ponder.memory.users import UnknownUserError, UserStore
from ponder.store import Database, open_database

DAY = 86_400.0
ALICE = Owner("shop", "alice")


class HashEmbedder:
    """Deterministic unit vectors from a text's sha256; records every text it embeds."""

    name = "hash"
    dim = 16

    def __init__(self) -> None:
        self.seen: list[str] = []

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.passage(texts)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)
        return v / np.linalg.norm(v)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def store(db: Database, embedder: HashEmbedder) -> InterestStore:
    return InterestStore(db, embedder)


def ev(kind: str, item: str, category: str = "", at: float | None = None, **more: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"kind": kind, "item": item, "category": category, **more}
    if at is not None:
        event["at"] = at
    return event


def test_an_old_like_weighs_less_than_a_new_one(store: InterestStore) -> None:
    now = time.time()
    store.record(
        ALICE,
        [
            ev("like", "trail shoe", "shoes", at=now),
            ev("like", "road shoe", "shoes", at=now - 30 * DAY),  # one half-life: half the weight
            ev("like", "thriller", "books", at=now - 60 * DAY),  # two: a quarter
        ],
    )
    profile = store.profile(ALICE, now=now)
    scores = {i.name: i.score for i in profile.items}
    assert scores == pytest.approx({"trail shoe": 2.0, "road shoe": 1.0, "thriller": 0.5})
    assert [i.name for i in profile.items] == ["trail shoe", "road shoe", "thriller"]
    assert [i.weight for i in profile.items] == pytest.approx([2 / 3.5, 1 / 3.5, 0.5 / 3.5])
    assert {c.name: c.score for c in profile.categories} == pytest.approx({"shoes": 3.0, "books": 0.5})
    road = profile.items[1].drivers[0]
    assert road.kind == "like" and road.age_days == pytest.approx(30.0) and road.decay == pytest.approx(0.5)

    later = store.profile(ALICE, now=now + 30 * DAY)  # everything halves; the shares stay
    assert [i.score for i in later.items] == pytest.approx([1.0, 0.5, 0.25])
    assert [i.weight for i in later.items] == pytest.approx([i.weight for i in profile.items])


def test_kind_weights_and_normalisation(store: InterestStore) -> None:
    now = time.time()
    events = [
        ev(kind, f"item-{kind}", "cat-a" if i % 2 else "cat-b", at=now) for i, kind in enumerate(KIND_WEIGHTS)
    ]
    events.append(ev("view", "uncategorised", at=now))  # an item without a category: items only
    store.record(ALICE, [e for e in events if e["kind"] != "dismiss"])
    profile = store.profile(ALICE, now=now)
    assert {i.name: i.score for i in profile.items} == pytest.approx(
        {f"item-{k}": w for k, w in KIND_WEIGHTS.items() if w > 0} | {"uncategorised": 1.0}
    )
    assert sum(i.weight for i in profile.items) == pytest.approx(1.0)
    assert sum(c.weight for c in profile.categories) == pytest.approx(1.0)
    assert {c.name for c in profile.categories} == {"cat-a", "cat-b"}
    assert profile.items[0].name == "item-purchase"
    assert profile.event_counts == {"view": 2, "like": 1, "save": 1, "follow": 1, "share": 1, "purchase": 1}


def test_dismiss_goes_to_disliked(store: InterestStore) -> None:
    now = time.time()
    store.record(
        ALICE,
        [
            ev("view", "knife set", "kitchen", at=now),
            ev("dismiss", "knife set", "kitchen", at=now),  # 1 - 3: disliked
            ev("dismiss", "apron", "kitchen", at=now - 30 * DAY),  # -1.5
            ev("purchase", "tent", "outdoor", at=now),
            ev("dismiss", "tent", "outdoor", at=now),  # 5 - 3: still liked, weaker
        ],
    )
    profile = store.profile(ALICE, now=now)
    assert [i.name for i in profile.items] == ["tent"]
    assert [i.score for i in profile.items] == pytest.approx([2.0])
    assert profile.items[0].weight == pytest.approx(1.0)
    assert [i.name for i in profile.disliked_items] == ["knife set", "apron"]
    assert [i.score for i in profile.disliked_items] == pytest.approx([-2.0, -1.5])
    assert [i.weight for i in profile.disliked_items] == pytest.approx([2 / 3.5, 1.5 / 3.5])
    assert [c.name for c in profile.disliked_categories] == ["kitchen"]
    assert [c.name for c in profile.categories] == ["outdoor"]
    assert profile.disliked_items[0].category == "kitchen"


def test_explain_names_the_events_behind_each_category(store: InterestStore) -> None:
    now = time.time()
    store.record(
        ALICE,
        [
            ev("purchase", "trail shoe", "shoes", at=now - 3 * DAY),
            ev("like", "road shoe", "shoes", at=now - 30 * DAY),
            ev("dismiss", "knife set", "kitchen", at=now),
        ],
    )
    text = "\n".join(store.profile(ALICE, now=now).explain())
    assert "1. shoes  100.0%" in text
    assert "purchase 'trail shoe' 3.0 days ago: 5 × 0.933 = +4.67" in text
    assert "like 'road shoe' 30.0 days ago: 2 × 0.500 = +1.00" in text
    assert "Disliked items:\n  1. knife set (kitchen)" in text
    assert "Events: 1 like, 1 purchase, 1 dismiss" in text
    assert "the weighted mean of 2 liked items" in text


def test_the_embedding_is_the_weighted_mean_of_liked_item_texts(
    store: InterestStore, embedder: HashEmbedder
) -> None:
    now = time.time()
    store.record(
        ALICE,
        [
            ev("purchase", "sku-1", "shoes", at=now, text="Trail running shoe"),
            ev("like", "sku-2", "books", at=now),  # no text: "books: sku-2"
            ev("dismiss", "sku-3", "kitchen", at=now, text="Chef's knife"),  # disliked: not in the mean
        ],
    )
    profile = store.profile(ALICE, now=now)
    expected = 5 * embedder.vector("Trail running shoe") + 2 * embedder.vector("books: sku-2")
    assert profile.embedding is not None and profile.embedding.dtype == np.float32
    np.testing.assert_allclose(profile.embedding, expected / np.linalg.norm(expected), atol=1e-6)
    assert sorted(embedder.seen) == ["Trail running shoe", "books: sku-2"]
    store.profile(ALICE, now=now + DAY)
    assert len(embedder.seen) == 2  # each text embedded once per store


def test_no_embedding_without_a_liked_item(store: InterestStore, embedder: HashEmbedder) -> None:
    store.record(ALICE, [ev("dismiss", "knife set", "kitchen")])
    profile = store.profile(ALICE)
    assert profile.embedding is None and profile.to_dict()["embedding"] is None
    assert embedder.seen == []


def test_a_user_is_created_by_their_first_event(store: InterestStore, db: Database) -> None:
    with pytest.raises(UnknownUserError, match="No user 'alice' in account 'shop'"):
        store.profile(ALICE)
    with pytest.raises(UnknownUserError):
        store.events(ALICE)
    assert store.record(ALICE, []) == 0 and not UserStore(db).exists(ALICE)
    assert store.record(ALICE, [InterestEvent(kind="view", item="lamp")]) == 1
    assert UserStore(db).exists(ALICE)
    assert store.profile(ALICE).event_counts == {"view": 1}


def test_malformed_events_are_all_named_and_nothing_is_stored(store: InterestStore, db: Database) -> None:
    with pytest.raises(InvalidEventsError) as caught:
        store.record(
            ALICE,
            [
                ev("like", "fine"),
                {"kind": "jump", "item": "x"},
                {"kind": "like"},
                ev("like", "x", colour="red"),
                ev("like", "x", at=time.time() + 3 * DAY),
                ev("like", "x", at=-1),
                ev("like", "x", user="bob"),
                ["not", "an", "object"],  # type: ignore[list-item]
            ],
        )
    err = caught.value
    assert err.total == 7
    assert [p.where for p in err.problems] == [f"events[{i}]" for i in range(1, 8)]
    messages = [p.message for p in err.problems]
    assert messages[0].startswith("kind \"jump\": input should be 'view', 'like'")
    assert messages[1] == "'item' is missing"
    assert messages[2].startswith("unknown field 'colour'")
    assert "more than a day in the future" in messages[3]
    assert "greater than or equal to 0" in messages[4]
    assert messages[5] == "names user 'bob', but these events are for 'alice'"
    assert messages[6] == "not a JSON object but an array"
    assert "7 of 8 events are not valid" in str(err)
    assert not UserStore(db).exists(ALICE)  # the valid first event was not stored either


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_reports_every_bad_line_and_imports_nothing(
    store: InterestStore, db: Database, tmp_path: Path
) -> None:
    good = json.dumps(ev("like", "tent", "outdoor", user="alice"))
    path = _write(
        tmp_path / "events.jsonl",
        [
            good,
            json.dumps(ev("jump", "tent", user="alice")),
            "",  # blank lines are skipped, but still counted in line numbers
            json.dumps({"kind": "like", "user": "alice"}),
            json.dumps(ev("like", "tent", colour="red", user="alice")),
            '{"kind": "like", "item": ',
            json.dumps(ev("like", "tent")),  # no user, and no default user
            good,
        ],
    )
    with pytest.raises(InvalidEventsError) as caught:
        store.import_jsonl("shop", path)
    err = caught.value
    assert [p.where for p in err.problems] == ["line 2", "line 4", "line 5", "line 6", "line 7"]
    assert "not valid JSON" in err.problems[3].message
    assert "no 'user' field" in err.problems[4].message
    assert str(err).startswith(
        "5 of 7 lines are not valid interest events; nothing was stored:\n  line 2: kind"
    )
    assert UserStore(db).list_users("shop") == []


def test_import_lists_the_first_twenty_bad_lines(store: InterestStore) -> None:
    with pytest.raises(InvalidEventsError) as caught:
        store.import_jsonl("shop", ["nope"] * 25)
    assert caught.value.total == 25 and len(caught.value.problems) == 20
    assert str(caught.value).endswith("line 20: not valid JSON: Expecting value (column 1)\n  ... and 5 more")


def test_import_stores_every_line_for_its_user(store: InterestStore, tmp_path: Path) -> None:
    now = time.time()
    lines = [json.dumps(ev("view", f"item-{i}", "c", at=now - i, user="alice")) for i in range(2500)]
    lines += [json.dumps(ev("purchase", "tent", "outdoor", at=now)), "   "]  # the default user's
    summary = store.import_jsonl("shop", _write(tmp_path / "big.jsonl", lines), default_user="bob")
    assert summary.events == 2501 and summary.users == {"alice": 2500, "bob": 1}
    assert store.profile(ALICE, now=now).event_counts == {"view": 2500}
    assert [e.item for e in store.events(ALICE, limit=3)] == ["item-0", "item-1", "item-2"]
    bob = store.profile(Owner("shop", "bob"), now=now)
    assert [i.name for i in bob.items] == ["tent"]
    with pytest.raises(UserError, match="holds no events"):
        store.import_jsonl("shop", ["", "  "], default_user="bob")


def test_an_oversized_import_is_refused_before_it_is_read(store: InterestStore, tmp_path: Path) -> None:
    line = json.dumps(ev("view", "lamp", user="alice"))
    path = _write(tmp_path / "big.jsonl", [line] * 100)
    with pytest.raises(ImportTooLargeError, match="larger than 1,000 bytes"):
        store.import_jsonl("shop", path, max_bytes=1000)
    with pytest.raises(ImportTooLargeError, match="more than 99 events"):
        store.import_jsonl("shop", path, max_events=99)

    taken = 0

    def endless() -> Iterator[str]:
        nonlocal taken
        while True:
            taken += 1
            yield line

    with pytest.raises(ImportTooLargeError, match="more than 10 events"):
        store.import_jsonl("shop", endless(), max_events=10)
    assert taken == 11
    with pytest.raises(UnknownUserError):
        store.profile(ALICE)


def test_users_and_accounts_never_mix(store: InterestStore) -> None:
    now = time.time()
    bob, alice_elsewhere = Owner("shop", "bob"), Owner("other", "alice")
    store.record(ALICE, [ev("like", "tent", "outdoor", at=now)])
    store.record(bob, [ev("like", "novel", "books", at=now)])
    store.import_jsonl("other", [json.dumps(ev("purchase", "kettle", "kitchen", at=now, user="alice"))])
    assert [i.name for i in store.profile(ALICE, now=now).items] == ["tent"]
    assert [i.name for i in store.profile(bob, now=now).items] == ["novel"]
    assert [i.name for i in store.profile(alice_elsewhere, now=now).items] == ["kettle"]
    assert [e.item for e in store.events(alice_elsewhere)] == ["kettle"]
    with pytest.raises(UnknownUserError):
        store.profile(Owner("other", "bob"))


def test_forgetting_a_user_removes_their_events(store: InterestStore, db: Database) -> None:
    store.record(ALICE, [ev("like", "tent")])
    assert UserStore(db).forget(ALICE)["interest_events"] == 1
    with pytest.raises(UnknownUserError):
        store.profile(ALICE)


def test_events_are_checked_as_they_arrive() -> None:
    event = InterestEvent.model_validate({"kind": "save", "item": "  lamp  "})
    assert event.item == "lamp" and abs(event.at - time.time()) < 5 and event.category == ""
    for bad in (
        {"kind": "save", "item": "   "},
        {"kind": "save", "item": "x" * 201},
        {"kind": "save", "item": "x", "text": "x" * 2001},
        {"kind": "save", "item": "x", "at": float("nan")},
        {"kind": "save", "item": "x", "at": "yesterday"},
        {"kind": "save", "item": "x", "user": "no spaces"},
    ):
        with pytest.raises(ValueError):
            InterestEvent.model_validate(bad)


@pytest.mark.integration
def test_a_runner_s_profile_is_nearer_running_shoes_than_knives(tmp_path: Path) -> None:
    from ponder.memory import E5Embedder

    db = open_database(tmp_path / "ponder.db")
    store = InterestStore(db, E5Embedder())
    store.record(
        ALICE,
        [
            ev("purchase", "sku-1", "shoes", text="Lightweight trail running shoes with a grippy sole"),
            ev("like", "sku-2", "shoes", text="Cushioned road running shoes for marathon training"),
            ev("save", "sku-3", "sportswear", text="Breathable running socks"),
            ev("dismiss", "sku-4", "kitchen", text="Japanese chef's knife"),
        ],
    )
    profile = store.profile(ALICE)
    assert profile.embedding is not None and profile.embedding.shape == (384,)
    shoes, knives = store.embedder.query(["running shoes", "kitchen knives"])
    assert float(profile.embedding @ shoes) > float(profile.embedding @ knives) + 0.05
    db.close()

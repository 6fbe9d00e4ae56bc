"""The prefix state store on its own: files, checks and eviction (the states are plain bytes here; the
engine's tests restore real llama.cpp states)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ponder.models.embedded.prefix_cache import MAGIC, PrefixStore

IDENTITY = {"format": 1, "weights": "ab" * 32, "llama_cpp": "0.3.36", "n_ctx": 2048, "n_batch": 512}
PREFIX = list(range(1000, 1300))
STATE = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def store(tmp_path: Path) -> PrefixStore:
    return PrefixStore(tmp_path / "prefix-cache")


def _files(store: PrefixStore) -> list[Path]:
    return sorted(store.directory.glob("*.kv"))


def test_a_saved_state_loads_back_for_the_same_identity_and_tokens(store: PrefixStore) -> None:
    assert store.load(IDENTITY, PREFIX) is None  # nothing yet: a miss, no error
    assert store.save(IDENTITY, PREFIX, STATE)
    assert store.load(IDENTITY, PREFIX) == STATE
    assert [p.name for p in store.directory.iterdir()] == [store.path_for(IDENTITY, PREFIX).name]


def test_a_different_prefix_or_identity_misses(store: PrefixStore) -> None:
    store.save(IDENTITY, PREFIX, STATE)
    assert store.load(IDENTITY, [*PREFIX[:-1], 7]) is None
    assert store.load(IDENTITY, PREFIX[:-1]) is None
    assert store.load({**IDENTITY, "weights": "cd" * 32}, PREFIX) is None
    assert store.load({**IDENTITY, "n_ctx": 4096}, PREFIX) is None
    assert len(_files(store)) == 1  # misses leave the stored state alone


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-100], id="truncated"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="one-bit-flipped"),
        pytest.param(lambda data: data + b"x", id="overlong"),
        pytest.param(lambda data: b"not a state file at all", id="garbage"),
        pytest.param(lambda data: MAGIC + (1 << 40).to_bytes(8, "little"), id="absurd-header"),
        pytest.param(lambda data: MAGIC + (5).to_bytes(8, "little") + b"{oops", id="bad-json"),
        pytest.param(lambda data: MAGIC + (2).to_bytes(8, "little") + b"[]", id="json-not-an-object"),
    ],
)
def test_a_damaged_file_is_a_miss_and_is_removed(store: PrefixStore, damage: object) -> None:
    assert callable(damage)
    store.save(IDENTITY, PREFIX, STATE)
    path = store.path_for(IDENTITY, PREFIX)
    path.write_bytes(damage(path.read_bytes()))
    assert store.load(IDENTITY, PREFIX) is None
    assert not path.exists()


def test_a_header_claiming_a_huge_state_is_a_miss_without_allocating_it(store: PrefixStore) -> None:
    store.save(IDENTITY, PREFIX, STATE)
    path = store.path_for(IDENTITY, PREFIX)
    data = path.read_bytes()
    length = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
    header = json.loads(data[len(MAGIC) + 8 : len(MAGIC) + 8 + length])
    header["size"] = 1 << 50  # a petabyte: allocating it would fail, or worse
    encoded = json.dumps(header).encode()
    path.write_bytes(MAGIC + len(encoded).to_bytes(8, "little") + encoded + STATE)
    assert store.load(IDENTITY, PREFIX) is None
    assert not path.exists()


def test_a_file_holding_other_tokens_under_the_prefix_name_is_not_used(store: PrefixStore) -> None:
    other = [5, *PREFIX[1:]]
    store.save(IDENTITY, other, STATE)
    store.path_for(IDENTITY, other).rename(store.path_for(IDENTITY, PREFIX))  # as a hash collision would
    assert store.load(IDENTITY, PREFIX) is None
    assert _files(store) == []


def test_past_the_cap_the_least_recently_used_state_is_evicted(tmp_path: Path) -> None:
    probe = PrefixStore(tmp_path / "probe")
    probe.save(IDENTITY, PREFIX, STATE)
    one = probe.path_for(IDENTITY, PREFIX).stat().st_size
    store = PrefixStore(tmp_path / "cache", max_bytes=2 * one + one // 2)  # room for two
    prefixes = [[n, *PREFIX[1:]] for n in (1, 2, 3)]
    for age, prefix in zip((300, 200), prefixes[:2], strict=True):
        store.save(IDENTITY, prefix, STATE)
        stamp = store.path_for(IDENTITY, prefix).stat().st_mtime - age
        os.utime(store.path_for(IDENTITY, prefix), (stamp, stamp))
    store.save(IDENTITY, prefixes[2], STATE)
    assert store.load(IDENTITY, prefixes[0]) is None  # the oldest went
    assert store.load(IDENTITY, prefixes[1]) == STATE
    assert store.load(IDENTITY, prefixes[2]) == STATE
    assert len(_files(store)) == 2


def test_a_hit_makes_a_state_recent_so_another_is_evicted_first(tmp_path: Path) -> None:
    probe = PrefixStore(tmp_path / "probe")
    probe.save(IDENTITY, PREFIX, STATE)
    one = probe.path_for(IDENTITY, PREFIX).stat().st_size
    store = PrefixStore(tmp_path / "cache", max_bytes=2 * one + one // 2)
    first, second, third = ([n, *PREFIX[1:]] for n in (1, 2, 3))
    for age, prefix in ((300, first), (200, second)):
        store.save(IDENTITY, prefix, STATE)
        stamp = store.path_for(IDENTITY, prefix).stat().st_mtime - age
        os.utime(store.path_for(IDENTITY, prefix), (stamp, stamp))
    assert store.load(IDENTITY, first) == STATE  # used: now the most recent
    store.save(IDENTITY, third, STATE)
    assert store.contains(IDENTITY, first) and store.contains(IDENTITY, third)
    assert not store.contains(IDENTITY, second)


def test_a_state_larger_than_the_cap_is_not_written(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path / "cache", max_bytes=len(STATE) // 2)
    assert not store.save(IDENTITY, PREFIX, STATE)
    assert store.load(IDENTITY, PREFIX) is None


def test_save_later_writes_on_the_writer_thread_and_flush_waits_for_it(store: PrefixStore) -> None:
    buffer = bytearray(STATE)
    future = store.save_later(IDENTITY, PREFIX, memoryview(buffer)[:1000])
    store.flush(timeout=30)
    assert future.result() is True
    assert store.load(IDENTITY, PREFIX) == STATE[:1000]
    store.close()


def test_a_stale_temporary_file_left_by_a_crash_is_cleaned_up(store: PrefixStore) -> None:
    store.directory.mkdir(parents=True)
    stale = store.directory / ".abc.kv.123.456.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    fresh = store.directory / ".def.kv.123.789.tmp"  # another process may be writing it now
    fresh.write_bytes(b"partial")
    store.save(IDENTITY, PREFIX, STATE)
    assert not stale.exists() and fresh.exists()
    assert store.load(IDENTITY, PREFIX) == STATE

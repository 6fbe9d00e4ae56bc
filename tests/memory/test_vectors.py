"""The in-memory vector index: exact top-k, replacement, removal, and scopes that never mix."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.memory.vectors import ScopedIndex, VectorIndex


def _unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_top_k_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 500)
    index = VectorIndex(8)
    index.add(list(range(500)), vectors)
    query = _unit(rng, 1)[0]
    expected = np.argsort(-(vectors @ query))[:5]
    assert [i for i, _ in index.search(query, 5)] == list(expected)


def test_replace_and_remove() -> None:
    index = VectorIndex(2)
    index.add([1, 2, 3], np.array([[1, 0], [0, 1], [0.6, 0.8]], np.float32))
    index.add([2], np.array([[1, 0]], np.float32))  # replaced, not duplicated
    assert len(index) == 3
    index.remove([1, 99])
    assert len(index) == 2 and 1 not in index
    assert [i for i, _ in index.search(np.array([1, 0], np.float32), 3)] == [2, 3]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 40)), min_size=1, max_size=60))
def test_a_scope_only_ever_returns_its_own_ids(items: list[tuple[str, int]]) -> None:
    rng = np.random.default_rng(len(items))
    index = ScopedIndex(8)
    owned: dict[str, set[int]] = {"a": set(), "b": set()}
    for n, (user, item) in enumerate(items):
        item_id = n * 10 + item
        index.scope(user).add([item_id], _unit(rng, 1))
        owned[user].add(item_id)
    for user in "ab":
        found = {i for i, _ in index.search(user, _unit(rng, 1)[0], 1000)}
        assert found == owned[user]


def test_e5_embeddings_rank_the_related_fact_first() -> None:
    from ponder.memory import E5Embedder

    embedder = E5Embedder()
    facts = embedder.passage(
        ["I am vegetarian and never eat meat.", "I live in Lisbon.", "My shirt size is M."]
    )
    assert facts.shape == (3, 384)
    assert np.allclose(np.linalg.norm(facts, axis=1), 1.0, atol=1e-3)
    index = VectorIndex(384)
    index.add([1, 2, 3], facts)
    assert index.search(embedder.query(["What should I cook for dinner?"])[0], 1)[0][0] == 1
    assert index.search(embedder.query(["Which city am I in?"])[0], 1)[0][0] == 2

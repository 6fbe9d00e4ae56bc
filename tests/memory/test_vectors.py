"""The in-memory vector index: exact top-k, replacement, removal, and the index of large scopes."""

from __future__ import annotations

import numpy as np

from ponder.memory.vectors import VectorIndex


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


def _clustered(rng: np.random.Generator, n: int, dim: int = 32, centres: int = 40) -> np.ndarray:
    """Rows around a few dozen centres, as embeddings of related facts are."""
    centre = _unit(rng, centres, dim)[rng.integers(0, centres, n)]
    rows = centre + 0.06 * rng.normal(size=(n, dim)).astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_a_large_scope_gets_an_inverted_file_index_that_finds_the_exact_neighbours() -> None:
    rng = np.random.default_rng(1)
    rows = _clustered(rng, 3000)
    index = VectorIndex(32, approximate_from=1000, background=False)
    index.add(list(range(3000)), rows)
    queries = _clustered(rng, 50)
    index.search(queries[0], 5)
    assert index.approximate
    same = 0
    for query in queries:
        exact = list(np.argsort(-(rows @ query))[:5])
        found = index.search(query, 5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        assert all(abs(s - float(rows[i] @ query)) < 1e-4 for i, s in found)  # exact scores
        same += [i for i, _ in found] == exact
    assert same >= 45  # only which rows are scanned is approximate; bench/memory_recall.py measures it


def test_changes_reach_the_inverted_file_index() -> None:
    rng = np.random.default_rng(2)
    index = VectorIndex(32, approximate_from=1000, background=False)
    index.add(list(range(2000)), _clustered(rng, 2000))
    assert index.wait_until_trained()
    target = _unit(rng, 1, 32)
    index.add([5000], target)
    assert index.search(target[0], 1)[0][0] == 5000
    index.add([7], target)  # replaced: id 7 now holds the same vector, and only once
    assert sorted(i for i, _ in index.search(target[0], 2)) == [7, 5000]
    index.remove([5000, 7])
    assert {i for i, _ in index.search(target[0], 5)}.isdisjoint({7, 5000})
    index.remove(list(range(1600)))  # shrunk under half the threshold: exact again
    assert len(index.search(target[0], 500)) == 400 and not index.approximate


def test_a_filtered_search_returns_only_allowed_rows_exact_or_through_the_index() -> None:
    rng = np.random.default_rng(4)
    rows = _clustered(rng, 3000)
    for approximate_from in (None, 1000):
        index = VectorIndex(32, approximate_from=approximate_from, background=False)
        index.add(list(range(3000)), rows)
        for share in (0.5, 0.01):  # broad (through the index when there is one) and narrow (exact)
            allowed = rng.random(3000) < share
            query = rows[int(np.flatnonzero(allowed)[0])]
            found = index.search(query, 10, allowed)
            assert len(found) == min(10, int(allowed.sum())) and all(allowed[i] for i, _ in found)
            exact = np.flatnonzero(allowed)[np.argsort(-(rows[allowed] @ query))[:10]]
            assert found[0][0] == exact[0]
        assert index.search(rows[0], 5, np.zeros(3000, bool)) == []
        assert index.approximate == (approximate_from is not None)


def test_training_in_the_background_keeps_changes_made_meanwhile() -> None:
    rng = np.random.default_rng(3)
    rows = _clustered(rng, 4000)
    index = VectorIndex(32, approximate_from=3000)
    index.add(list(range(4000)), rows)
    index.search(rows[0], 1)  # starts training; exact search answers meanwhile
    target = _unit(rng, 1, 32)
    index.add([9000], target)
    index.remove([0, 1, 2])
    assert index.wait_until_trained(timeout=60)
    assert index.training_error is None
    assert index.search(target[0], 1)[0][0] == 9000
    assert {i for i, _ in index.search(rows[1], 10)}.isdisjoint({0, 1, 2})


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

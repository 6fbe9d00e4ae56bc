"""Exact vector search in memory: one matrix of L2-normalised rows per scope, searched by dot product.

A scope is one user's memories (an account, a user, and optionally a project): every search runs over its
own scope's matrix only, so one user's vectors can never surface in another's results. Exact search with
numpy is fast enough for a person's memories (100,000 rows of 384 floats take a few milliseconds on two
cores; bench/memory_recall.py measures it), and it is never wrong, as approximate indexes can be.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["ScopedIndex", "VectorIndex"]


class VectorIndex:
    """Rows with integer ids; add, remove, and top-k search by cosine similarity (rows are normalised)."""

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self.dim = dim
        self._matrix = np.zeros((capacity, dim), np.float32)
        self._ids = np.zeros(capacity, np.int64)
        self._size = 0
        self._where: dict[int, int] = {}  # id -> row

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add (or replace) rows; ``vectors`` is (len(ids), dim)."""
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), self.dim)
        for item_id, vector in zip(ids, vectors, strict=True):
            row = self._where.get(int(item_id))
            if row is None:
                if self._size == len(self._ids):
                    self._grow()
                row = self._size
                self._size += 1
                self._where[int(item_id)] = row
                self._ids[row] = item_id
            self._matrix[row] = vector

    def _grow(self) -> None:
        capacity = max(64, 2 * len(self._ids))
        matrix = np.zeros((capacity, self.dim), np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        ids = np.zeros(capacity, np.int64)
        ids[: self._size] = self._ids[: self._size]
        self._matrix, self._ids = matrix, ids

    def remove(self, ids: Sequence[int]) -> None:
        """Drop rows (unknown ids are ignored); the last row moves into each hole."""
        for item_id in ids:
            row = self._where.pop(int(item_id), None)
            if row is None:
                continue
            last = self._size - 1
            if row != last:
                moved = int(self._ids[last])
                self._matrix[row] = self._matrix[last]
                self._ids[row] = moved
                self._where[moved] = row
            self._size = last

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` most similar rows as (id, score), best first."""
        if self._size == 0 or k <= 0:
            return []
        scores = self._matrix[: self._size] @ np.asarray(query, np.float32).reshape(self.dim)
        k = min(k, self._size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._ids[i]), float(scores[i])) for i in top]


class ScopedIndex:
    """One ``VectorIndex`` per scope; a search sees its own scope and nothing else."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._scopes: dict[Hashable, VectorIndex] = {}

    def scope(self, key: Hashable) -> VectorIndex:
        index = self._scopes.get(key)
        if index is None:
            index = self._scopes[key] = VectorIndex(self.dim)
        return index

    def search(self, key: Hashable, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        index = self._scopes.get(key)
        return index.search(query, k) if index is not None else []

    def drop(self, key: Hashable) -> None:
        self._scopes.pop(key, None)

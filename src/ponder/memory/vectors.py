"""Vector search in memory: one matrix of L2-normalised rows per scope, searched by dot product.

A scope is one user's memories (an account, a user, and optionally a project): every search runs over its
own scope's rows only, so one user's vectors can never surface in another's results.

- Up to ``APPROXIMATE_FROM`` rows, search is exact: one matrix-vector product with numpy. That covers
  any person's memories but the most prolific, and it is never wrong.
- From ``APPROXIMATE_FROM`` rows on, an exact scan reads every vector for every query (100,000 rows are
  150 MB: about 10 ms on two cores when the machine is quiet, and much more when it is busy), so the
  scope also gets an inverted-file index (faiss ``IndexIVFFlat``: rows clustered by k-means, a query
  scans the ``1/PROBED`` of clusters nearest to it). Scores are still exact dot products; only which rows
  are scanned is approximate. bench/memory_recall.py measures how often its top k equal the exact top k.
  The index is trained in a background thread from a snapshot; exact search serves until it is ready,
  and rows added or removed meanwhile are replayed onto it. It is trained again when the scope has
  grown ``RETRAIN_GROWTH`` times, and dropped when it shrinks back under half the threshold.

The exact product runs on one BLAS thread. OpenBLAS's workers spin for about 0.1 s after each call before
they sleep; on a two-core machine they take the cores from the embedding model's OpenMP threads, and the
next query embedding took 120 ms instead of 20 (bench/catalog_search.py: search p95 119 ms with the
default threads, 37 ms with one). One thread costs under a millisecond for the scopes searched exactly.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["APPROXIMATE_FROM", "VectorIndex"]

_ONE_BLAS_THREAD = threading.Lock()  # threadpoolctl's limit is process-wide: one holder at a time
_blas: Any = None  # the process's BLAS libraries (threadpoolctl), found on the first exact search

APPROXIMATE_FROM = 20_000  # rows from which a scope gets an inverted-file index
PROBED = 8  # a query scans the nearest 1/PROBED of the clusters
RETRAIN_GROWTH = 4
_TRAINING_ROWS_PER_CLUSTER = 16  # k-means on a sample: enough for stable clusters, and quick


class _Inverted:
    """A trained faiss IndexIVFFlat (inner product) and the size it was trained for."""

    def __init__(self, matrix: np.ndarray, ids: np.ndarray) -> None:
        import faiss  # a few hundred ms to import: only scopes that need it pay

        size, dim = matrix.shape
        self.trained_for = size
        clusters = max(16, min(4096, round(4 * math.sqrt(size))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, clusters, faiss.METRIC_INNER_PRODUCT)
        index.cp.min_points_per_centroid = 8
        index.cp.seed = 1234
        sample = matrix
        wanted = clusters * _TRAINING_ROWS_PER_CLUSTER
        if size > wanted:
            sample = matrix[np.random.default_rng(size).choice(size, wanted, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.add_with_ids(np.ascontiguousarray(matrix), ids)
        index.nprobe = max(1, math.ceil(clusters / PROBED))
        self.index: Any = index
        self._quantizer = quantizer  # the index points at it: keep it alive

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.remove_ids(ids)  # a replaced row must not stay twice
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(ids)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if allowed is None:
            scores, ids = self.index.search(query.reshape(1, -1), k)
        else:
            import faiss

            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = faiss.SearchParametersIVF()
            params.sel, params.nprobe = selector, self.index.nprobe
            scores, ids = self.index.search(query.reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


def _product(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``matrix @ query`` on one BLAS thread (see the module's docstring)."""
    global _blas
    with _ONE_BLAS_THREAD:
        if _blas is None:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController().select(user_api="blas")
        with _blas.limit(limits=1):
            scores: np.ndarray = matrix @ query
    return scores


class VectorIndex:
    """Rows with integer ids; add, remove, and top-k search by cosine similarity (rows are normalised).

    Safe to share between threads: every operation holds the index's lock (a search takes milliseconds).
    """

    def __init__(
        self,
        dim: int,
        capacity: int = 64,
        *,
        approximate_from: int | None = APPROXIMATE_FROM,
        background: bool = True,
    ) -> None:
        self.dim = dim
        self.approximate_from = approximate_from
        self.background = background
        self._matrix = np.zeros((max(1, capacity), dim), np.float32)
        self._ids = np.zeros(max(1, capacity), np.int64)
        self._size = 0
        self._where: dict[int, int] = {}  # id -> row
        self._lock = threading.Lock()
        self._inverted: _Inverted | None = None
        self._training: threading.Thread | None = None
        self._replay: list[tuple[np.ndarray, np.ndarray | None]] = []  # changes made while training
        self.training_error: BaseException | None = None

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    @property
    def approximate(self) -> bool:
        """Whether searches now go through the inverted-file index."""
        return self._inverted is not None

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add (or replace) rows; ``vectors`` is (len(ids), dim)."""
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), self.dim)
        keys = np.asarray(ids, np.int64).reshape(len(ids))
        with self._lock:
            for item_id, vector in zip(keys.tolist(), vectors, strict=True):
                row = self._where.get(item_id)
                if row is None:
                    if self._size == len(self._ids):
                        self._grow()
                    row = self._size
                    self._size += 1
                    self._where[item_id] = row
                    self._ids[row] = item_id
                self._matrix[row] = vector
            if self._inverted is not None:
                self._inverted.add(keys, vectors)
            if self._training is not None:
                self._replay.append((keys, vectors))

    def _grow(self) -> None:
        capacity = max(64, 2 * len(self._ids))
        matrix = np.zeros((capacity, self.dim), np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        ids = np.zeros(capacity, np.int64)
        ids[: self._size] = self._ids[: self._size]
        self._matrix, self._ids = matrix, ids

    def remove(self, ids: Sequence[int]) -> None:
        """Drop rows (unknown ids are ignored); the last row moves into each hole."""
        keys = np.asarray(ids, np.int64).reshape(len(ids))
        with self._lock:
            for item_id in keys.tolist():
                row = self._where.pop(item_id, None)
                if row is None:
                    continue
                last = self._size - 1
                if row != last:
                    moved = int(self._ids[last])
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._where[moved] = row
                self._size = last
            if self._inverted is not None:
                self._inverted.remove(keys)
            if self._training is not None:
                self._replay.append((keys, None))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` most similar rows as (id, score), best first.

        ``allowed``: a boolean mask indexed by id (ids must then be small non-negative integers, such as
        row numbers): only rows whose id it marks True are returned. A filter that leaves few rows is
        searched exactly over those rows; a broad one through the inverted-file index, falling back to
        the exact search when the clusters it scanned held fewer than ``k`` allowed rows.
        """
        query = np.asarray(query, np.float32).reshape(self.dim)
        with self._lock:
            if self._size == 0 or k <= 0:
                return []
            self._maintain()
            if allowed is None:
                k = min(k, self._size)
                if self._inverted is not None:
                    ids, scores = self._inverted.search(query, k)
                    return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
                return self._exact(query, k, None)
            mask = np.zeros(max(len(allowed), int(self._ids[: self._size].max()) + 1), bool)
            mask[: len(allowed)] = allowed
            rows = np.flatnonzero(mask[self._ids[: self._size]])
            k = min(k, len(rows))
            if k == 0:
                return []
            if self._inverted is not None and len(rows) >= self._size // PROBED:
                ids, scores = self._inverted.search(query, k, mask)
                if len(ids) == k:
                    return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
            return self._exact(query, k, rows)

    def _exact(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
        """Exact top ``k`` over every row, or over ``rows`` (called with the lock held)."""
        matrix = self._matrix[: self._size] if rows is None else self._matrix[rows]
        scores = _product(matrix, query)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        where = top if rows is None else rows[top]
        return [(int(self._ids[r]), float(scores[t])) for r, t in zip(where, top, strict=True)]

    def wait_until_trained(self, timeout: float | None = None) -> bool:
        """Start training now if the scope needs an index, and wait for it; whether searches use it."""
        with self._lock:
            if self._size:
                self._maintain()
            training = self._training
        if training is not None:
            training.join(timeout)
        return self.approximate

    # --- the inverted-file index ------------------------------------------------------------------------

    def _maintain(self) -> None:
        """Train, retrain or drop the inverted-file index as the size asks (called with the lock held)."""
        if self.approximate_from is None or self._training is not None or self.training_error is not None:
            return
        if self._inverted is None:
            if self._size >= self.approximate_from:
                self._train()
        elif self._size < self.approximate_from // 2:
            self._inverted = None
        elif self._size >= RETRAIN_GROWTH * self._inverted.trained_for:
            self._train()

    def _train(self) -> None:
        matrix = self._matrix[: self._size].copy()
        ids = self._ids[: self._size].copy()
        self._replay = []
        if not self.background:
            self._inverted = _Inverted(matrix, ids)
            return
        thread = threading.Thread(
            target=self._train_in_background, args=(matrix, ids), name="vector-index-training", daemon=True
        )
        self._training = thread
        thread.start()

    def _train_in_background(self, matrix: np.ndarray, ids: np.ndarray) -> None:
        try:
            inverted = _Inverted(matrix, ids)
        except BaseException as error:  # exact search goes on; the error is kept for whoever looks
            with self._lock:
                self.training_error = error
                self._training = None
                self._replay = []
            return
        with self._lock:
            for keys, vectors in self._replay:
                if vectors is None:
                    inverted.remove(keys)
                else:
                    inverted.add(keys, vectors)
            self._replay = []
            self._inverted = inverted
            self._training = None

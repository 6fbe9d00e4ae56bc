"""What everyone did: interactions, popularity, and the collaborative filter fitted on them.

- **Interactions** (``interactions_from_events``): ``(user, product, kind)`` events netted per pair by
  ``KIND_WEIGHTS`` (a purchase counts 5 views, a dismissal -3), the positive pairs kept, so a
  viewed-then-dismissed product is no evidence of liking.
- **Popularity** (``popularity``, ``most_popular``): how many distinct people showed a positive interest
  in each product; the baseline, and what a person with no history and no request is shown.
- **Collaborative filtering** (``CollaborativeFilter``): implicit-feedback ALS from the ``implicit``
  library (CPU) over the interactions. Fitting is deterministic: factors start from ``seed``, and ALS
  solves each user (then each item) on its own, so threads do not change the result. A user or product it
  never saw scores 0; a user who acted since the fit is folded in from a history.

Not here: reading events from the database, when to refit, and how the scores are blended (recommend.py).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from ponder.memory.interests import KIND_WEIGHTS, Kind

__all__ = [
    "ALS_SETTINGS",
    "ALSSettings",
    "CollaborativeFilter",
    "CollaborativeUser",
    "Interaction",
    "interactions_from_events",
    "most_popular",
    "popularity",
]

Interaction = tuple[str, str, float]  # (user_id, product_id, weight > 0)


# --- interactions and popularity ---


def interactions_from_events(events: Iterable[tuple[str, str, Kind]]) -> list[Interaction]:
    """``(user_id, product_id, kind)`` events netted per pair by ``KIND_WEIGHTS``; the positive pairs,
    sorted. A dismissal subtracts, so a product viewed once and dismissed (1 - 3) is left out, and a
    product bought then dismissed (5 - 3) stays, weaker. No time decay: the model is refitted, not aged."""
    totals: defaultdict[tuple[str, str], float] = defaultdict(float)
    for user, product, kind in events:
        totals[(user, product)] += KIND_WEIGHTS[kind]
    return [(user, product, weight) for (user, product), weight in sorted(totals.items()) if weight > 0]


def popularity(interactions: Iterable[Interaction]) -> dict[str, int]:
    """product_id -> how many distinct users showed a positive interest in it (a heavy user counts once)."""
    fans: defaultdict[str, set[str]] = defaultdict(set)
    for user, product, weight in interactions:
        if weight > 0:
            fans[product].add(user)
    return {product: len(users) for product, users in sorted(fans.items())}


def most_popular(counts: Mapping[str, int], k: int, exclude: Collection[str] = ()) -> list[str]:
    """The ``k`` products with the most fans, most first (ties by id), leaving out ``exclude``."""
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return [product for product, _ in ranked if product not in exclude][: max(0, k)]


# --- collaborative filtering ---


@dataclass(frozen=True)
class ALSSettings:
    """How the collaborative filter is fitted. The defaults were chosen by ``python bench/recommend.py
    --tune --seed 0 1 2 3 4`` on the validation splits cut from the training events (each user's last
    training item), never on a test split: hit rate@10 of CF alone, pooled over five populations (9,891
    users), over factors {64, 128, 256} x regularization {20, 50, 100, 200} x alpha {4, 8}. 256 / 100 / 8
    came first (0.0782), 128 / 100 / 8 a hair behind (0.0778: 4 hits); 128 is kept, for the same figure in
    half the fit time. Popularity alone scores 0.0649 there; the previous 64 / 5 / 4 scored 0.0627, under
    it. Strong regularization is most of the gain: with ~16 interactions a person, weakly regularized
    factors fit each person's few products and miss what their fans also liked."""

    factors: int = 128
    regularization: float = 100.0
    alpha: float = 8.0  # an interaction's confidence: alpha x its weight (a view: alpha, a purchase: 5 alpha)
    iterations: int = 15
    threads: int = 2  # 0: every core; the factors are the same for any number (each solve is independent)
    seed: int = 0


ALS_SETTINGS: Final = ALSSettings()

_fit_lock = threading.Lock()  # threadpoolctl's limits are process-wide: one fit changes them at a time


@dataclass(frozen=True)
class CollaborativeUser:
    """The collaborative signal for one user: scores for any products, and the evidence behind them."""

    model: CollaborativeFilter
    user_id: str
    vector: np.ndarray | None  # (factors,) float32; None: nothing known about the user
    history: Mapping[str, float]  # product_id -> weight: what the user's vector was computed from

    def scores(self, product_ids: Sequence[str]) -> np.ndarray:
        """(len(product_ids),) float32 predicted preferences; 0 for products the model never saw."""
        out = np.zeros(len(product_ids), np.float32)
        if self.vector is None or not product_ids:
            return out
        columns = self.model.columns(product_ids)
        known = columns >= 0
        out[known] = self.model.item_factors[columns[known]] @ self.vector
        return out

    def also_liked(self, product_id: str) -> tuple[str, int] | None:
        """(a product of the user's history, how many users showed an interest in both it and
        ``product_id``): the history product that shares the most of them (ties: the heavier in the
        history, then the smaller id); None when none shares any."""
        best: tuple[int, float, str] | None = None
        for other, weight in sorted(self.history.items()):
            if other == product_id:
                continue
            both = self.model.co_interest(other, product_id)
            if both and (best is None or (both, weight) > (best[0], best[1])):
                best = (both, weight, other)
        return (best[2], best[0]) if best is not None else None


class CollaborativeFilter:
    """Implicit-feedback ALS over positive interactions; immutable once fitted (refit to learn more)."""

    def __init__(
        self,
        users: Sequence[str],
        products: Sequence[str],
        user_factors: np.ndarray,  # (users, factors) float32
        item_factors: np.ndarray,  # (products, factors) float32
        user_items: Any,  # scipy.sparse.csr_matrix (users, products) of weights
        solver: Any,  # the fitted implicit model: folds in new users
        settings: ALSSettings,
        fit_seconds: float,
    ) -> None:
        self.users = {user: row for row, user in enumerate(users)}
        self.products = list(products)
        self.product_index = {product: column for column, product in enumerate(products)}
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.user_items = user_items
        self.item_users = user_items.T.tocsr()  # (products, users): each row's indices sorted
        self.item_users.sort_indices()
        self.solver = solver
        self.settings = settings
        self.fit_seconds = fit_seconds

    @classmethod
    def fit(
        cls, interactions: Iterable[Interaction], settings: ALSSettings = ALS_SETTINGS
    ) -> CollaborativeFilter:
        """Fit on ``(user, product, weight)`` interactions (repeated pairs add up; weights <= 0 are
        dropped). No interactions: a model that knows no one and scores everything 0."""
        import scipy.sparse  # type: ignore[import-untyped]  # imported here: half a second, and only to fit
        from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        totals: defaultdict[tuple[str, str], float] = defaultdict(float)
        for user, product, weight in interactions:
            if weight > 0:
                totals[(user, product)] += weight
        users = sorted({user for user, _ in totals})
        products = sorted({product for _, product in totals})
        rows = {user: i for i, user in enumerate(users)}
        columns = {product: i for i, product in enumerate(products)}
        pairs = sorted(totals.items())
        user_items = scipy.sparse.csr_matrix(
            (
                np.array([weight for _, weight in pairs], np.float32),
                (
                    np.array([rows[user] for (user, _), _ in pairs], np.int32),
                    np.array([columns[product] for (_, product), _ in pairs], np.int32),
                ),
            ),
            shape=(len(users), len(products)),
        )
        if not pairs:
            empty = np.zeros((0, settings.factors), np.float32)
            return cls([], [], empty, empty, user_items, None, settings, time.perf_counter() - started)
        # One BLAS thread: implicit runs its own threads, and a BLAS pool under them makes ALS ~10x slower.
        with _fit_lock, threadpool_limits(1, "blas"):
            solver = AlternatingLeastSquares(
                factors=settings.factors,
                regularization=settings.regularization,
                alpha=settings.alpha,
                iterations=settings.iterations,
                num_threads=settings.threads,
                random_state=settings.seed,
            )
            solver.fit(user_items, show_progress=False)
        return cls(
            users,
            products,
            np.asarray(solver.user_factors, np.float32),
            np.asarray(solver.item_factors, np.float32),
            user_items,
            solver,
            settings,
            time.perf_counter() - started,
        )

    def columns(self, product_ids: Sequence[str]) -> np.ndarray:
        """(len(product_ids),) int64 column of each product in the model, -1 for products it never saw."""
        return np.fromiter((self.product_index.get(p, -1) for p in product_ids), np.int64, len(product_ids))

    def user(self, user_id: str, history: Mapping[str, float] | None = None) -> CollaborativeUser:
        """The signal for ``user_id``: their fitted factors, or, given a ``history`` (product_id -> weight,
        e.g. from ``interactions_from_events`` over their events now), factors solved from it against the
        fitted products, for someone new or active since the fit. Unknown, with no history: all zeros."""
        if history is not None:
            known = {p: w for p, w in sorted(history.items()) if w > 0 and p in self.product_index}
            return CollaborativeUser(self, user_id, self._fold_in(known), known)
        row = self.users.get(user_id)
        if row is None:
            return CollaborativeUser(self, user_id, None, {})
        start, end = self.user_items.indptr[row], self.user_items.indptr[row + 1]
        fitted = {
            self.products[int(c)]: float(w)
            for c, w in zip(self.user_items.indices[start:end], self.user_items.data[start:end], strict=True)
        }
        return CollaborativeUser(self, user_id, self.user_factors[row], fitted)

    def co_interest(self, product_a: str, product_b: str) -> int:
        """How many users showed a positive interest in both products."""
        a, b = self.product_index.get(product_a), self.product_index.get(product_b)
        if a is None or b is None:
            return 0
        indptr, indices = self.item_users.indptr, self.item_users.indices
        fans_a, fans_b = indices[indptr[a] : indptr[a + 1]], indices[indptr[b] : indptr[b + 1]]
        return int(np.intersect1d(fans_a, fans_b, assume_unique=True).size)

    def _fold_in(self, history: Mapping[str, float]) -> np.ndarray | None:
        if not history or self.solver is None:
            return None
        import scipy.sparse

        columns = np.array([self.product_index[p] for p in history], np.int32)
        weights = np.array(list(history.values()), np.float32)
        row = scipy.sparse.csr_matrix(
            (weights, (np.zeros(len(columns), np.int32), columns)), shape=(1, len(self.products))
        )
        return np.asarray(self.solver.recalculate_user(0, row), np.float32)

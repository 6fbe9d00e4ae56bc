"""Personal recommendations: the request of the conversation, the person's interest profile and what other
shoppers did, blended into one ranked list that says why each product is on it.

Three parts, all in memory and free of the database (the catalog reads products, profiles and events and
hands them here):

- **Collaborative filtering** (``CollaborativeFilter``): implicit-feedback ALS from the ``implicit``
  library (CPU) over ``(user, product, weight)`` interactions. ``interactions_from_events`` nets each
  pair's ``KIND_WEIGHTS`` (a purchase counts 5 views, a dismissal -3) and keeps the positive ones, so a
  viewed-then-dismissed product is no evidence of liking. Fitting is deterministic: factors start from
  ``seed``, and ALS solves each user (then each item) on its own, so threads do not change the result.
  A user or product it never saw scores 0; a user who acted since the fit is folded in from a history.
- **Popularity** (``popularity``, ``most_popular``): how many distinct people showed a positive interest
  in each product; the baseline, and what a person with no history and no request is shown.
- **The blend** (``Recommender``): per candidate product, components in [0, 1] (relevance to the request,
  collaborative score, the profile's share of the product's category, closeness to the profile embedding,
  affinity for its attributes, the product's own share of the profile, popularity) and a dislike penalty,
  mixed by ``WEIGHTS``. Hard constraints (price, stock, size, excluded categories and products) remove
  products before anything is ranked, so no score can bring them back. Only the top k are explained, in
  words built from the components that put each one there and the facts behind them (the words matched,
  the purchases made, how many shoppers were interested in both).
- **Attribute affinity**: the profile's liked products that are candidates tell how often the person
  picks each brand and attribute value (material, colour, style...) against the catalog's own mix; a
  product scores the sum of the log ratios of its values. The interest profile itself keeps categories
  and items only, so build the ``Recommender`` over the whole catalog, not a search result, for the
  profile's products to be found (the same holds for "similar to" reasons).

Scores that live on different scales (cosines, ALS dot products) are min-max scaled over the eligible
candidates of the call: a component says how a product compares with the others on offer now, not an
absolute liking. Shares (category, item) are divided by the profile's top share, so a person's favourite
category scores 1 however spread their tastes are.

Not here: finding candidates (catalog search), embedding texts, reading events from the database, when to
refit, and diversity re-ranking.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

import numpy as np

from ponder.commerce.model import Product
from ponder.memory.interests import KIND_WEIGHTS, Interest, InterestProfile, Kind

__all__ = [
    "ALS_SETTINGS",
    "COMPONENTS",
    "WEIGHTS",
    "ALSSettings",
    "BlendWeights",
    "Candidate",
    "CollaborativeFilter",
    "CollaborativeUser",
    "Components",
    "Constraints",
    "Interaction",
    "Recommendation",
    "Recommender",
    "Request",
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
    --tune`` on the validation split cut from the training events (each user's last training item), never
    on the test split: hit rate@10 of CF alone over factors {32, 64, 128}, regularization {0.05, 0.5, 2, 5,
    10} and alpha {1, 4, 10}; 64 / 5 / 4 came first (0.060; the grid spans 0.037-0.060). Strong
    regularization matters most for people with few interactions: at 0.05, someone who bought only a tent
    gets a factor for the tent alone, and nothing for the sleeping bag the tent's buyers also bought."""

    factors: int = 64
    regularization: float = 5.0
    alpha: float = 4.0  # an interaction's confidence: alpha x its weight (a view: alpha, a purchase: 5 alpha)
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


# --- the blend ---


@dataclass(frozen=True)
class BlendWeights:
    """How much each component counts; ``dislike`` is subtracted."""

    relevance: float
    collaborative: float
    category: float
    similarity: float
    attributes: float
    item: float
    popularity: float
    dislike: float

    def vector(self) -> np.ndarray:
        """(len(COMPONENTS),) float32 in the order of ``COMPONENTS``, dislike negated."""
        values = [getattr(self, name) for name in COMPONENTS]
        values[-1] = -values[-1]
        return np.asarray(values, np.float32)


COMPONENTS: Final = tuple(f.name for f in fields(BlendWeights))  # dislike last

# Chosen by `python bench/recommend.py --tune` on the validation split cut from the training events (each
# user's last training item), never on the test split; collaborative is the unit (only ratios matter).
# Without a request, over category {0, 0.5, 1, 2} x similarity {0, 0.5, 1, 2, 4} x attributes
# {0, 0.5, 1, 2, 4} x popularity {0, 0.5, 1, 2, 4} x dislike {0, 0.5, 1}: 1 / 0.5 / 1 / 2 / 0.5 came first
# (validation hit rate 0.092, against 0.060 for CF alone and 0.051 for popularity). Dislikes barely move
# that figure (dismissals there mostly hit poor fits, which rank low anyway): 0.5 and 1 tie, 0 is a hair
# behind; 0.5 is kept so a dismissal pushes down, as it should. Then relevance alone over {1, 2, 4, 8, 16},
# with requests naming the held-out item's category: 4 first. ``item`` scores only products already in
# the profile, which the bench excludes, so it is set by hand: as much as their category.
WEIGHTS: Final = BlendWeights(
    relevance=4.0,
    collaborative=1.0,
    category=1.0,
    similarity=0.5,
    attributes=1.0,
    item=1.0,
    popularity=2.0,
    dislike=0.5,
)

# The catalog's own mix of an attribute's values counts as this much evidence (in KIND_WEIGHTS units: one
# purchase) when a person's mix is estimated from the products they liked: two liked navy things out of two
# do not yet make navy everything.
ATTRIBUTE_PRIOR: Final = 5.0
ATTRIBUTE_REASON: Final = 1.5  # a value is worth naming at this many times the catalog's rate, or more
# A product in the most disliked category counts half as much against it as a dismissal of the product
# itself: the category is a hint about it, the dismissal a verdict on it.
CATEGORY_DISLIKE: Final = 0.5
REASONS: Final = 3  # scoring reasons kept per recommendation, strongest first (constraint reasons besides)
REASON_FLOOR: Final = 0.3  # a component below this value is too weak to give as a reason
REASON_SHARE: Final = 0.1  # ... and so is one bringing less than this share of the positive score
SIMILAR_FROM: Final = 20  # a "similar to" reason names the closest of the profile's heaviest liked items
_PAST: Final[Mapping[str, str]] = {
    "view": "viewed",
    "like": "liked",
    "follow": "followed",
    "share": "shared",
    "save": "saved",
    "purchase": "bought",
}
_WORD = re.compile(r"\w+")
_STOPWORDS: Final = frozenset(  # request words that say nothing about the product
    _WORD.findall(
        "a an and any are as at be buy by find for from get i im in is it looking me my need of on or please "
        "show some something that the this to under want with would you your"
    )
)


@dataclass(frozen=True)
class Candidate:
    """A product that may be recommended: through one of its variants, the cheapest that meets the
    constraints (a product without variants never is)."""

    product: Product
    embedding: np.ndarray | None = None  # (dim,) its passage embedding, L2-normalised (Embedder.passage)


@dataclass(frozen=True)
class Request:
    """What the person asked for in the conversation."""

    text: str
    embedding: np.ndarray | None = None  # (dim,) Embedder.query([text])[0]; None: words alone


@dataclass(frozen=True)
class Constraints:
    """Hard limits: a product that breaks one is never returned."""

    max_price: int | None = None  # minor units; a product qualifies through a variant at or under it
    in_stock_only: bool = True  # only variants that are available and not out of stock count
    size: str | None = None  # only variants of this size count, for products that come in sizes
    excluded_categories: frozenset[str] = frozenset()  # Category ids or names
    excluded_items: frozenset[str] = frozenset()  # product ids or names


@dataclass(frozen=True)
class Recommendation:
    product_id: str
    name: str
    score: float  # the blend: sum of weight x component, minus the dislike penalty
    components: Mapping[str, float]  # component -> value in [0, 1], as in COMPONENTS
    reasons: tuple[str, ...]  # why, in words, strongest first
    price: int  # the lowest price among the variants that meet the constraints (minor units)


@dataclass(frozen=True)
class Components:
    """Every candidate's components for one call, before weighting."""

    values: np.ndarray  # (len(COMPONENTS), candidates) float32, rows in the order of COMPONENTS
    eligible: np.ndarray  # (candidates,) bool: meets the constraints
    prices: np.ndarray  # (candidates,) int64 lowest price of a qualifying variant, -1 where none qualifies

    def blend(self, weights: BlendWeights) -> np.ndarray:
        """(candidates,) float32 scores; -inf where not eligible."""
        scores = weights.vector() @ self.values
        return np.where(self.eligible, scores, -np.inf).astype(np.float32)


@dataclass(frozen=True)
class _Offer:
    """One variant, as the constraints read it."""

    price: int
    in_stock: bool
    size: str | None  # its size option, lower-cased; None when the product has no size


@dataclass
class _Explaining:
    """What a call knows that its reasons quote."""

    request_words: Mapping[str, str]  # a request word's stem -> the word as the person wrote it
    collaborative: CollaborativeUser | None
    category_interest: dict[int, Interest]  # category index -> the profile's liked category
    category_purchases: dict[int, int]  # category index -> liked products bought in it
    liked: list[tuple[int, Interest]]  # (candidate index, liked item) of the heaviest liked items
    item_interest: dict[int, Interest] = field(default_factory=dict)  # candidate index -> liked item
    # attribute -> (value code -> liked products with it, value code -> person's rate / catalog's rate)
    attributes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


class Recommender:
    """Ranks a fixed set of candidate products for anyone: build it once per catalog (or per search result)
    and call ``recommend`` per person."""

    def __init__(
        self,
        candidates: Sequence[Candidate],
        *,
        popularity: Mapping[str, int] | None = None,  # product_id -> fans (``popularity()``)
        category_names: Mapping[str, str] | None = None,  # Category.id -> name, for reasons
        weights: BlendWeights = WEIGHTS,
    ) -> None:
        self.candidates = list(candidates)
        self.weights = weights
        self.ids = [c.product.id for c in self.candidates]
        self._index = {product_id: i for i, product_id in reversed(list(enumerate(self.ids)))}
        self._by_name = {c.product.name.lower(): i for i, c in reversed(list(enumerate(self.candidates)))}
        self._tiebreak = _ranks(np.array(self.ids, dtype=object))  # ties go to the smaller product id
        names = dict(category_names or {})
        self._category_ids = sorted({c.product.category for c in self.candidates})
        self.category_names = {cid: names.get(cid, cid) for cid in self._category_ids}
        self._category_of = {cid: i for i, cid in enumerate(self._category_ids)}
        for i, cid in enumerate(self._category_ids):
            self._category_of.setdefault(self.category_names[cid].lower(), i)
        self._categories = np.array(
            [self._category_of[c.product.category] for c in self.candidates], np.int64
        )
        self._words = [_words(_product_text(c.product, self.category_names)) for c in self.candidates]
        self._offers = [_offers(c.product) for c in self.candidates]
        attributes = _attribute_table(self.candidates)
        self._attribute_values, self._attribute_codes, self._attribute_rates = attributes
        self._eligible_cache: dict[tuple[int | None, bool, str | None], tuple[np.ndarray, np.ndarray]] = {}
        self._fans = np.array([(popularity or {}).get(i, 0) for i in self.ids], np.float64)
        top = math.log1p(float(self._fans.max())) if len(self._fans) else 0.0
        self._popular = (np.log1p(self._fans) / top if top > 0 else np.zeros(len(self.ids))).astype(
            np.float32
        )
        self._fan_rank = _ranks(-self._fans)  # 0: the most fans
        dims = {c.embedding.shape[0] for c in self.candidates if c.embedding is not None}
        self._dim = dims.pop() if len(dims) == 1 else 0  # 0: no embeddings, or of mixed sizes (then unused)
        self._embeddings = np.zeros((len(self.candidates), self._dim), np.float32)
        self._has_embedding = np.zeros(len(self.candidates), bool)
        for i, c in enumerate(self.candidates):
            if self._dim and c.embedding is not None:
                self._embeddings[i] = c.embedding
                self._has_embedding[i] = True

    def recommend(
        self,
        profile: InterestProfile | None = None,
        *,
        request: Request | None = None,
        collaborative: CollaborativeUser | None = None,
        constraints: Constraints = Constraints(),
        k: int = 10,
        weights: BlendWeights | None = None,
    ) -> list[Recommendation]:
        """The ``k`` best eligible candidates for this person, best first (ties: by product id), each with
        its components and reasons. Everything optional: with nothing known, popularity ranks."""
        weights = weights or self.weights
        components, explaining = self._score(profile, request, collaborative, constraints)
        scores = components.blend(weights)
        eligible = int(components.eligible.sum())
        order = np.lexsort((self._tiebreak, -scores))[: min(max(0, k), eligible)]
        out = []
        for i in order:
            values = {name: float(components.values[row, i]) for row, name in enumerate(COMPONENTS)}
            price = int(components.prices[i])
            out.append(
                Recommendation(
                    product_id=self.ids[i],
                    name=self.candidates[i].product.name,
                    score=float(scores[i]),
                    components=values,
                    reasons=self._reasons(int(i), values, weights, explaining, constraints),
                    price=price,
                )
            )
        return out

    def components(
        self,
        profile: InterestProfile | None = None,
        *,
        request: Request | None = None,
        collaborative: CollaborativeUser | None = None,
        constraints: Constraints = Constraints(),
    ) -> Components:
        """Every candidate's components, unweighted and unexplained: for tuning weights in bulk."""
        return self._score(profile, request, collaborative, constraints)[0]

    # --- scoring ---

    def _score(
        self,
        profile: InterestProfile | None,
        request: Request | None,
        collaborative: CollaborativeUser | None,
        constraints: Constraints,
    ) -> tuple[Components, _Explaining]:
        eligible, prices = self._eligible(constraints)
        values = np.zeros((len(COMPONENTS), len(self.candidates)), np.float32)
        row = {name: r for r, name in enumerate(COMPONENTS)}
        words: dict[str, str] = {}
        if request is not None:
            words = {stem: word for stem, word in _word_forms(request.text).items() if word not in _STOPWORDS}
            values[row["relevance"]] = self._relevance(request, frozenset(words), eligible)
        if collaborative is not None:
            cf = np.maximum(collaborative.scores(self.ids), 0.0)
            top = float(cf[eligible].max()) if eligible.any() else 0.0
            values[row["collaborative"]] = np.clip(cf / top, 0.0, 1.0) if top > 0 else 0.0
        explaining = _Explaining(words, collaborative, {}, {}, [])
        if profile is not None:
            self._profile_components(profile, values, row, eligible, explaining)
        values[row["popularity"]] = self._popular
        return Components(values, eligible, prices), explaining

    def _eligible(self, constraints: Constraints) -> tuple[np.ndarray, np.ndarray]:
        """(eligible mask, qualifying lowest price or -1): the variant part is cached per constraints."""
        key = (constraints.max_price, constraints.in_stock_only, (constraints.size or "").lower() or None)
        cached = self._eligible_cache.get(key)
        if cached is None:
            mask = np.zeros(len(self.candidates), bool)
            prices = np.full(len(self.candidates), -1, np.int64)
            for i, offers in enumerate(self._offers):
                qualifying = [o.price for o in offers if _qualifies(o, key[1], key[2])]
                if qualifying:
                    prices[i] = min(qualifying)
                    mask[i] = key[0] is None or prices[i] <= key[0]
            if len(self._eligible_cache) < 64:
                self._eligible_cache[key] = (mask, prices)
            cached = (mask, prices)
        mask = cached[0].copy()
        for category in constraints.excluded_categories:
            found = self._category(category)
            if found is not None:
                mask &= self._categories != found
        for item in constraints.excluded_items:
            found = self._find(item)
            if found is not None:
                mask[found] = False
        return mask, cached[1]

    def _relevance(self, request: Request, words: frozenset[str], eligible: np.ndarray) -> np.ndarray:
        """Mean of the semantic part (query cosine, min-max over eligible candidates) and the lexical part
        (the share of the request's words found in the product's text), each where available."""
        parts = []
        if request.embedding is not None and self._dim and request.embedding.shape[0] == self._dim:
            cosine = self._embeddings @ np.asarray(request.embedding, np.float32)
            parts.append(_minmax(cosine, eligible & self._has_embedding))
        if words:
            parts.append(np.array([len(words & w) / len(words) for w in self._words], np.float32))
        return np.mean(parts, axis=0).astype(np.float32) if parts else np.zeros(len(self.ids), np.float32)

    def _profile_components(
        self,
        profile: InterestProfile,
        values: np.ndarray,
        row: Mapping[str, int],
        eligible: np.ndarray,
        explaining: _Explaining,
    ) -> None:
        shares = np.zeros(len(self._category_ids), np.float32)
        for interest in profile.categories:
            found = self._category(interest.name)
            if found is not None and shares[found] == 0:
                shares[found] = interest.weight / profile.categories[0].weight
                explaining.category_interest[found] = interest
        values[row["category"]] = shares[self._categories]
        for interest in profile.items:
            bought_in = self._category(interest.category)  # the item's own category: it may be no candidate
            if bought_in is not None and any(c.kind == "purchase" for c in interest.drivers):
                explaining.category_purchases[bought_in] = explaining.category_purchases.get(bought_in, 0) + 1
            found = self._find(interest.name)
            if found is None or found in explaining.item_interest:
                continue
            explaining.item_interest[found] = interest
            values[row["item"], found] = interest.weight / profile.items[0].weight
            if len(explaining.liked) < SIMILAR_FROM and self._has_embedding[found]:
                explaining.liked.append((found, interest))
        values[row["attributes"]] = self._attribute_affinity(explaining, eligible)
        if profile.embedding is not None and self._dim and profile.embedding.shape[0] == self._dim:
            cosine = self._embeddings @ np.asarray(profile.embedding, np.float32)
            values[row["similarity"]] = _minmax(cosine, eligible & self._has_embedding)
        disliked = np.zeros(len(self._category_ids), np.float32)
        for interest in profile.disliked_categories:
            found = self._category(interest.name)
            if found is not None and disliked[found] == 0:
                disliked[found] = interest.weight / profile.disliked_categories[0].weight
        values[row["dislike"]] = CATEGORY_DISLIKE * disliked[self._categories]
        for interest in profile.disliked_items:
            found = self._find(interest.name)
            if found is not None:
                values[row["dislike"], found] = 1.0  # the product itself: the most there is

    def _attribute_affinity(self, explaining: _Explaining, eligible: np.ndarray) -> np.ndarray:
        """How much likelier this person is than the catalog to pick each product's attribute values: the
        sum over attributes of log(person's rate / catalog's rate), each rate estimated from the liked
        products (by score) with the catalog's mix as a prior worth ATTRIBUTE_PRIOR; min-max scaled."""
        affinity = np.zeros(len(self.candidates), np.float64)
        liked = list(explaining.item_interest.items())
        for name, codes in self._attribute_codes.items():
            catalog_rate = self._attribute_rates[name]
            evidence = np.zeros(len(catalog_rate))
            count = np.zeros(len(catalog_rate), np.int64)
            for i, interest in liked:
                if codes[i] >= 0:
                    evidence[codes[i]] += interest.score
                    count[codes[i]] += 1
            if not evidence.any():
                continue
            rate = (evidence + ATTRIBUTE_PRIOR * catalog_rate) / (evidence.sum() + ATTRIBUTE_PRIOR)
            lift = rate / catalog_rate
            explaining.attributes[name] = (count, lift)
            has = codes >= 0
            affinity[has] += np.log(lift[codes[has]])
        return _minmax(affinity, eligible) if liked else np.zeros(len(self.candidates), np.float32)

    def _category(self, key: str) -> int | None:
        """The index of the category with this id, else with this name (any case)."""
        found = self._category_of.get(key)
        return found if found is not None else self._category_of.get(key.lower())

    def _find(self, key: str) -> int | None:
        """The candidate with this product id, else with this name (any case)."""
        found = self._index.get(key)
        return found if found is not None else self._by_name.get(key.lower())

    # --- reasons ---

    def _reasons(
        self,
        i: int,
        values: Mapping[str, float],
        weights: BlendWeights,
        explaining: _Explaining,
        constraints: Constraints,
    ) -> tuple[str, ...]:
        contributions = {
            name: getattr(weights, name) * values[name] for name in COMPONENTS if name != "dislike"
        }
        positive = sum(c for c in contributions.values() if c > 0)
        reasons: list[str] = []
        for name, contribution in sorted(contributions.items(), key=lambda nc: (-nc[1], nc[0])):
            if len(reasons) == REASONS:
                break
            if values[name] < REASON_FLOOR or contribution <= 0 or contribution < REASON_SHARE * positive:
                continue
            reason = self._reason(name, i, explaining)
            if reason:
                reasons.append(reason)
        if not reasons:  # nothing about this person or request stood out: say what it is, no more
            category = self.category_names.get(self.candidates[i].product.category)
            reasons.append(f"a pick from {category}" if category else "a pick from the store")
        size = (constraints.size or "").lower()
        if size and any(
            o.size == size and _qualifies(o, constraints.in_stock_only, size) for o in self._offers[i]
        ):
            where = "in stock" if constraints.in_stock_only else "comes"
            reasons.append(f"{where} in your size ({constraints.size})")
        if constraints.max_price is not None:
            reasons.append("within your price limit")
        return tuple(reasons)

    def _reason(self, name: str, i: int, explaining: _Explaining) -> str:
        """The words for one component of candidate ``i``; "" when there is nothing true to say."""
        if name == "relevance":
            matched = [word for stem, word in explaining.request_words.items() if stem in self._words[i]]
            if matched:
                quoted = " and ".join(f"'{w}'" for w in matched[:3])
                return f"matches {quoted} in your request"
            return "close to what you asked for"
        if name == "collaborative" and explaining.collaborative is not None:
            anchor = explaining.collaborative.also_liked(self.ids[i])
            if anchor is not None and anchor[1] >= 2:
                other = self._find(anchor[0])
                label = self.candidates[other].product.name if other is not None else anchor[0]
                return f"{anchor[1]} shoppers interested in '{label}' were also interested in this"
            return "shoppers with tastes like yours tend to like this"
        if name == "category":
            category = int(self._categories[i])
            label = self.category_names[self._category_ids[category]]
            bought = explaining.category_purchases.get(category, 0)
            if bought >= 2:
                return f"you often buy from {label} ({bought} products bought)"
            if bought == 1:
                return f"you have bought from {label} before"
            interest = explaining.category_interest.get(category)
            share = f" ({interest.weight:.0%} of your interest)" if interest is not None else ""
            return f"{label} is one of your interests{share}"
        if name == "similarity":
            closest = self._closest_liked(i, explaining.liked)
            if closest is not None:
                other, interest = closest
                return f"similar to '{self.candidates[other].product.name}', which you {_did(interest)}"
            return "close to your tastes"
        if name == "attributes":
            picked = []  # (lift, value, liked products with it)
            for attribute, (liked_with, lift) in explaining.attributes.items():
                code = int(self._attribute_codes[attribute][i])
                if code >= 0 and liked_with[code] >= 2 and lift[code] >= ATTRIBUTE_REASON:
                    value = self._attribute_values[attribute][code]
                    picked.append((float(lift[code]), value, int(liked_with[code])))
            if not picked:
                return ""
            picked.sort(key=lambda p: (-p[0], p[1]))
            values = " and ".join(value for _, value, _ in picked[:2])
            counts = " and ".join(str(n) for _, _, n in picked[:2])
            return f"{values}, as are {counts} of the things you liked"
        if name == "item":
            interest = explaining.item_interest.get(i)
            return f"you {_did(interest)} this before" if interest is not None else ""
        if name == "popularity" and self._fans[i] > 0:
            count = int(self._fans[i])
            fans = f"{count} shopper{'s were' if count != 1 else ' was'} interested in it"
            return f"popular: {fans}" if int(self._fan_rank[i]) < max(1, len(self.ids) // 10) else fans
        return ""

    def _closest_liked(self, i: int, liked: Sequence[tuple[int, Interest]]) -> tuple[int, Interest] | None:
        others = [(j, interest) for j, interest in liked if j != i]
        if not others or not self._has_embedding[i]:
            return None
        cosines = self._embeddings[[j for j, _ in others]] @ self._embeddings[i]
        return others[int(np.argmax(cosines))]


# --- helpers ---


def _minmax(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``values`` scaled so the least of those ``where`` is 0 and the greatest 1, clipped to [0, 1]; all
    zeros when they are all equal (no information)."""
    if not where.any():
        return np.zeros(len(values), np.float32)
    low, high = float(values[where].min()), float(values[where].max())
    if high - low < 1e-9:
        return np.zeros(len(values), np.float32)
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def _did(interest: Interest) -> str:
    """What the person did to a liked item, in the past tense: its strongest positive event's kind."""
    kinds = [c.kind for c in interest.drivers if c.score > 0]  # drivers: largest first
    return _PAST.get(kinds[0], "liked") if kinds else "liked"


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank in ascending order (0: the least), ties by position."""
    return np.argsort(np.argsort(values, kind="stable"), kind="stable")


def _words(text: str) -> frozenset[str]:
    """The stems of a text's words (``_word_forms``)."""
    return frozenset(_word_forms(text))


def _word_forms(text: str) -> dict[str, str]:
    """Stem -> the first word of ``text`` with it. A stem is the lower-case word with a plural "s" dropped
    (so "shirts" meets "shirt"; "canvas" and "canva" meet too, harmlessly)."""
    out: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        out.setdefault(
            word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word, word
        )
    return out


def _product_text(product: Product, category_names: Mapping[str, str]) -> str:
    """The words a request can match: name, brand, category, description, attribute values."""
    attributes = " ".join(str(v) for v in product.attributes.values() if not isinstance(v, bool))
    category = category_names.get(product.category, product.category)
    return f"{product.name} {product.brand} {category} {product.description} {attributes}"


def _attribute_table(
    candidates: Sequence[Candidate],
) -> tuple[dict[str, list[str]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(attribute -> its values, attribute -> (candidates,) value code or -1, attribute -> each value's
    share of the candidates that have the attribute). Attributes: the brand and every text or whole-number
    attribute, lower-cased. Variant options (colour, size) are left out: a product in many colours would
    match every colour taste."""
    table: dict[str, dict[str, int]] = {}
    rows: list[dict[str, str]] = []
    for c in candidates:
        found = {
            k.lower(): str(v).lower()
            for k, v in c.product.attributes.items()
            if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
        }
        found = {k: v for k, v in found.items() if v}
        if c.product.brand:
            found["brand"] = c.product.brand.lower()
        rows.append(found)
        for name, value in found.items():
            table.setdefault(name, {}).setdefault(value, len(table[name]))
    codes = {name: np.full(len(candidates), -1, np.int64) for name in table}
    for i, found in enumerate(rows):
        for name, value in found.items():
            codes[name][i] = table[name][value]
    rates = {}
    for name, column in codes.items():
        counts = np.bincount(column[column >= 0], minlength=len(table[name])).astype(np.float64)
        rates[name] = counts / counts.sum()
    values = {name: list(found) for name, found in table.items()}
    return values, codes, rates


def _offers(product: Product) -> list[_Offer]:
    out = []
    for variant in product.variants:
        size = next((v for k, v in variant.options.items() if k.lower() == "size"), None)
        in_stock = variant.available and (variant.stock is None or variant.stock > 0)
        out.append(_Offer(variant.price, in_stock, size.lower() if size is not None else None))
    return out


def _qualifies(offer: _Offer, in_stock_only: bool, size: str | None) -> bool:
    if in_stock_only and not offer.in_stock:
        return False
    return size is None or offer.size is None or offer.size == size

"""Personal recommendations: the request of the conversation, the person's interest profile and what other
shoppers did, blended into one ranked list that says why each product is on it.

All in memory and free of the database (the catalog reads products, profiles and events and hands them
here). What everyone did (interactions, popularity, the collaborative filter) is in collaborative.py and
the person's taste for categories and attribute values in taste.py; their names are re-exported here.

- **The blend** (``Recommender``): per candidate product, components in [0, 1] and a dislike penalty,
  mixed by ``WEIGHTS``: relevance to the request; the collaborative score; *taste*, the chance this person
  picks it next relative to their likeliest pick (``Tastes``: their rates for its category, brand and
  attribute values against the catalog's, times ``(1 + fans) ** popularity_power``, since among the
  products a person likes the better-liked ones are picked more); the profile's share of its category;
  closeness to the profile embedding; its attribute lift alone (min-max); its own share of the profile;
  and popularity, its fans over the top seller's. Taste and popularity are both chances relative to the
  best, so their weighted sum is a mixture: a person picks from their tastes, or follows the crowd.
  Hard constraints (price, stock, size, excluded categories and products) remove products before anything
  is ranked, so no score can bring them back. Only the top k are explained, in words built from the
  components that put each one there and the facts behind them (the words matched, the purchases made,
  how many shoppers were interested in both).
- **Population priors**: given everyone's ``interactions``, the ``Recommender`` fits how personal each
  facet is (``Tastes.fit``): colour may matter to people and brand not, in one store, and the reverse in
  another. Without them every facet gets the same prior, and facets nobody picks by add noise.

Taste reads the profile's liked products that are candidates (the interest profile keeps categories and
items only), so build the ``Recommender`` over the whole catalog, not a search result, for the profile's
products to be found (the same holds for "similar to" reasons).

Scores that live on different scales (cosines, ALS dot products, attribute lifts) are scaled over the
eligible candidates of the call: a component says how a product compares with the others on offer now, not
an absolute liking. Shares (category, item) are divided by the profile's top share, so a person's favourite
category scores 1 however spread their tastes are.

Not here: finding candidates (catalog search), embedding texts, reading events from the database, when to
refit, and diversity re-ranking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Final

import numpy as np

from ponder.commerce.collaborative import (
    ALS_SETTINGS,
    ALSSettings,
    CollaborativeFilter,
    CollaborativeUser,
    Interaction,
    interactions_from_events,
    most_popular,
    popularity,
)
from ponder.commerce.model import Product
from ponder.commerce.taste import CATEGORY, TASTE_SETTINGS, PersonTaste, Tastes, TasteSettings
from ponder.memory.interests import Interest, InterestProfile

__all__ = [
    "ALS_SETTINGS",
    "COMPONENTS",
    "TASTE_SETTINGS",
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
    "TasteSettings",
    "Tastes",
    "interactions_from_events",
    "most_popular",
    "popularity",
]

# --- the blend ---


@dataclass(frozen=True)
class BlendWeights:
    """How much each component counts; ``dislike`` is subtracted."""

    relevance: float
    collaborative: float
    taste: float
    category: float
    similarity: float
    attributes: float
    item: float
    popularity: float
    dislike: float

    def vector(self) -> np.ndarray:
        """(len(COMPONENTS),) float32 in the order of ``COMPONENTS``, dislike negated."""
        values = [-self.dislike if name == "dislike" else getattr(self, name) for name in COMPONENTS]
        return np.asarray(values, np.float32)


COMPONENTS: Final = tuple(f.name for f in fields(BlendWeights))

# Chosen by `python bench/recommend.py --tune --seed 0 1 2 3 4` on the validation splits cut from the
# training events (each user's last training item), hits pooled over five populations (9,891 users), never
# on a test split; taste is the unit (only ratios matter). Without a request, over popularity {0.25, 0.5,
# 0.75, 1} x collaborative {0, 0.1, 0.2} x similarity {0, 0.1, 0.2} x category {0, 0.1} x attributes
# {0, 0.1} x dislike {0, 0.2}, for each of evidence power {0, 0.5, 1} x popularity power {0.25, 0.5, 0.75}
# (TASTE_SETTINGS: 0.5 / 0.5 came first, 0.1403; the others 0.1225-0.1381). Popularity alone scores 0.0649
# there. The top is flat: the first eight lie within 0.001 (10 hits; the binomial noise is ~35), and they
# differ only in which small signals they keep. The first keeps neither collaborative filtering nor
# attributes; these weights, eighth (0.1393), keep every signal at 0.1. This population's only structure is
# facets, which taste reads directly, so CF has nothing left to add there; a store's complements (a tent and
# the sleeping bag its buyers also buy) are what it is for. Category is 0 throughout the top: taste reads the
# category better (it speaks for it in reasons). Then relevance over {1, 2, 4, 8, 16}, with requests naming
# the held-out item's category: 1 first (0.4255), 2 next (0.4111), 4 far behind (0.3269); below 1 it falls
# again (0.5: 0.27 against 0.41 at 1, on population 0's validation split alone). 2 is kept, against the
# grid's first: at 1 a top seller that does not match the request at all (popularity 0.75, and a little
# CF) outranks a product that matches it half-way, and the person's request must lead (a shirt asked for,
# not the store's favourite tent: tests/commerce/test_recommendations.py). ``item`` scores only
# products already in the profile, which the bench excludes, so it is set by hand, as one of the small
# signals: what the person liked comes back, without filling the list.
WEIGHTS: Final = BlendWeights(
    relevance=2.0,
    collaborative=0.1,
    taste=1.0,
    category=0.0,
    similarity=0.1,
    attributes=0.1,
    item=0.1,
    popularity=0.75,
    dislike=0.2,
)

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
    taste: PersonTaste | None = None  # what the liked items say about facets; None: no liked candidate


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
        interactions: Iterable[Interaction] | None = None,  # everyone's: fits how personal each facet is
        taste: TasteSettings = TASTE_SETTINGS,
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
        products = [c.product for c in self.candidates]
        if interactions is not None:
            self.tastes = Tastes.fit(products, interactions, taste)
        else:
            self.tastes = Tastes(products, settings=taste)
        self._facets = {facet.name: facet for facet in self.tastes.facets}
        self._eligible_cache: dict[tuple[int | None, bool, str | None], tuple[np.ndarray, np.ndarray]] = {}
        self._fans = np.array([(popularity or {}).get(i, 0) for i in self.ids], np.float64)
        top = float(self._fans.max()) if len(self._fans) else 0.0
        self._popular = (self._fans / top if top > 0 else np.zeros(len(self.ids))).astype(np.float32)
        self._log_fans = np.log1p(self._fans)
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
        if explaining.item_interest:
            self._taste_components(values, row, eligible, explaining)
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

    def _taste_components(
        self, values: np.ndarray, row: Mapping[str, int], eligible: np.ndarray, explaining: _Explaining
    ) -> None:
        """Taste (the chance of each product relative to the likeliest eligible one) and the attribute lift
        alone (min-max), from the profile's liked products that are candidates."""
        taste = self.tastes.person({i: interest.score for i, interest in explaining.item_interest.items()})
        explaining.taste = taste
        values[row["attributes"]] = _minmax(taste.facet_lift, eligible)
        if eligible.any():
            log_chance = taste.lift + self.tastes.settings.popularity_power * self._log_fans
            top = float(log_chance[eligible].max())
            values[row["taste"]] = np.exp(np.minimum(log_chance - top, 0.0))

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
            for reason in self._said(name, i, values, explaining):
                if reason and reason not in reasons and len(reasons) < REASONS:
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

    def _said(self, name: str, i: int, values: Mapping[str, float], explaining: _Explaining) -> list[str]:
        """The reasons one component gives: taste speaks through the category, when it is one of the
        person's interests, and the attribute values that lift the product."""
        if name != "taste":
            return [self._reason(name, i, explaining)]
        said = [self._reason("attributes", i, explaining)]
        if values["category"] >= REASON_FLOOR:
            said.insert(0, self._reason("category", i, explaining))
        return said

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
            facets = explaining.taste.facets if explaining.taste is not None else {}
            for facet_name, (liked_with, lift) in facets.items():
                facet = self._facets[facet_name]
                code = int(facet.codes[i]) if facet_name != CATEGORY else -1
                if code >= 0 and liked_with[code] >= 2 and lift[code] >= ATTRIBUTE_REASON:
                    picked.append((float(lift[code]), facet.values[code], int(liked_with[code])))
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

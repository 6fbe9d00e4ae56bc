"""Recommendations: hit rate@10 on held-out interactions of a generated population with known tastes.

    python bench/recommend.py                          # 2,000 users, 2,000 products, E5 embeddings
    python bench/recommend.py --embedder hashing       # the same with the hashing test double (fast)
    python bench/recommend.py --seed 0 1 2 3 4         # five populations, each on its own, then pooled
    python bench/recommend.py --tune --seed 0 1 2 3 4  # also choose the settings and weights (validation)

**The population.** A catalog of products in 30 categories, each product a colour, a style and a kind of
thing ("navy minimalist loafers by Arden"), with an appeal drawn from a log-normal (sigma
``--appeal-spread``, 2 by default: the top 1% of products then draw about a tenth of all (user, product)
pairs, printed with the figures; a more skewed store makes popularity a harder baseline to beat). Each
user has a hidden taste: a mixture over categories (Dirichlet 0.15: two to four favourites), over styles
and over colours (Dirichlet 0.5). A user's visits are drawn, one item each, from their taste (70%:
category by taste, then an item by style x colour x sqrt(appeal)), from popularity alone (20%: following
the crowd) or uniformly (10%: noise); one visit in ten returns to an item seen before. A visit is a view;
then, more likely the better the item fits the taste, a like, save, share, follow or purchase; a poor fit
seen without a follow-up is dismissed a third of the time. Events spread over the user's active period
(20 to 180 days before a fixed end). So views are most of it, purchases few, dismissals some.

**The split.** Per user, the test item is the last item they came to (by the time of its first event)
whose events net positive (``KIND_WEIGHTS``; a dismissed view does not); training is everything the user
did before that moment. Users with fewer than three such items are left out (a handful). Every model sees
only training events: the collaborative filter is fitted on all users' training interactions and
popularity counted from them (as usual in leave-last-out, one user's training may postdate another's test
moment; the baseline and the models alike get that), and each profile is ``InterestStore.profile`` (a
real store, SQLite in memory, time decay included) at the user's cutoff; the ``Recommender`` fits how
personal each facet is (``Tastes.fit``) on the same training interactions. Weights are never chosen here:
the main run reads ``ALS_SETTINGS``, ``TASTE_SETTINGS`` and ``WEIGHTS`` from ponder.commerce.recommend.
``--tune`` chooses them on *validation* splits cut the same way from the training events (each user's
last training item, with the models refitted on what came before it), hits pooled over the populations
given, and prints the best; it never reads the test items, and prints no test figures (set the defaults
from what it chose, then run without it).

**The figure.** Hit rate@10: the share of users whose test item is in their top 10, every product they
touched in training excluded. For the popularity baseline (most fans in training), CF alone, taste alone
(which multiplies in popularity: see recommend.py), the profile alone (taste, category share, embedding
similarity, attributes and dislikes, with ``WEIGHTS``'s ratios), and the full blend, all without a request
(the issue's figure, target blend >= 1.5x popularity); then with a request naming the test item's category
("furniture"), for the request alone and for the blend. Beside them, an oracle that knows each user's
hidden taste ranks by their true chance of visiting each product next: the ceiling this population allows,
against which the ratio to popularity can be read. Prints timings and appends a JSON line per population
to bench/results/recommend.jsonl (with the hit counts); with several seeds, the pooled ratio at the end.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from _common import emit
from ponder.commerce.model import Product, Variant
from ponder.commerce.recommend import (
    ALS_SETTINGS,
    COMPONENTS,
    TASTE_SETTINGS,
    WEIGHTS,
    ALSSettings,
    BlendWeights,
    Candidate,
    CollaborativeFilter,
    Constraints,
    Interaction,
    Recommender,
    Request,
    TasteSettings,
    interactions_from_events,
    most_popular,
    popularity,
)
from ponder.memory.embeddings import E5Embedder, Embedder
from ponder.memory.interests import KIND_WEIGHTS, InterestEvent, InterestProfile, InterestStore, Kind
from ponder.memory.owner import Owner
from ponder.store.database import open_database
from ponder.testing import HashingEmbedder

K = 10
END = 1_750_000_000.0  # the simulation's last moment (June 2025): fixed, so reruns are identical
DAY = 86_400.0
ACCOUNT = "bench"
CATEGORIES = {  # category -> kinds of thing in it
    "Shoes": ["sneakers", "boots", "loafers", "sandals"],
    "Shirts": ["shirt", "blouse", "polo"],
    "Trousers": ["chinos", "jeans", "trousers"],
    "Dresses": ["dress", "sundress", "gown"],
    "Jackets": ["jacket", "parka", "blazer"],
    "Knitwear": ["sweater", "cardigan", "hoodie"],
    "Bags": ["tote", "backpack", "handbag"],
    "Hats": ["beanie", "cap", "fedora"],
    "Scarves": ["scarf", "shawl", "bandana"],
    "Swimwear": ["swimsuit", "bikini", "swim shorts"],
    "Sportswear": ["leggings", "running shorts", "sports bra"],
    "Jewellery": ["necklace", "earrings", "bracelet"],
    "Watches": ["watch", "smartwatch", "pocket watch"],
    "Eyewear": ["sunglasses", "reading glasses", "glasses case"],
    "Cookware": ["skillet", "saucepan", "dutch oven"],
    "Tableware": ["mug", "plate", "bowl"],
    "Bedding": ["duvet cover", "pillowcase", "blanket"],
    "Bath": ["towel", "bathrobe", "bath mat"],
    "Lighting": ["table lamp", "floor lamp", "pendant light"],
    "Furniture": ["armchair", "side table", "bookshelf"],
    "Decor": ["vase", "candle", "picture frame"],
    "Garden": ["planter", "watering can", "garden chair"],
    "Books": ["novel", "cookbook", "travel guide"],
    "Stationery": ["notebook", "fountain pen", "planner"],
    "Toys": ["puzzle", "plush toy", "building set"],
    "Skincare": ["face cream", "serum", "cleanser"],
    "Fragrance": ["perfume", "cologne", "scented oil"],
    "Audio": ["headphones", "speaker", "earbuds"],
    "Camping": ["tent", "sleeping bag", "camping stove"],
    "Pets": ["dog bed", "leash", "cat tree"],
}
STYLES = ["minimalist", "vintage", "sporty", "classic", "bohemian", "scandinavian", "retro", "rustic"]
STYLES += ["modern", "playful"]
COLOURS = ["black", "white", "navy", "red", "olive", "beige", "grey", "pink", "mustard", "teal"]
COLOURS += ["brown", "lavender"]
MATERIALS = ["cotton", "linen", "wool", "leather", "suede", "canvas", "ceramic", "oak", "steel", "bamboo"]
BRANDS = ["Arden", "Belmont", "Corvo", "Dalia", "Everly", "Fjord", "Garnet", "Halden", "Isola", "Juniper"]
BRANDS += ["Kestrel", "Lumen", "Marlow", "Nordby", "Oakes", "Pellam", "Quill", "Rowan", "Sable", "Tamsin"]
# A visit that follows up: kind -> probability at a perfect fit (scaled by the fit), in this order.
FOLLOW_UPS: dict[Kind, float] = {"like": 0.30, "save": 0.12, "share": 0.04, "follow": 0.02, "purchase": 0.15}
TASTE, CROWD = 0.70, 0.20  # shares of visits drawn from taste and from popularity; the rest uniformly
RETURNS = 0.10  # share of visits that come back to an item seen before
POOR_FIT, DISMISSED = 0.35, 1 / 3  # a fit under POOR_FIT seen without a follow-up: dismissed this often


# --- the population ---


@dataclass(frozen=True)
class Catalog:
    products: list[Product]
    texts: list[str]  # what each product is, in words (its event text and passage)
    category: np.ndarray  # (P,) category index
    style: np.ndarray  # (P,)
    colour: np.ndarray  # (P,)
    appeal: np.ndarray  # (P,) > 0


@dataclass(frozen=True)
class Event:
    at: float
    item: int  # product index
    kind: Kind


def make_catalog(rng: np.random.Generator, size: int, spread: float, seed: int) -> Catalog:
    names = list(CATEGORIES)
    materials = np.random.default_rng([seed, 1]).integers(0, len(MATERIALS), size)  # apart: rng's draws stay
    category = rng.integers(0, len(names), size)
    style = rng.integers(0, len(STYLES), size)
    colour = rng.integers(0, len(COLOURS), size)
    appeal = rng.lognormal(0.0, spread, size)
    products, texts = [], []
    for i in range(size):
        kind = str(rng.choice(CATEGORIES[names[category[i]]]))
        brand = str(rng.choice(BRANDS))
        name = f"{COLOURS[colour[i]]} {STYLES[style[i]]} {kind}"
        price = int(round(float(rng.lognormal(3.5, 0.6)), 0)) * 100 + 99
        variant = Variant(f"p{i:05d}-1", f"p{i:05d}", {}, price)
        attributes: dict[str, str | int | float | bool] = {
            "colour": COLOURS[colour[i]],
            "style": STYLES[style[i]],
            "material": MATERIALS[materials[i]],
        }
        category_id = names[category[i]].lower()
        products.append(
            Product(f"p{i:05d}", name, (variant,), category_id, brand=brand, attributes=attributes)
        )
        texts.append(f"{name} by {brand}")
    return Catalog(products, texts, category, style, colour, appeal)


def simulate_user(rng: np.random.Generator, catalog: Catalog) -> tuple[list[Event], np.ndarray]:
    """One user's events, in time order, from a hidden taste drawn here; and (P,) the chance that a visit
    to something new goes to each product, which only the oracle reads."""
    p_category = rng.dirichlet([0.15] * len(CATEGORIES))
    p_style = rng.dirichlet([0.5] * len(STYLES))
    p_colour = rng.dirichlet([0.5] * len(COLOURS))
    liking = p_category[catalog.category] * p_style[catalog.style] * p_colour[catalog.colour]
    fit = (liking / liking.max()) ** (1 / 3)  # in (0, 1]: how well each product fits this taste
    within = p_style[catalog.style] * p_colour[catalog.colour] * np.sqrt(catalog.appeal)
    crowd = catalog.appeal / catalog.appeal.sum()
    in_category = np.bincount(catalog.category, weights=within, minlength=len(CATEGORIES))
    new_visit = TASTE * p_category[catalog.category] * within / in_category[catalog.category]
    new_visit += CROWD * crowd + (1 - TASTE - CROWD) / len(crowd)
    visits = int(np.clip(rng.lognormal(3.1, 0.7), 6, 200))
    start = END - rng.uniform(20, 180) * DAY
    times = np.sort(rng.uniform(start, END, visits))
    events: list[Event] = []
    seen: list[int] = []
    for at in times:
        if seen and rng.random() < RETURNS:
            item = seen[int(rng.integers(len(seen)))]
        else:
            draw = rng.random()
            if draw < TASTE:
                chosen = rng.choice(len(CATEGORIES), p=p_category)
                weights = np.where(catalog.category == chosen, within, 0.0)
                item = int(rng.choice(len(weights), p=weights / weights.sum()))
            elif draw < TASTE + CROWD:
                item = int(rng.choice(len(crowd), p=crowd))
            else:
                item = int(rng.integers(len(crowd)))
            seen.append(item)
        events.append(Event(float(at), item, "view"))
        followed = False
        for offset, (kind, chance) in enumerate(FOLLOW_UPS.items(), start=1):
            if rng.random() < chance * fit[item]:
                events.append(Event(float(at) + offset, item, kind))
                followed = True
        if not followed and fit[item] < POOR_FIT and rng.random() < DISMISSED:
            events.append(Event(float(at) + 1, item, "dismiss"))
    return events, new_visit


def hold_out(events: Sequence[Event]) -> tuple[list[Event], int, float] | None:
    """(events before the cutoff, the held-out item, the cutoff): the last item the user came to whose events
    net positive, and the moment they first came to it. None with fewer than three such items."""
    first: dict[int, float] = {}
    net: dict[int, float] = {}
    for event in events:
        first.setdefault(event.item, event.at)
        net[event.item] = net.get(event.item, 0.0) + KIND_WEIGHTS[event.kind]
    positive = sorted((at, item) for item, at in first.items() if net[item] > 0)
    if len(positive) < 3:
        return None
    cutoff, item = positive[-1]
    return [e for e in events if e.at < cutoff], item, cutoff


# --- the models ---


class CachedEmbedder:
    """Embeds each distinct text once for the whole run (the stores and the catalog share it)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passages: dict[str, np.ndarray] = {}
        self.queries: dict[str, np.ndarray] = {}

    def _cached(self, cache: dict[str, np.ndarray], texts: Sequence[str], query: bool) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            vectors = self.inner.query(batch) if query else self.inner.passage(batch)
            cache.update(zip(batch, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([cache[t] for t in texts]).astype(np.float32)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(self.passages, texts, False)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(self.queries, texts, True)


@dataclass
class Split:
    """One split's inputs to the models and its answers (test or validation)."""

    users: list[str]
    events: dict[str, list[Event]]  # user -> the events the models may see
    target: dict[str, int]  # user -> held-out product index
    cutoff: dict[str, float]

    def cut(self) -> Split:
        """The validation split of this split's visible events."""
        inner = Split([], {}, {}, {})
        for user in self.users:
            held = hold_out(self.events[user])
            if held is not None:
                inner.users.append(user)
                inner.events[user], inner.target[user], inner.cutoff[user] = held
        return inner


@dataclass
class Fitted:
    """The models fitted on one split's visible events."""

    cf: CollaborativeFilter
    interactions: list[Interaction]  # everyone's, from the visible events
    fans: dict[str, int]
    profiles: dict[str, InterestProfile]
    seen: dict[str, frozenset[str]]
    profile_s: float


def fit_models(
    split: Split, catalog: Catalog, embedder: Embedder, settings: ALSSettings = ALS_SETTINGS
) -> Fitted:
    ids = [p.id for p in catalog.products]
    triples = [(u, ids[e.item], e.kind) for u in split.users for e in split.events[u]]
    interactions = interactions_from_events(triples)
    cf = CollaborativeFilter.fit(interactions, settings)
    db = open_database(":memory:")
    store = InterestStore(db, embedder)
    for user in split.users:
        store.record(
            Owner(ACCOUNT, user),
            [
                InterestEvent(
                    kind=e.kind,
                    item=ids[e.item],
                    category=catalog.products[e.item].category,
                    text=catalog.texts[e.item],
                    at=e.at,
                )
                for e in split.events[user]
            ],
        )
    started = time.perf_counter()
    profiles = {u: store.profile(Owner(ACCOUNT, u), now=split.cutoff[u]) for u in split.users}
    profile_s = time.perf_counter() - started
    db.close()
    seen = {u: frozenset(ids[e.item] for e in split.events[u]) for u in split.users}
    return Fitted(cf, interactions, popularity(interactions), profiles, seen, profile_s)


def recommender(
    catalog: Catalog, embedder: Embedder, fitted: Fitted, taste: TasteSettings = TASTE_SETTINGS
) -> Recommender:
    vectors = embedder.passage(catalog.texts)
    candidates = [Candidate(p, vectors[i]) for i, p in enumerate(catalog.products)]
    names = {name.lower(): name for name in CATEGORIES}
    return Recommender(
        candidates,
        popularity=fitted.fans,
        category_names=names,
        interactions=fitted.interactions,
        taste=taste,
    )


def request_text(catalog: Catalog, item: int) -> str:
    """What the user of the conditioned variant asks for: the held-out item's category ("furniture")."""
    return list(CATEGORIES)[int(catalog.category[item])].lower()


def only(**weights: float) -> BlendWeights:
    return BlendWeights(**({name: 0.0 for name in COMPONENTS} | weights))


PROFILE_ONLY = only(
    taste=WEIGHTS.taste,
    category=WEIGHTS.category,
    similarity=WEIGHTS.similarity,
    attributes=WEIGHTS.attributes,
    item=WEIGHTS.item,
    dislike=WEIGHTS.dislike,
)


# --- measuring ---


def hit_counts(
    split: Split,
    catalog: Catalog,
    fitted: Fitted,
    rec: Recommender,
    variants: dict[str, BlendWeights],
    request: bool,
    embedder: Embedder,
) -> tuple[dict[str, int], list[float]]:
    """variant -> users whose test item is in their top K, through ``Recommender.recommend``; and the call
    times (ms) of the last variant."""
    hits = dict.fromkeys(variants, 0)
    latency: list[float] = []
    for user in split.users:
        target = catalog.products[split.target[user]].id
        query = None
        if request:
            text = request_text(catalog, split.target[user])
            query = Request(text, embedder.query([text])[0])
        for name, weights in variants.items():
            started = time.perf_counter()
            top = rec.recommend(
                fitted.profiles[user],
                request=query,
                collaborative=fitted.cf.user(user),
                constraints=Constraints(excluded_items=fitted.seen[user]),
                k=K,
                weights=weights,
            )
            latency.append((time.perf_counter() - started) * 1000)
            hits[name] += any(r.product_id == target for r in top)
    return hits, latency[-len(split.users) :]


def oracle_hits(split: Split, catalog: Catalog, fitted: Fitted, chances: dict[str, np.ndarray]) -> int:
    """Ranking by each user's true chance of visiting each product next (it knows the hidden taste; it
    does not know which visits end net positive): what the population lets any recommender reach."""
    ids = np.array([p.id for p in catalog.products])
    hits = 0
    for user in split.users:
        chance = np.where(np.isin(ids, list(fitted.seen[user])), -1.0, chances[user])
        hits += split.target[user] in np.argsort(-chance, kind="stable")[:K]
    return hits


def popularity_hits(split: Split, catalog: Catalog, fitted: Fitted) -> int:
    hits = 0
    for user in split.users:
        top = most_popular(fitted.fans, K, exclude=fitted.seen[user])
        hits += catalog.products[split.target[user]].id in top
    return hits


def cf_hits(split: Split, catalog: Catalog, fitted: Fitted, cf: CollaborativeFilter) -> int:
    """Hits of CF alone, ranked as the blend's collaborative component ranks (negative scores as 0, ties
    by id), straight from the factors: for trying many ALS settings."""
    ids = [p.id for p in catalog.products]
    hits = 0
    for user in split.users:
        scores = np.maximum(cf.user(user).scores(ids), 0.0)
        scores[[i for i, p in enumerate(ids) if p in fitted.seen[user]]] = -np.inf
        hits += _rank(scores, split.target[user]) < K
    return hits


def grid_hits(
    split: Split,
    catalog: Catalog,
    fitted: Fitted,
    rec: Recommender,
    grid: Sequence[BlendWeights],
    request: bool,
    embedder: Embedder,
) -> np.ndarray:
    """(len(grid),) hits of every weighting at once, from each user's components (computed once)."""
    matrix = np.stack([w.vector() for w in grid])  # (weightings, components)
    hits = np.zeros(len(grid), np.int64)
    for user in split.users:
        query = None
        if request:
            text = request_text(catalog, split.target[user])
            query = Request(text, embedder.query([text])[0])
        parts = rec.components(
            fitted.profiles[user],
            request=query,
            collaborative=fitted.cf.user(user),
            constraints=Constraints(excluded_items=fitted.seen[user]),
        )
        scores = np.where(parts.eligible, matrix @ parts.values, -np.inf)  # (weightings, candidates)
        hits += _rank(scores, split.target[user]) < K  # candidates are in catalog order, which is id order
    return hits


def _rank(scores: np.ndarray, target: int) -> np.ndarray:
    """How many candidates (the last axis) rank ahead of ``target``: a higher score, or the same and a
    smaller id."""
    mark = scores[..., [target]]
    ahead = (scores > mark) | ((scores == mark) & (np.arange(scores.shape[-1]) < target))
    return ahead.sum(axis=-1)


# --- tuning ---

ALS_GRID = list(itertools.product([64, 128, 256], [20, 50, 100, 200], [4, 8]))  # factors, reg, alpha
TASTE_GRID = [TasteSettings(e, p) for e, p in itertools.product([0, 0.5, 1], [0.25, 0.5, 0.75])]
WEIGHT_GRID = {  # component -> values; taste is the unit (only ratios matter)
    "popularity": [0.25, 0.5, 0.75, 1],
    "collaborative": [0, 0.1, 0.2],
    "similarity": [0, 0.1, 0.2],
    "category": [0, 0.1],
    "attributes": [0, 0.1],
    "dislike": [0, 0.2],
}


@dataclass
class Validation:
    """One population's validation split, with models fitted on what came before it."""

    split: Split
    catalog: Catalog
    fitted: Fitted


def tune(populations: Sequence[Population], embedder: Embedder) -> None:
    """Choose ALS settings (CF alone), then taste settings and blend weights together, then the weight of
    relevance, on the validation splits cut from each population's training events: hits pooled over the
    populations, so one lucky population does not decide."""
    cases = []
    for population in populations:
        inner = population.test.cut()
        cases.append(Validation(inner, population.catalog, fit_models(inner, population.catalog, embedder)))
    users = sum(len(c.split.users) for c in cases)
    popular = sum(popularity_hits(c.split, c.catalog, c.fitted) for c in cases)
    print(f"\n--tune: validation splits of the training events: {users} users in {len(cases)} population(s)")
    print(f"  popularity baseline: validation hit rate {popular / users:.4f}")

    best: tuple[int, ALSSettings] | None = None
    for factors, regularization, alpha in ALS_GRID:
        settings = replace(ALS_SETTINGS, factors=factors, regularization=regularization, alpha=alpha)
        hits = sum(
            cf_hits(c.split, c.catalog, c.fitted, CollaborativeFilter.fit(c.fitted.interactions, settings))
            for c in cases
        )
        print(
            f"  ALS factors {factors:3d} reg {regularization:<4} alpha {alpha:<2}: "
            f"CF hit rate {hits / users:.4f}"
        )
        if best is None or hits > best[0]:
            best = (hits, settings)
    assert best is not None
    print(f"best ALS: {best[1]} (validation CF hit rate {best[0] / users:.4f})")
    for c in cases:
        c.fitted = replace(c.fitted, cf=CollaborativeFilter.fit(c.fitted.interactions, best[1]))

    grid = [
        replace(WEIGHTS, relevance=0, taste=1, **dict(zip(WEIGHT_GRID, values, strict=True)))
        for values in itertools.product(*WEIGHT_GRID.values())
    ]
    results = []  # (hits, taste settings, weights)
    for taste in TASTE_GRID:
        hits = sum(
            grid_hits(
                c.split,
                c.catalog,
                c.fitted,
                recommender(c.catalog, embedder, c.fitted, taste),
                grid,
                False,
                embedder,
            )
            for c in cases
        )
        results += [(int(h), taste, w) for h, w in zip(hits, grid, strict=True)]
        top = int(np.argmax(hits))
        print(f"  {taste}: best validation hit rate {hits[top] / users:.4f}")
    results.sort(key=lambda r: -r[0])  # stable: the first of equals in grid order
    print("best taste settings and blend weights without a request (validation hit rate):")
    for hits, taste, w in results[:8]:
        chosen = " ".join(f"{name} {getattr(w, name)}" for name in WEIGHT_GRID)
        print(
            f"  {hits / users:.4f}  evidence power {taste.evidence_power} popularity power "
            f"{taste.popularity_power}  {chosen}"
        )
    _, taste, chosen = results[0]
    grid = [replace(chosen, relevance=r) for r in (0.5, 1, 2, 4, 8, 16)]
    hits = sum(
        grid_hits(
            c.split,
            c.catalog,
            c.fitted,
            recommender(c.catalog, embedder, c.fitted, taste),
            grid,
            True,
            embedder,
        )
        for c in cases
    )
    for w, n in zip(grid, hits, strict=True):
        print(f"  with a request: relevance {w.relevance}: validation hit rate {n / users:.4f}")


# --- the run ---


@dataclass
class Population:
    """One generated population and its test split."""

    seed: int
    catalog: Catalog
    test: Split
    chances: dict[str, np.ndarray]  # user -> (P,) the oracle's chances
    counts: dict[str, int]  # event kind -> events
    skew: float  # the top 1% of products' share of (user, product) pairs
    generate_s: float


def populate(seed: int, users: int, products: int, spread: float) -> Population:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng, products, spread, seed)
    simulated = {f"u{n:05d}": simulate_user(rng, catalog) for n in range(users)}
    everything = {user: events for user, (events, _) in simulated.items()}
    test = Split([], {}, {}, {})
    for user, events in everything.items():
        held = hold_out(events)
        if held is not None:
            test.users.append(user)
            test.events[user], test.target[user], test.cutoff[user] = held
    counts = _counts(e for events in everything.values() for e in events)
    chances = {user: chance for user, (_, chance) in simulated.items()}
    skew = concentration(everything, products)
    return Population(seed, catalog, test, chances, counts, skew, time.perf_counter() - started)


def evaluate(population: Population, embedder: Embedder, args: argparse.Namespace) -> dict[str, Any]:
    """The test figures of one population, printed and emitted; the JSON line."""
    catalog, test = population.catalog, population.test
    started = time.perf_counter()
    fitted = fit_models(test, catalog, embedder)
    models_s = time.perf_counter() - started
    interactions = sum(len(fitted.cf.user(u).history) for u in test.users)
    print(
        f"\nseed {population.seed}: CF fit (ALS {ALS_SETTINGS.factors} factors, {ALS_SETTINGS.iterations} "
        f"iterations, {ALS_SETTINGS.threads} threads) on {interactions:,} interactions: "
        f"{fitted.cf.fit_seconds:.2f} s"
    )
    started = time.perf_counter()
    rec = recommender(catalog, embedder, fitted)
    tastes_s = time.perf_counter() - started
    fitted_concentrations = ", ".join(f"{k} {v:.3g}" for k, v in rec.tastes.concentrations().items())
    print(f"taste concentrations fitted in {tastes_s:.2f} s (with the recommender): {fitted_concentrations}")
    print(
        f"profiles: {len(fitted.profiles)} through InterestStore in {fitted.profile_s:.1f} s "
        f"({fitted.profile_s / len(fitted.profiles) * 1000:.1f} ms each); all models {models_s:.1f} s"
    )

    started = time.perf_counter()
    hits = {"popularity": popularity_hits(test, catalog, fitted)}
    oracle = oracle_hits(test, catalog, fitted, population.chances)
    variants = {
        "cf": only(collaborative=1.0),
        "taste": only(taste=1.0),
        "profile": PROFILE_ONLY,
        "blend": WEIGHTS,
    }
    found, latency = hit_counts(test, catalog, fitted, rec, variants, False, embedder)
    hits |= found
    asked, asked_latency = hit_counts(
        test, catalog, fitted, rec, {"request": only(relevance=1.0), "blend": WEIGHTS}, True, embedder
    )
    eval_s = time.perf_counter() - started
    n = len(test.users)
    ratio = hits["blend"] / hits["popularity"] if hits["popularity"] else float("inf")
    print(f"hit rate@{K} on {n} held-out items, no request:")
    print(f"  popularity baseline    {hits['popularity'] / n:.4f}")
    print(f"  CF only (ALS)          {hits['cf'] / n:.4f}")
    print(f"  taste only             {hits['taste'] / n:.4f}")
    print(f"  profile only           {hits['profile'] / n:.4f}")
    print(f"  blend                  {hits['blend'] / n:.4f}   = {ratio:.2f}x popularity (target >= 1.5x)")
    print(
        f"  oracle (knows tastes)  {oracle / n:.4f}   = {oracle / hits['popularity']:.2f}x popularity: "
        "the ceiling"
    )
    print(
        f"with a request naming the item's category ('{request_text(catalog, test.target[test.users[0]])}'):"
    )
    print(f"  request only           {asked['request'] / n:.4f}")
    print(f"  blend                  {asked['blend'] / n:.4f}")
    l50, l95 = statistics.median(latency), float(np.percentile(latency, 95))
    print(
        f"recommend() over {args.products} candidates, top {K} explained: p50 {l50:.1f} ms, "
        f"p95 {l95:.1f} ms; evaluation {eval_s:.1f} s"
    )
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "users": args.users,
        "evaluated": n,
        "products": args.products,
        "categories": len(CATEGORIES),
        "events": sum(population.counts.values()),
        "event_kinds": population.counts,
        "top_1pct_share": round(population.skew, 4),
        "embedder": embedder.name,
        "seed": population.seed,
        "appeal_spread": args.appeal_spread,
        "k": K,
        "hits": hits,
        "hit_rate": {k: round(v / n, 4) for k, v in hits.items()},
        "hit_rate_with_request": {k: round(v / n, 4) for k, v in asked.items()},
        "blend_over_popularity": round(ratio, 3),
        "oracle_hit_rate": round(oracle / n, 4),
        "als": asdict(ALS_SETTINGS),
        "taste": asdict(TASTE_SETTINGS),
        "taste_concentrations": {k: round(v, 3) for k, v in rec.tastes.concentrations().items()},
        "weights": asdict(WEIGHTS),
        "cf_fit_s": round(fitted.cf.fit_seconds, 3),
        "tastes_fit_s": round(tastes_s, 3),
        "interactions": interactions,
        "profile_ms": round(fitted.profile_s / len(fitted.profiles) * 1000, 2),
        "recommend_p50_ms": round(l50, 2),
        "recommend_p95_ms": round(l95, 2),
        "request_recommend_p50_ms": round(statistics.median(asked_latency), 2),
    }
    emit("recommend", result)
    return result


def concentration(everything: dict[str, list[Event]], products: int) -> float:
    """The share of (user, product) pairs that fall on the top 1% of products by distinct users."""
    fans = np.zeros(products)
    for events in everything.values():
        for item in {e.item for e in events}:
            fans[item] += 1
    top = np.sort(fans)[::-1][: max(1, products // 100)]
    return float(top.sum() / fans.sum())


def _counts(events: Iterable[Event]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event.kind] = counts.get(event.kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one population per seed")
    parser.add_argument(
        "--appeal-spread", type=float, default=2.0, help="sigma of the log-normal appeal: larger, more hits"
    )
    parser.add_argument("--embedder", choices=["e5", "hashing"], default="e5")
    parser.add_argument(
        "--tune", action="store_true", help="choose settings and weights (validation splits, pooled)"
    )
    args = parser.parse_args()
    embedder = CachedEmbedder(E5Embedder() if args.embedder == "e5" else HashingEmbedder())

    populations = []
    for seed in args.seed:
        population = populate(seed, args.users, args.products, args.appeal_spread)
        populations.append(population)
        total = sum(population.counts.values())
        kinds = ", ".join(f"{k} {n / total:.1%}" for k, n in population.counts.items())
        print(
            f"population {seed}: {args.users} users, {args.products} products, {len(CATEGORIES)} categories, "
            f"{total:,} events ({kinds}); the top 1% of products draw {population.skew:.1%} of (user, "
            f"product) pairs; evaluated: {len(population.test.users)} users (3+ positive items), generated "
            f"in {population.generate_s:.1f} s"
        )
        started = time.perf_counter()
        embedder.passage(population.catalog.texts)
        print(
            f"embedded {args.products} product texts with {embedder.name} in "
            f"{time.perf_counter() - started:.1f} s"
        )

    if args.tune:  # reads only the training side of each test split, cuts its own; no test figures after
        tune(populations, embedder)
        return 0

    results = [evaluate(population, embedder, args) for population in populations]
    if len(results) > 1:
        blend = sum(r["hits"]["blend"] for r in results)
        popular = sum(r["hits"]["popularity"] for r in results)
        ratios = ", ".join(f"{r['blend_over_popularity']:.2f}x" for r in results)
        print(
            f"\nblend / popularity per seed: {ratios}; "
            f"pooled: {blend} / {popular} hits = {blend / popular:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Recommendations: hard constraints, true reasons, dislikes, cold start, collaborative filtering on a
pattern it must find, and the same answer every time."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pytest

from ponder.commerce.model import Product, Variant
from ponder.commerce.recommend import (
    ALS_SETTINGS,
    COMPONENTS,
    BlendWeights,
    Candidate,
    CollaborativeFilter,
    Constraints,
    Recommender,
    Request,
    interactions_from_events,
    most_popular,
    popularity,
)
from ponder.memory.interests import KIND_WEIGHTS, InterestEvent, InterestProfile, InterestStore, Kind
from ponder.memory.owner import Owner
from ponder.store import open_database
from ponder.store.database import Database
from ponder.testing import HashingEmbedder

NOW = 1_750_000_000.0
DAY = 86_400.0
ANN = Owner("shop", "ann")
# A few dozen shoppers: ALS_SETTINGS's strong regularization is for thousands (implicit's is absolute, not
# scaled by the data), and would smooth these few purchases into popularity.
FAST = replace(ALS_SETTINGS, factors=8, regularization=5.0, alpha=4.0, threads=1)
NAMES = {"shirts": "Shirts", "shoes": "Shoes", "bags": "Bags", "camping": "Camping", "kitchen": "Kitchen"}


def product(
    pid: str, name: str, category: str, *variants: tuple[str | None, int, int | None], material: str = ""
) -> Product:
    """variants: (size or None, price, stock or None)."""
    return Product(
        pid,
        name,
        tuple(
            Variant(f"{pid}-{n}", pid, {"size": size} if size else {}, price, stock=stock)
            for n, (size, price, stock) in enumerate(variants)
        ),
        category=category,
        attributes={"material": material, "machine washable": False} if material else {},
    )


CATALOG = [
    product("linen-shirt", "Linen shirt", "shirts", ("M", 4500, 5), ("L", 4500, 0), material="linen"),
    product("oxford-shirt", "Oxford cotton shirt", "shirts", ("M", 5500, 3), material="cotton"),
    product("silk-shirt", "Silk shirt", "shirts", ("S", 12000, 2), material="silk"),
    product("loafers", "Leather loafers", "shoes", ("42", 9000, 4), material="leather"),
    product("sneakers", "Canvas sneakers", "shoes", ("42", 6000, 0), ("43", 6000, 7), material="canvas"),
    product("boots", "Hiking boots", "shoes", ("42", 14000, None), material="leather"),
    product("tote", "Linen tote bag", "bags", (None, 2500, None), material="linen"),
    product("backpack", "Canvas backpack", "bags", (None, 7000, 1), material="canvas"),
    product("belt", "Belt", "bags", (None, 3000, None), material="leather"),
    product("tent", "Two-person tent", "camping", (None, 19000, 2)),
    product("sleeping-bag", "Down sleeping bag", "camping", (None, 15000, 6)),
    product("stove", "Camping stove", "camping", (None, 4000, None)),
    product("mug", "Enamel mug", "kitchen", (None, 1200, None)),
    product("teapot", "Cast iron teapot", "kitchen", (None, 3500, 2)),
]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


def candidates(embedder: HashingEmbedder, products: Sequence[Product] = CATALOG) -> list[Candidate]:
    vectors = embedder.passage([f"{p.name}. {NAMES.get(p.category, p.category)}" for p in products])
    return [Candidate(p, vectors[i]) for i, p in enumerate(products)]


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_database(":memory:")
    yield database
    database.close()


def profile_of(
    db: Database, embedder: HashingEmbedder, events: Sequence[tuple[Kind, str]], owner: Owner = ANN
) -> InterestProfile:
    """The profile InterestStore computes from (kind, product id) events, an hour apart, ending at NOW."""
    store = InterestStore(db, embedder)
    by_id = {p.id: p for p in CATALOG}
    store.record(
        owner,
        [
            InterestEvent(
                kind=kind,
                item=pid,
                category=by_id[pid].category,
                text=by_id[pid].name,
                at=NOW - (len(events) - n) * 3600,
            )
            for n, (kind, pid) in enumerate(events)
        ],
    )
    return store.profile(owner, now=NOW)


def shoppers(groups: Sequence[tuple[Sequence[str], int]], seed: int = 0) -> list[tuple[str, str, Kind]]:
    """(user, product, kind) events: each group's users buy all of its products; a little random viewing."""
    rng = random.Random(seed)
    events: list[tuple[str, str, Kind]] = []
    for g, (products, users) in enumerate(groups):
        for u in range(users):
            user = f"g{g}-{u}"
            events += [(user, p, "purchase") for p in products]
            events.append((user, rng.choice(CATALOG).id, "view"))
    return events


# --- interactions and popularity ---


def test_dismissals_net_out_of_interactions() -> None:
    events: list[tuple[str, str, Kind]] = [
        ("ann", "mug", "view"),
        ("ann", "mug", "dismiss"),  # 1 - 3: not an interest
        ("ann", "tent", "purchase"),
        ("ann", "tent", "dismiss"),  # 5 - 3: still one, weaker
        ("ann", "stove", "view"),
        ("ann", "stove", "view"),
        ("bob", "mug", "save"),
    ]
    assert interactions_from_events(events) == [
        ("ann", "stove", 2.0),
        ("ann", "tent", 2.0),
        ("bob", "mug", 3.0),
    ]


def test_popularity_counts_people_not_events() -> None:
    interactions = [("ann", "mug", 50.0), ("bob", "tent", 1.0), ("cid", "tent", 1.0), ("ann", "stove", 1.0)]
    fans = popularity(interactions)
    assert fans == {"mug": 1, "stove": 1, "tent": 2}
    assert most_popular(fans, 2) == ["tent", "mug"]  # ties by id
    assert most_popular(fans, 5, exclude={"tent"}) == ["mug", "stove"]


# --- collaborative filtering ---


def test_cf_learns_a_co_purchase_pattern() -> None:
    events = shoppers([(["tent", "sleeping-bag", "stove"], 25), (["mug", "teapot"], 25)])
    events += [("new", "tent", "purchase")]
    cf = CollaborativeFilter.fit(interactions_from_events(events), FAST)
    others = [p.id for p in CATALOG if p.id not in {"tent"}]
    scores = dict(zip(others, cf.user("new").scores(others), strict=True))
    ranked = sorted(others, key=lambda p: -scores[p])
    assert set(ranked[:2]) == {"sleeping-bag", "stove"}
    assert scores["sleeping-bag"] > 5 * max(scores["mug"], scores["teapot"], 1e-6)
    # someone the model never saw, folded in from what they did since the fit
    folded = cf.user("late", history={"mug": 5.0}).scores(["teapot", "sleeping-bag"])
    assert folded[0] > folded[1]
    # the evidence: the fans the two products share, counted from the data
    assert cf.user("new").also_liked("sleeping-bag") == ("tent", 25)


def test_cf_unknowns_score_zero() -> None:
    cf = CollaborativeFilter.fit(interactions_from_events(shoppers([(["tent", "stove"], 5)])), FAST)
    assert cf.user("nobody").scores(["tent", "stove"]).tolist() == [0.0, 0.0]
    assert cf.user("g0-0").scores(["no-such-product"]).tolist() == [0.0]
    assert cf.user("g0-0").scores([]).shape == (0,)
    assert cf.user("x", history={"no-such-product": 5.0}).scores(["tent"]).tolist() == [0.0]
    empty = CollaborativeFilter.fit([], FAST)
    assert empty.user("g0-0").scores(["tent"]).tolist() == [0.0]
    assert empty.co_interest("tent", "stove") == 0


def test_fitting_and_ranking_are_deterministic(db: Database, embedder: HashingEmbedder) -> None:
    events = shoppers([(["tent", "sleeping-bag"], 12), (["mug", "teapot", "tote"], 12)], seed=3)
    interactions = interactions_from_events(events)
    settings = replace(ALS_SETTINGS, factors=8, threads=2, seed=7)
    first = CollaborativeFilter.fit(interactions, settings)
    second = CollaborativeFilter.fit(interactions, settings)
    assert np.array_equal(first.item_factors, second.item_factors)
    assert np.array_equal(first.user_factors, second.user_factors)
    other = CollaborativeFilter.fit(interactions, replace(settings, seed=8))
    assert not np.array_equal(first.item_factors, other.item_factors)  # the seed is what fixes them
    profile = profile_of(db, embedder, [("view", "tent"), ("like", "mug"), ("dismiss", "boots")])
    rec = Recommender(candidates(embedder), popularity=popularity(interactions), category_names=NAMES)
    runs = [
        rec.recommend(profile, request=Request("linen"), collaborative=cf.user("g0-1"), k=13)
        for cf in (first, second, first)
    ]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) > 5


# --- the blend ---


CONSTRAINTS = [
    Constraints(),
    Constraints(in_stock_only=False),
    Constraints(max_price=6000),
    Constraints(size="42"),
    Constraints(size="m", max_price=5000),
    Constraints(size="L", in_stock_only=False),
    Constraints(
        excluded_categories=frozenset({"Shoes", "bags"}), excluded_items=frozenset({"mug", "Silk shirt"})
    ),
    Constraints(max_price=0),
]


@pytest.mark.parametrize("constraints", CONSTRAINTS)
def test_constraints_are_never_broken(
    constraints: Constraints, db: Database, embedder: HashingEmbedder
) -> None:
    """Every eligible product and nothing else, with its cheapest qualifying price, whatever the signals."""
    profile = profile_of(db, embedder, [("purchase", "silk-shirt"), ("save", "boots"), ("like", "mug")])
    fans = {p.id: n for n, p in enumerate(CATALOG)}
    rec = Recommender(candidates(embedder), popularity=fans, category_names=NAMES)

    def qualifying(v: Variant) -> bool:
        in_stock = v.available and (v.stock is None or v.stock > 0)
        size = v.options.get("size")
        return (
            (in_stock or not constraints.in_stock_only)
            and (constraints.size is None or size is None or size.lower() == constraints.size.lower())
            and (constraints.max_price is None or v.price <= constraints.max_price)
        )

    excluded_categories = {c.lower() for c in constraints.excluded_categories}
    expected = {
        p.id: min(v.price for v in p.variants if qualifying(v))
        for p in CATALOG
        if any(qualifying(v) for v in p.variants)
        and p.category not in excluded_categories
        and p.id not in constraints.excluded_items
        and p.name not in constraints.excluded_items
    }
    got = rec.recommend(profile, request=Request("silk boots"), constraints=constraints, k=len(CATALOG))
    assert {r.product_id: r.price for r in got} == expected
    assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)


def test_reasons_are_true(db: Database, embedder: HashingEmbedder) -> None:
    """Every reason given, under every weighting, checked against the data it quotes."""
    events = shoppers([(["tent", "sleeping-bag", "stove"], 6), (["mug", "teapot"], 6)])
    events += [("ann", "tent", "purchase")]
    interactions = interactions_from_events(events)
    cf = CollaborativeFilter.fit(interactions, FAST)
    mine: list[tuple[Kind, str]] = [("purchase", "loafers"), ("purchase", "boots"), ("save", "tote")]
    mine += [("view", "tent"), ("purchase", "tent")]
    profile = profile_of(db, embedder, mine)
    fans = popularity(interactions)
    rec = Recommender(candidates(embedder), popularity=fans, category_names=NAMES)
    request = Request("canvas shoes", embedder.query(["canvas shoes"])[0])
    constraints = Constraints(size="43", max_price=20000)
    given: dict[str, set[str]] = {}
    for weights in [rec.weights, *(only(name) for name in COMPONENTS if name != "dislike")]:
        for seen in (frozenset(), frozenset({"loafers", "boots", "tent"})):
            for r in rec.recommend(
                profile,
                request=request,
                collaborative=cf.user("ann"),
                constraints=replace(constraints, excluded_items=seen),
                k=len(CATALOG),
                weights=weights,
            ):
                assert r.reasons
                for reason in r.reasons:
                    check(reason, _product(r.product_id), events, mine, fans, request.text)
                given.setdefault(r.product_id, set()).update(r.reasons)
    # the reasons each signal must give, somewhere
    assert "matches 'canvas' and 'shoes' in your request" in given["sneakers"]
    assert "you often buy from Shoes (2 products bought)" in given["sneakers"]
    assert "in stock in your size (43)" in given["sneakers"]
    assert "within your price limit" in given["sneakers"]
    assert "6 shoppers interested in 'Two-person tent' were also interested in this" in given["sleeping-bag"]
    assert "you have bought from Camping before" in given["stove"]
    assert "you saved this before" in given["tote"]
    assert any(reason.startswith("similar to '") for reason in given["backpack"])
    assert any(reason.startswith("popular: ") for reason in given["tent"])
    assert "leather, as are 2 of the things you liked" in given["belt"]  # loafers and boots


def only(name: str) -> BlendWeights:
    return BlendWeights(**{n: float(n == name) for n in COMPONENTS})


def check(
    reason: str,
    item: Product,
    events: Sequence[tuple[str, str, Kind]],
    mine: Sequence[tuple[Kind, str]],
    fans: dict[str, int],
    request: str,
) -> None:
    """Fails unless ``reason`` is one of the known kinds and true of ``item``."""
    text = f"{item.name} {NAMES[item.category]}".lower()
    bought = {pid for kind, pid in mine if kind == "purchase"}
    done = {pid: max((k for k, p in mine if p == pid), key=KIND_WEIGHTS.__getitem__) for _, pid in mine}
    category = NAMES[item.category]
    if m := re.fullmatch(r"matches (.+) in your request", reason):
        for word in re.findall(r"'(\w+)'", m[1]):
            assert word in request.split() and word.rstrip("s") in text
    elif m := re.fullmatch(r"(\d+) shoppers interested in '(.+)' were also interested in this", reason):
        anchor = next(p.id for p in CATALOG if p.name == m[2])
        interested: dict[str, set[str]] = {}
        for user, pid, _ in interactions_from_events(events):
            interested.setdefault(user, set()).add(pid)
        assert int(m[1]) == sum(1 for pids in interested.values() if {anchor, item.id} <= pids)
        assert anchor in interested["ann"]
    elif m := re.fullmatch(r"you often buy from (\w+) \((\d+) products bought\)", reason):
        assert m[1] == category
        assert int(m[2]) == sum(1 for pid in bought if _product(pid).category == item.category) >= 2
    elif m := re.fullmatch(r"you have bought from (\w+) before", reason):
        assert m[1] == category and any(_product(pid).category == item.category for pid in bought)
    elif m := re.fullmatch(r"(\w+) is one of your interests \(\d+% of your interest\)", reason):
        assert m[1] == category and any(_product(pid).category == item.category for _, pid in mine)
    elif m := re.fullmatch(r"similar to '(.+)', which you (\w+)", reason):
        other = next(p.id for p in CATALOG if p.name == m[1])
        assert other != item.id and m[2] == PAST[done[other]]
    elif m := re.fullmatch(r"(.+), as are (.+) of the things you liked", reason):
        for value, count in zip(m[1].split(" and "), m[2].split(" and "), strict=True):
            assert item.attributes.get("material") == value
            assert int(count) == sum(1 for pid in done if _product(pid).attributes.get("material") == value)
    elif m := re.fullmatch(r"you (\w+) this before", reason):
        assert m[1] == PAST[done[item.id]]
    elif m := re.fullmatch(r"(popular: )?(\d+) shoppers? (were|was) interested in it", reason):
        assert int(m[2]) == fans[item.id]
        assert not m[1] or fans[item.id] == max(fans.values())  # the top tenth of 13: the first
    elif m := re.fullmatch(r"in stock in your size \((\w+)\)", reason):
        assert any(v.options.get("size") == m[1] and v.stock != 0 for v in item.variants)
    elif reason == "within your price limit":
        assert min(v.price for v in item.variants) <= 20000
    else:
        vague = {"close to what you asked for", "close to your tastes", f"a pick from {category}"}
        assert reason in vague | {"shoppers with tastes like yours tend to like this"}, reason


PAST = {"purchase": "bought", "save": "saved", "like": "liked", "view": "viewed"}


def test_dislikes_push_down(db: Database, embedder: HashingEmbedder) -> None:
    twins = [  # pairs alike in all but what the person dismissed
        product("red-mug", "Red mug", "kitchen", (None, 1000, None)),
        product("blue-mug", "Blue mug", "kitchen", (None, 1000, None)),
        product("red-cap", "Red cap", "hats", (None, 1000, None)),
        product("red-lamp", "Red lamp", "lighting", (None, 1000, None)),
    ]
    store = InterestStore(db, embedder)
    store.record(
        ANN,
        [
            InterestEvent(kind="save", item="plate", category="kitchen", at=NOW - 3 * DAY),
            InterestEvent(kind="like", item="plate", category="kitchen", at=NOW - 3 * DAY),
            InterestEvent(kind="view", item="blue-mug", category="kitchen", at=NOW - 2 * DAY),
            InterestEvent(kind="dismiss", item="blue-mug", category="kitchen", at=NOW - 2 * DAY),
            InterestEvent(kind="view", item="green-cap", category="hats", at=NOW - DAY),
            InterestEvent(kind="dismiss", item="green-cap", category="hats", at=NOW - DAY),
        ],
    )
    profile = store.profile(ANN, now=NOW)
    assert {i.name for i in profile.disliked_items} == {"green-cap", "blue-mug"}
    assert [i.name for i in profile.disliked_categories] == ["hats"]
    assert [i.name for i in profile.categories] == ["kitchen"]
    rec = Recommender(candidates(embedder, twins), popularity=dict.fromkeys([p.id for p in twins], 5))
    ranked = [r.product_id for r in rec.recommend(profile, k=4)]
    assert ranked.index("red-mug") < ranked.index("blue-mug")  # the dismissed product itself
    assert ranked.index("red-lamp") < ranked.index("red-cap")  # a product in a dismissed category
    by_id = {r.product_id: r for r in rec.recommend(profile, k=4)}
    assert by_id["blue-mug"].components["dislike"] > by_id["red-cap"].components["dislike"] > 0
    assert by_id["red-mug"].components["dislike"] == by_id["red-lamp"].components["dislike"] == 0
    indifferent = replace(rec.weights, dislike=0.0)
    plain = [r.product_id for r in rec.recommend(profile, k=4, weights=indifferent)]
    assert plain.index("blue-mug") < plain.index("red-mug")  # the same score: by id, blue first


def test_taste_finds_a_planted_taste_that_popularity_misses(db: Database, embedder: HashingEmbedder) -> None:
    """Shoppers each pick one category and one colour, any brand; a few products are everyone's hits.
    Taste, fitted on everyone's interactions, puts each shopper's next pick in their top 3, and says why."""
    rng = random.Random(1)
    colours, brands = ["navy", "red", "olive", "beige"], ["Arden", "Belmont", "Corvo", "Dalia", "Everly"]
    catalog = [
        Product(
            f"{category}-{colour}-{brand}".lower(),
            f"{colour} {brand} {category}",
            (Variant(f"{category}-{colour}-{brand}-1".lower(), "", {}, 1000),),
            category=category,
            brand=brand,
            attributes={"colour": colour},
        )
        for category in ["shirts", "shoes", "bags"]
        for colour in colours
        for brand in brands
    ]
    hits = [p.id for p in rng.sample(catalog, 4)]
    store = InterestStore(db, embedder)
    events: list[tuple[str, str, Kind]] = []
    held_out: dict[str, str] = {}
    for u in range(60):
        category, colour = ["shirts", "shoes", "bags"][u % 3], colours[u % 4]
        mine = rng.sample([p.id for p in catalog if p.category == category and colour in p.name], 4)
        history = [*mine[:3], *rng.sample(hits, 2)]
        held_out[f"u{u}"] = mine[3]
        events += [(f"u{u}", pid, "view") for pid in history]
        store.record(
            Owner("shop", f"u{u}"),
            [
                InterestEvent(kind="view", item=pid, category=pid.split("-")[0], at=NOW - (5 - n) * DAY)
                for n, pid in enumerate(history)
            ],
        )
    interactions = interactions_from_events(events)
    fans = popularity(interactions)
    rec = Recommender(
        candidates(embedder, catalog), popularity=fans, category_names=NAMES, interactions=interactions
    )
    fitted = rec.tastes.concentrations()
    assert fitted["colour"] < 10 and fitted["brand"] > 1_000  # the colour is what they pick by
    found = {"taste": 0, "blend": 0, "popularity": 0}
    for user, target in held_out.items():
        profile = store.profile(Owner("shop", user), now=NOW)
        seen = frozenset(p for u, p, _ in events if u == user)
        for name, weights in [("taste", only("taste")), ("blend", rec.weights)]:
            top = rec.recommend(profile, constraints=Constraints(excluded_items=seen), k=3, weights=weights)
            found[name] += target in [r.product_id for r in top]
        found["popularity"] += target in most_popular(fans, 3, exclude=seen)
    # the blend mixes in the crowd's favourites too, and each shopper has two of the four hits still unseen
    assert found["taste"] >= 50 and found["blend"] >= 35 and found["popularity"] <= 5, found
    profile = store.profile(Owner("shop", "u0"), now=NOW)  # shirts in navy
    seen = frozenset(p for u, p, _ in events if u == "u0")
    ranked = rec.recommend(profile, constraints=Constraints(excluded_items=seen), k=60, weights=only("taste"))
    chances = [r.components["taste"] for r in ranked]
    assert chances[0] == 1.0 and chances == sorted(chances, reverse=True) and 0 < chances[-1] < 0.2
    assert ranked[0].product_id.startswith("shirts-navy-")
    assert "navy, as are 3 of the things you liked" in ranked[0].reasons
    assert any(
        re.fullmatch(r"Shirts is one of your interests \(\d+% of your interest\)", r)
        for r in ranked[0].reasons
    )


def test_a_newcomer_gets_popular_then_relevant_products(embedder: HashingEmbedder) -> None:
    fans = {p.id: 100 - 7 * n for n, p in enumerate(reversed(CATALOG))}
    cf = CollaborativeFilter.fit(interactions_from_events(shoppers([(["tent", "mug"], 5)])), FAST)
    rec = Recommender(candidates(embedder), popularity=fans, category_names=NAMES)
    cold = rec.recommend(None, collaborative=cf.user("newcomer"), k=3)
    assert [r.product_id for r in cold] == most_popular(fans, 3)
    assert [r.reasons[0] for r in cold] == [
        "popular: 100 shoppers were interested in it",
        "93 shoppers were interested in it",
        "86 shoppers were interested in it",
    ]
    asked = rec.recommend(None, request=Request("a linen shirt", embedder.query(["a linen shirt"])[0]), k=3)
    assert asked[0].product_id == "linen-shirt"
    assert "matches 'linen' and 'shirt' in your request" in asked[0].reasons
    assert rec.recommend(None, k=0) == []


def test_products_without_embeddings_or_profiles_do_not_break_ranking(db: Database) -> None:
    rec = Recommender([Candidate(p) for p in CATALOG[:4]])
    profile = profile_of(db, HashingEmbedder(), [("like", "linen-shirt")])
    got = rec.recommend(profile, request=Request("shirt", np.ones(384, np.float32)), k=4)
    assert [r.product_id for r in got][:2] == ["linen-shirt", "oxford-shirt"]  # by relevance then id


def _bought(events: Sequence[tuple[str, str, Kind]], user: str) -> set[str]:
    return {p for u, p, kind in events if u == user and kind == "purchase"}


def _product(pid: str) -> Product:
    return next(p for p in CATALOG if p.id == pid)

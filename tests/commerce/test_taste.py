"""Taste: facets read from products, concentrations fitted to how people really pick, lifts that follow the
evidence and ignore coincidences."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ponder.commerce.collaborative import Interaction
from ponder.commerce.model import Product, Variant
from ponder.commerce.taste import CATEGORY, CONCENTRATION, Tastes, TasteSettings

COLOURS = ["navy", "red", "olive", "beige"]
BRANDS = ["Arden", "Belmont", "Corvo", "Dalia"]


def catalog() -> list[Product]:
    """32 products: every colour x brand once in each of two categories; colour is an attribute."""
    return [
        Product(
            f"p{i:02d}",
            f"thing {i}",
            (Variant(f"p{i:02d}-1", f"p{i:02d}", {}, 1000),),
            category="hats" if i < 16 else "bags",
            brand=BRANDS[i % 4],
            attributes={"colour": COLOURS[(i // 4) % 4], "lined": True, "weight": 1.5},
        )
        for i in range(32)
    ]


def colour_lovers(products: list[Product], users: int, seed: int = 0) -> list[Interaction]:
    """Each user likes four products of one colour, whatever their brand or category."""
    rng = random.Random(seed)
    interactions: list[Interaction] = []
    for u in range(users):
        colour = COLOURS[u % len(COLOURS)]
        picks = rng.sample([p for p in products if p.attributes["colour"] == colour], 4)
        interactions += [(f"u{u}", p.id, 1.0) for p in picks]
    return interactions


def test_facets_are_category_brand_and_text_attributes() -> None:
    products = [*catalog(), Product("bare", "bare", (), category="")]
    tastes = Tastes(products)
    assert [f.name for f in tastes.facets] == [CATEGORY, "brand", "colour"]  # bools and floats left out
    colour = tastes.facets[2]
    assert colour.values == ("navy", "red", "olive", "beige")
    assert colour.codes[-1] == -1 and colour.rates.tolist() == [0.25] * 4
    assert all(f.concentration == CONCENTRATION for f in tastes.facets)


def test_fitting_finds_which_facets_people_pick_by() -> None:
    products = catalog()
    tastes = Tastes.fit(products, colour_lovers(products, 200))
    fitted = tastes.concentrations()
    assert fitted["colour"] < 1 < 1_000 < fitted["brand"]  # colour is everything, brand nothing
    assert fitted[CATEGORY] > 1_000  # they pick from either category alike
    # too little to go on: the default
    assert Tastes.fit(products, [("u", "p00", 1.0)]).concentrations()["colour"] == CONCENTRATION
    assert Tastes.fit(products, [("u", "elsewhere", 1.0)]).concentrations()["colour"] == CONCENTRATION


def test_lifts_follow_the_evidence_and_ignore_coincidences() -> None:
    products = catalog()
    index = {p.id: i for i, p in enumerate(products)}
    fitted = Tastes.fit(products, colour_lovers(products, 200))
    # two liked products that share a colour and (by chance) a brand
    liked = {index["p00"]: 5.0, index["p08"]: 2.0}  # navy Arden hats, and olive Arden hats
    assert [products[i].attributes["colour"] for i in liked] == ["navy", "olive"]
    person = fitted.person(liked)
    navy_belmont, red_arden = index["p01"], index["p04"]
    assert person.lift[navy_belmont] > 0.5  # a colour liked before: far likelier than the catalog's rate
    assert person.lift[red_arden] < -1.0  # a colour never liked
    count, ratio = person.facets["brand"]
    assert count[0] == 2 and ratio[0] == pytest.approx(1.0, abs=0.01)  # Arden twice: a coincidence
    naive = Tastes(products).person(liked)
    assert naive.facets["brand"][1][0] > 1.3  # a fixed prior takes the coincidence for a taste
    # the purchase (5) says more than the like (2), but not 2.5 times more
    navy, olive = person.facets["colour"][1][0], person.facets["colour"][1][2]
    assert 1.0 < navy / olive < 2.5
    # the category facet counts in the lift, not in the lift of the other facets
    assert np.allclose(
        person.lift - person.facet_lift, np.log(person.facets[CATEGORY][1][fitted.facets[0].codes])
    )


def test_evidence_power_zero_counts_each_liked_product_once() -> None:
    products = catalog()
    once = Tastes(products, settings=TasteSettings(evidence_power=0.0))
    person = once.person({0: 5.0, 8: 1.0, 5: -3.0})  # navy, olive; the disliked red one is no evidence
    count, ratio = person.facets["colour"]
    assert count.tolist() == [1, 0, 1, 0]
    assert ratio[0] == ratio[2]
    assert once.person({}).lift.tolist() == [0.0] * len(products)

"""Taste: how much likelier a person is than the catalog to pick each product, from the category, brand and
attribute values of the products they liked; and how personal each of those is, fitted across everyone.

A product has *facets*: its category, its brand and each text or whole-number attribute (material,
colour, style...), values lower-cased. For one facet, a person's rate of picking each value is estimated
from the products they liked, with the catalog's own mix of values as a Dirichlet prior:

    rate(value) = (evidence(value) + concentration x catalog rate(value)) / (evidence + concentration)

and a product's *lift* is the sum over its facets of log(rate / catalog rate) of its values: naive Bayes,
each facet as if picked on its own. A liked product's evidence is its profile score (``Interest.score``:
kind weights, time-decayed) to the power ``TasteSettings.evidence_power``, so a purchase says more than a
glance but not five glances' worth about what the person picks.

**How personal a facet is** (``Tastes.fit``). The concentration is the one under which everyone's liked
products are likeliest (a Dirichlet-multinomial over each person's products, each counted once; a grid of
``CONCENTRATIONS``). People who pick by colour give a small one, and a few navy purchases then say a lot; a
facet nobody picks by (a brand no one cares about) gives a huge one, under which coincidences (two liked
products of one brand out of five) say nothing and the facet lifts no product. Fixed concentrations
instead would have to choose between ignoring real tastes and chasing noise: on the bench's populations,
where style and colour matter and brand and material do not, taste alone finds 2.0x what popularity finds
on the validation splits with fitted concentrations, and 1.2x, 1.4x and 1.6x with 5, 15 and 50 for every
facet. Without interactions to fit on, every facet gets ``CONCENTRATION``.

Variant options (colour, size) are left out: a product in many colours would match every colour taste.
A product attribute named "category" is left out too: the category is a facet already.

Not here: the profile (memory/interests.py), what the lift is mixed with (recommend.py), and facets of
text beyond attribute values (descriptions: the profile embedding covers those).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from ponder.commerce.collaborative import Interaction
from ponder.commerce.model import Product

__all__ = ["CATEGORY", "CONCENTRATION", "TASTE_SETTINGS", "Facet", "PersonTaste", "TasteSettings", "Tastes"]

CATEGORY: Final = "category"  # the facet name of a product's category
# A facet's concentration when there are no interactions to fit it on: the catalog's mix counts as five
# liked products, so two navy things out of two do not yet make navy everything.
CONCENTRATION: Final = 5.0
CONCENTRATIONS: Final = tuple(float(c) for c in np.logspace(-1, 5, 49))  # fitted from: 0.1 to 100,000


@dataclass(frozen=True)
class TasteSettings:
    """How taste reads a profile. The defaults were chosen by ``python bench/recommend.py --tune`` on the
    validation splits, together with the blend weights (see ``WEIGHTS`` in recommend.py for the grid): an
    evidence power of 0 (each liked product once) or 1 (a purchase five views) both did worse than 0.5,
    and so did a popularity power of 0.25 or 0.75."""

    evidence_power: float = 0.5  # a liked product's evidence: its profile score ** this (0: one each)
    # The taste component (recommend.py) multiplies the lift by (1 + fans) ** this: among products alike
    # in category and attributes, people pick the better-liked ones more often.
    popularity_power: float = 0.5


TASTE_SETTINGS: Final = TasteSettings()


@dataclass(frozen=True)
class Facet:
    """One way products differ (category, brand, an attribute), over a fixed list of products."""

    name: str
    values: tuple[str, ...]
    codes: np.ndarray  # (products,) int64 index into values; -1 where the product has none
    rates: np.ndarray  # (values,) float64 each value's share of the products that have the facet
    concentration: float  # how much the catalog's mix counts in a person's rates, in liked products


@dataclass(frozen=True)
class PersonTaste:
    """What one person's liked products say about the facets of every product."""

    lift: np.ndarray  # (products,) float64 sum over facets of log(person's rate / catalog's rate)
    facet_lift: np.ndarray  # (products,) float64 the same without the category facet
    # facet -> ((values,) liked products with each value, (values,) person's rate / catalog's rate)
    facets: Mapping[str, tuple[np.ndarray, np.ndarray]]


class Tastes:
    """The facets of a fixed list of products; ``person`` turns someone's liked products into lifts."""

    def __init__(
        self,
        products: Sequence[Product],
        concentration: Mapping[str, float] | None = None,  # facet -> concentration; CONCENTRATION if absent
        settings: TasteSettings = TASTE_SETTINGS,
    ) -> None:
        self.settings = settings
        self.facets = _facets(products, concentration or {})
        self.index = {p.id: i for i, p in reversed(list(enumerate(products)))}
        self.size = len(products)

    @classmethod
    def fit(
        cls,
        products: Sequence[Product],
        interactions: Iterable[Interaction],
        settings: TasteSettings = TASTE_SETTINGS,
    ) -> Tastes:
        """Each facet's concentration fitted on everyone's positive ``(user, product, weight)``
        interactions with these products (others are ignored): the likeliest of ``CONCENTRATIONS``."""
        import scipy.sparse  # type: ignore[import-untyped]

        base = cls(products, settings=settings)
        users: dict[str, int] = {}
        pairs = {
            (users.setdefault(user, len(users)), base.index[product])
            for user, product, weight in interactions
            if weight > 0 and product in base.index
        }
        if not pairs:
            return base
        rows, columns = np.array(sorted(pairs), np.int64).T
        liked = scipy.sparse.csr_matrix(  # (users, products): 1 where liked
            (np.ones(len(pairs)), (rows, columns)), shape=(len(users), base.size)
        )
        base.facets = [replace(f, concentration=_fit_concentration(liked, f)) for f in base.facets]
        return base

    def concentrations(self) -> dict[str, float]:
        """facet -> its concentration."""
        return {facet.name: facet.concentration for facet in self.facets}

    def person(self, liked: Mapping[int, float]) -> PersonTaste:
        """The lifts of every product for someone who liked these products (product index -> profile
        score > 0; others are ignored). Nothing liked: every lift 0."""
        power = self.settings.evidence_power
        positive = [(i, score**power) for i, score in sorted(liked.items()) if score > 0]
        lift = np.zeros(self.size, np.float64)
        facet_lift = np.zeros(self.size, np.float64)
        explained: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for facet in self.facets:
            evidence = np.zeros(len(facet.values))
            count = np.zeros(len(facet.values), np.int64)
            for i, weight in positive:
                if facet.codes[i] >= 0:
                    evidence[facet.codes[i]] += weight
                    count[facet.codes[i]] += 1
            if not evidence.any():
                continue
            prior = facet.concentration * facet.rates
            ratio = (evidence + prior) / (evidence.sum() + facet.concentration) / facet.rates
            explained[facet.name] = (count, ratio)
            has = facet.codes >= 0
            lift[has] += np.log(ratio[facet.codes[has]])
            if facet.name != CATEGORY:
                facet_lift[has] += np.log(ratio[facet.codes[has]])
        return PersonTaste(lift, facet_lift, explained)


def _facets(products: Sequence[Product], concentration: Mapping[str, float]) -> list[Facet]:
    """The category, brand and text or whole-number attributes of ``products``, in that order (attributes
    by name), each with its values in order of first appearance."""
    rows: list[dict[str, str]] = []
    for p in products:
        found = {
            k.lower(): str(v).lower()
            for k, v in p.attributes.items()
            if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
        }
        found = {k: v for k, v in found.items() if v and k not in (CATEGORY, "brand")}
        rows.append({CATEGORY: p.category, "brand": p.brand.lower()} | found)
    names = [CATEGORY, "brand", *sorted({name for row in rows for name in row} - {CATEGORY, "brand"})]
    facets = []
    for name in names:
        values: dict[str, int] = {}
        codes = np.full(len(products), -1, np.int64)
        for i, row in enumerate(rows):
            value = row.get(name, "")
            if value:
                codes[i] = values.setdefault(value, len(values))
        if not values:
            continue
        counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.float64)
        chosen = float(concentration.get(name, CONCENTRATION))
        facets.append(Facet(name, tuple(values), codes, counts / counts.sum(), chosen))
    return facets


def _fit_concentration(liked: object, facet: Facet) -> float:
    """The concentration in ``CONCENTRATIONS`` under which the people's counts of the facet's values among
    their liked products (``liked``: a (users, products) 0/1 sparse matrix) are likeliest: the
    Dirichlet-multinomial log-likelihood, summed over the distinct (value, count) cells and totals."""
    import scipy.sparse
    from scipy.special import gammaln  # type: ignore[import-untyped]

    has = np.flatnonzero(facet.codes >= 0)
    onehot = scipy.sparse.csr_matrix(
        (np.ones(len(has)), (has, facet.codes[has])), shape=(facet.codes.shape[0], len(facet.values))
    )
    counts = scipy.sparse.coo_matrix(liked @ onehot)  # (users, values) liked products with each value
    totals = np.asarray(counts.sum(axis=1)).ravel()  # (users,)
    if not (totals > 1).any():  # one product is as likely under any concentration
        return CONCENTRATION
    top = int(counts.data.max()) + 1  # cells coded as value x top + count
    cells, people = np.unique(
        counts.col.astype(np.int64) * top + counts.data.astype(np.int64), return_counts=True
    )
    sizes, sized = np.unique(totals, return_counts=True)
    a = np.asarray(CONCENTRATIONS)[:, None]  # (grid, 1)
    prior = a * facet.rates[cells // top]  # (grid, cells)
    per_total = (gammaln(a) - gammaln(a + sizes)) @ sized
    per_cell = (gammaln(prior + cells % top) - gammaln(prior)) @ people
    likelihood = per_total + per_cell
    return float(CONCENTRATIONS[int(np.argmax(likelihood))])

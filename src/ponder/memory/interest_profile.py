"""A person's interest profile: what their events say they like and dislike, computed on every read.

Events are the truth; the profile is computed from them on every read, never stored. An event's weight is
its kind's weight (``KIND_WEIGHTS``) times ``0.5 ** (age / half-life)``, so the profile depends on *now*
and a stored copy would go stale by the hour. ``sum_events`` is one pass over the user's events in time
order (O(events)), which stays cheap for the event counts one person produces.

- **Netting.** A category's (or item's) score is the sum of its events' weights, dismissals included: a
  viewed-then-dismissed item ends up disliked, a bought-then-dismissed one stays liked but weaker. Positive
  scores are normalised to sum to 1 (the shares a recommender can mix by); negative ones are kept apart as
  *disliked*, with their own shares, so a dislike never dilutes the likes (``split_liked``). Items are
  keyed by ``item`` alone; an item's category and text are the newest non-empty ones its events carried.
- **Explaining.** Each category and item keeps its ``DRIVERS`` largest contributions, so
  ``InterestProfile.explain`` can say which events put it there.

Not here: reading the events and embedding the liked items (``InterestStore.profile``, interests.py), and
checking or writing events (interest_events.py).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from ponder.memory.interest_events import DAY, Kind
from ponder.memory.owner import Owner

__all__ = [
    "DRIVERS",
    "HALF_LIFE_DAYS",
    "KIND_WEIGHTS",
    "Contribution",
    "Interest",
    "InterestProfile",
    "Tally",
    "passage_text",
    "split_liked",
    "sum_events",
]

# What one event says about a liking, in views. A view is the weakest and noisiest signal (scrolling,
# mis-taps), so it is the unit. Like, follow and share are deliberate but cost nothing: 2. A save is intent
# to come back: 3. A purchase is money spent, the strongest evidence there is: 5. A dismiss is a deliberate
# "not for me", stronger than a view's faint yes: -3, so one dismissal outweighs a look and a like.
KIND_WEIGHTS: Final[Mapping[Kind, float]] = {
    "view": 1.0,
    "like": 2.0,
    "follow": 2.0,
    "share": 2.0,
    "save": 3.0,
    "purchase": 5.0,
    "dismiss": -3.0,
}
# Tastes move with seasons and life: a month-old signal counts half, a season-old one an eighth, a
# year-old one 1/4,700. Shorter would forget a purchase before the next one; longer would keep recommending
# last winter's coats.
HALF_LIFE_DAYS: Final = 30.0
DRIVERS: Final = 3  # events kept per category or item to explain it


@dataclass(frozen=True)
class Contribution:
    """One event's part in a category's or item's score."""

    kind: Kind
    item: str
    category: str
    at: float
    age_days: float
    decay: float  # 0.5 ** (age / half-life)
    score: float  # KIND_WEIGHTS[kind] * decay

    def describe(self) -> str:
        return (
            f"{self.kind} '{self.item}' {_age(self.age_days)}: "
            f"{KIND_WEIGHTS[self.kind]:g} × {self.decay:.3f} = {self.score:+.2f}"
        )


@dataclass(frozen=True)
class Interest:
    """A liked or disliked category or item."""

    name: str
    weight: float  # share of its side: liked weights sum to 1, and so do disliked ones
    score: float  # the decayed sum of its events' kind weights; negative when disliked
    events: int
    drivers: tuple[Contribution, ...]  # its largest contributions (either sign), largest first
    category: str = ""  # an item's category; "" for a category

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.category:
            out["category"] = self.category
        return out | {
            "weight": round(self.weight, 6),
            "score": round(self.score, 6),
            "events": self.events,
            "drivers": [
                {"kind": c.kind, "item": c.item, "at": c.at, "age_days": round(c.age_days, 3)}
                | {"decay": round(c.decay, 6), "score": round(c.score, 6)}
                for c in self.drivers
            ],
        }


@dataclass(frozen=True, eq=False)
class InterestProfile:
    """A user's tastes at ``computed_at``; every list is heaviest first."""

    owner: Owner
    computed_at: float
    categories: tuple[Interest, ...]
    items: tuple[Interest, ...]
    disliked_categories: tuple[Interest, ...]
    disliked_items: tuple[Interest, ...]
    event_counts: dict[str, int]  # kind -> events of that kind, in the order of KINDS
    embedding: np.ndarray | None  # (dim,) float32, L2-normalised; None without a liked item
    embedding_model: str
    embedded_items: int  # how many liked items the embedding averages
    embedding_coverage: float  # the share of the liked item weight they carry
    half_life_days: float = HALF_LIFE_DAYS

    @property
    def events(self) -> int:
        return sum(self.event_counts.values())

    def explain(self, top: int = 5) -> list[str]:
        """The profile in lines a person reads: what it holds and which events put it there."""
        lines = [
            f"Interests of {self.owner}: {self.events} events, half-life {self.half_life_days:g} days.",
            "Events: " + (", ".join(f"{n} {k}" for k, n in self.event_counts.items()) or "none"),
        ]
        sections = [
            ("Top categories", self.categories, True),
            ("Top items", self.items, False),
            ("Disliked categories", self.disliked_categories, True),
            ("Disliked items", self.disliked_items, False),
        ]
        for title, interests, with_drivers in sections:
            if not interests:
                continue
            lines.append(f"{title}:")
            for rank, interest in enumerate(interests[:top], start=1):
                lines.extend(_explain_one(rank, interest, with_drivers))
            if len(interests) > top:
                lines.append(f"  ... and {len(interests) - top} more")
        if not self.categories and not self.items:
            lines.append("No liked categories or items yet.")
        if self.embedding is None:
            lines.append("Embedding: none (no liked items).")
        else:
            items = f"{self.embedded_items} liked item" + ("s" if self.embedded_items != 1 else "")
            lines.append(
                f"Embedding: {self.embedding.shape[0]} dimensions, {self.embedding_model}: the weighted mean "
                f"of {items} ({self.embedding_coverage:.0%} of their weight)."
            )
        return lines

    def to_dict(self, top: int = 20, with_vector: bool = False) -> dict[str, Any]:
        """JSON for the CLI and the API: the ``top`` of each list, and the vector only when asked for."""
        embedding: dict[str, Any] | None = None
        if self.embedding is not None:
            embedding = {
                "model": self.embedding_model,
                "dim": int(self.embedding.shape[0]),
                "items": self.embedded_items,
                "coverage": round(self.embedding_coverage, 6),
            }
            if with_vector:
                embedding["vector"] = [round(float(x), 7) for x in self.embedding]
        return {
            "account": self.owner.account,
            "user": self.owner.user,
            "computed_at": self.computed_at,
            "half_life_days": self.half_life_days,
            "events": self.event_counts,
            "categories": [i.to_dict() for i in self.categories[:top]],
            "items": [i.to_dict() for i in self.items[:top]],
            "disliked": {
                "categories": [i.to_dict() for i in self.disliked_categories[:top]],
                "items": [i.to_dict() for i in self.disliked_items[:top]],
            },
            "embedding": embedding,
        }


# --- the profile's arithmetic ---


@dataclass
class Tally:
    """A category or item while its events are summed."""

    score: float = 0.0
    events: int = 0
    category: str = ""  # an item's newest non-empty category
    text: str = ""  # an item's newest non-empty text
    drivers: list[tuple[float, int, Contribution]] = field(default_factory=list)  # min-heap (|score|, seq, c)

    def add(self, event: Contribution, seq: int) -> None:
        self.score += event.score
        self.events += 1
        entry = (abs(event.score), seq, event)
        if len(self.drivers) < DRIVERS:
            heapq.heappush(self.drivers, entry)
        elif entry[0] > self.drivers[0][0]:
            heapq.heapreplace(self.drivers, entry)


def sum_events(rows: Iterable[Any], now: float) -> tuple[dict[str, Tally], dict[str, Tally], Counter[str]]:
    """(category -> tally, item -> tally, kind -> events) of (kind, item, category, text, at) rows in time
    order."""
    categories: dict[str, Tally] = {}
    items: dict[str, Tally] = {}
    counts: Counter[str] = Counter()
    for seq, (kind, item, category, text, at) in enumerate(rows):
        counts[kind] += 1
        age_days = max(0.0, now - float(at)) / DAY
        decay = 0.5 ** (age_days / HALF_LIFE_DAYS)
        event = Contribution(kind, item, category, float(at), age_days, decay, KIND_WEIGHTS[kind] * decay)
        tally = items.get(item) or items.setdefault(item, Tally())
        tally.add(event, seq)
        tally.category = category or tally.category  # the newest non-empty one: rows come in time order
        tally.text = text or tally.text
        if category:
            (categories.get(category) or categories.setdefault(category, Tally())).add(event, seq)
    return categories, items, counts


def split_liked(tallies: Mapping[str, Tally]) -> tuple[tuple[Interest, ...], tuple[Interest, ...]]:
    """(liked, disliked), each normalised to shares that sum to 1 and sorted heaviest first."""
    liked = {name: t for name, t in tallies.items() if t.score > 0}
    disliked = {name: t for name, t in tallies.items() if t.score < 0}
    return _ranked(liked), _ranked(disliked)


def _ranked(tallies: Mapping[str, Tally]) -> tuple[Interest, ...]:
    total = math.fsum(abs(t.score) for t in tallies.values())
    interests = [
        Interest(
            name=name,
            weight=abs(t.score) / total,
            score=t.score,
            events=t.events,
            drivers=tuple(c for _, _, c in sorted(t.drivers, key=lambda d: (-d[0], -d[1]))),
            category=t.category,
        )
        for name, t in tallies.items()
    ]
    return tuple(sorted(interests, key=lambda i: (-i.weight, i.name)))


def passage_text(tally: Tally, item: str) -> str:
    """What an item is, for the embedding: its text, else "category: item"."""
    if tally.text:
        return tally.text
    return f"{tally.category}: {item}" if tally.category else item


def _explain_one(rank: int, interest: Interest, with_drivers: bool) -> list[str]:
    where = f" ({interest.category})" if interest.category else ""
    events = f"{interest.events} event" + ("s" if interest.events != 1 else "")
    share = f"{interest.weight:.1%}  (score {interest.score:+.2f} from {events})"
    head = f"  {rank}. {interest.name}{where}  {share}"
    if with_drivers:
        return [head, *(f"       {c.describe()}" for c in interest.drivers)]
    strongest = interest.drivers[0] if interest.drivers else None
    if strongest is None:
        return [head]
    return [f"{head}: mostly {strongest.kind} {_age(strongest.age_days)} (× {strongest.decay:.3f})"]


def _age(days: float) -> str:
    if days < 1 / 24:
        return "just now"
    if days < 1:
        return f"{days * 24:.0f} h ago"
    return f"{days:.1f} days ago"

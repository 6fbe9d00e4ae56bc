"""Identifying the customer who writes in: by email or by name and zip, one match or nothing said, failures
limited per session and per writer, and a session bound to its writer."""

from __future__ import annotations

import pytest

from ponder.commerce.catalog import Catalog
from ponder.commerce.identification import FAILED, Identification, IdentificationFailed
from ponder.commerce.model import Address, Customer, StoreData
from ponder.errors import RateLimitedError, UserError
from ponder.store import open_database
from ponder.testing import HashingEmbedder

STORE = StoreData(
    name="Desk",
    customers=(
        Customer(
            "ann_lee_1",
            "Ann Lee",
            "Ann.Lee@example.com",
            (Address("home", "1 Main", "Austin", "US", zip="78701"),),
        ),
        Customer(
            "sam_lee_1",
            "Sam Lee",
            "sam1@example.com",
            (Address("home", "2 Main", "Austin", "US", zip="78702"),),
        ),
        Customer(
            "sam_lee_2",
            "Sam  Lee",
            "sam2@example.com",
            (Address("home", "3 Main", "Austin", "US", zip="78702"),),
        ),
        Customer("bo_ng", "Bo Ng", "", (Address("home", "4 Main", "Austin", "US", zip="78703"),)),
    ),
)


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def desk(database_url: str) -> tuple[Identification, Clock]:
    db = open_database(database_url)
    Catalog(db, HashingEmbedder()).import_store("desk", STORE)
    clock = Clock()
    return Identification(db, max_failures=3, window_s=600, clock=clock), clock


def test_an_email_or_a_name_with_a_zip_finds_the_one_customer_and_binds_the_session(desk) -> None:
    ident, _ = desk
    found = ident.identify("desk", "s1", "visitor", email="  ann.lee@EXAMPLE.com ")
    assert (found.user_id, found.method) == ("ann_lee_1", "email")
    assert ident.identified("desk", "visitor", "s1") == "ann_lee_1"
    assert ident.identified("desk", "someone-else", "s1") is None  # the same id, another writer's session
    by_name = ident.identify("desk", "s2", "visitor", first_name="ann", last_name="LEE", zip="78701")
    assert by_name.user_id == "ann_lee_1" and by_name.method == "name_zip"


@pytest.mark.parametrize(
    "details",
    [
        {"email": "nobody@example.com"},  # no such customer
        {"first_name": "Ann", "last_name": "Lee", "zip": "99999"},  # the name, another zip
        {"first_name": "Sam", "last_name": "Lee", "zip": "78702"},  # two customers match
    ],
    ids=["unknown-email", "wrong-zip", "ambiguous"],
)
def test_every_failure_says_the_same_and_binds_nothing(desk, details) -> None:
    ident, _ = desk
    with pytest.raises(IdentificationFailed) as failed:
        ident.identify("desk", "s1", "visitor", **details)
    assert str(failed.value) == FAILED
    assert ident.identified("desk", "visitor", "s1") is None


def test_failures_are_limited_per_session_and_per_writer_then_allowed_again(desk) -> None:
    ident, clock = desk
    for session in ("s1", "s2", "s3"):  # new sessions do not reset the writer's count
        with pytest.raises(IdentificationFailed):
            ident.identify("desk", session, "guesser", email=f"{session}@example.com")
    with pytest.raises(RateLimitedError) as limited:  # even with the right email now
        ident.identify("desk", "s4", "guesser", email="ann.lee@example.com")
    assert 0 < limited.value.retry_after <= 600
    assert ident.identified("desk", "guesser", "s4") is None
    ident.identify("desk", "s9", "another-visitor", email="ann.lee@example.com")  # others are not held up
    clock.now += 601
    assert ident.identify("desk", "s4", "guesser", email="ann.lee@example.com").user_id == "ann_lee_1"


def test_only_the_ways_the_store_allows_are_taken(desk) -> None:
    ident, _ = desk
    with pytest.raises(UserError, match="needs an email"):
        ident.identify("desk", "s1", "v", first_name="Ann", last_name="Lee", zip="78701", allowed=("email",))
    with pytest.raises(UserError, match="first and last name with a zip code"):
        ident.identify("desk", "s1", "v", email="ann.lee@example.com", allowed=("name_zip",))
    with pytest.raises(UserError, match="needs an email"):  # an empty email names nobody, not Bo (none)
        ident.identify("desk", "s1", "v", email=" ")

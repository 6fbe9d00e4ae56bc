"""The durable job table: claimed once, leased, retried with backoff, given up, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from ponder.store import open_database
from ponder.store.database import Database
from ponder.store.jobs import JobQueue, JobWorker


class Clock:
    """Time for the queue, moved by the test instead of slept through."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(database_url: str) -> Database:
    return open_database(database_url)


def enqueue(queue: JobQueue, key: str, **options: Any) -> None:
    with queue.db.transaction() as db:
        queue.enqueue(db, "test.echo", key, {"key": key}, **options)


def test_a_job_is_enqueued_once_per_key_and_runs_when_due(db: Database) -> None:
    clock = Clock()
    queue = JobQueue(db, clock=clock)
    enqueue(queue, "a", delay_s=30)
    enqueue(queue, "a", delay_s=0)  # the same key again: nothing changes
    assert queue.claim() is None  # not due yet
    clock.now += 30
    job = queue.claim()
    assert job is not None and job.payload == {"key": "a"} and job.attempts == 1
    assert queue.claim() is None  # leased to its worker
    queue.complete(job)
    assert queue.state("test.echo", "a") == "done"
    clock.now += 3600
    assert queue.claim() is None


def test_a_rolled_back_transaction_enqueues_nothing(db: Database) -> None:
    queue = JobQueue(db)
    with pytest.raises(RuntimeError), db.transaction() as tx:
        queue.enqueue(tx, "test.echo", "gone", {})
        raise RuntimeError("the work that needed the job failed")
    assert queue.state("test.echo", "gone") is None


def test_a_dead_workers_job_is_claimed_again_when_its_lease_ends(db: Database) -> None:
    clock = Clock()
    queue = JobQueue(db, lease_s=60, clock=clock)
    enqueue(queue, "a")
    first = queue.claim()
    assert first is not None  # its worker dies here, holding it
    clock.now += 59
    assert queue.claim() is None
    clock.now += 1
    second = queue.claim()
    assert second is not None and second.id == first.id and second.attempts == 2
    queue.complete(first)  # the first worker's late word no longer counts: the job is the second's
    assert queue.state("test.echo", "a") == "running"
    queue.complete(second)
    assert queue.state("test.echo", "a") == "done"


def test_failures_back_off_exponentially_then_the_job_is_dead(db: Database) -> None:
    clock = Clock()
    queue = JobQueue(db, base_s=2, cap_s=5, clock=clock)
    enqueue(queue, "a", max_attempts=3)
    ran: list[float] = []

    def fail(payload: dict[str, Any]) -> None:
        ran.append(clock.now)
        raise RuntimeError("the provider is down")

    worker = JobWorker(queue, {"test.echo": fail})
    assert worker.run_due() == 1 and queue.state("test.echo", "a") == "queued"
    clock.now += 1.9
    assert worker.run_due() == 0  # the first retry waits 2 s
    clock.now += 0.1
    assert worker.run_due() == 1
    clock.now += 3.9
    assert worker.run_due() == 0  # the second 4 s
    clock.now += 0.1
    assert worker.run_due() == 1 and queue.state("test.echo", "a") == "dead"  # 3 attempts: given up
    clock.now += 3600
    assert worker.run_due() == 0 and len(ran) == 3


def test_a_cancelled_job_does_not_run(db: Database) -> None:
    queue = JobQueue(db)
    enqueue(queue, "a")
    with db.transaction() as tx:
        queue.cancel(tx, "test.echo", "a")
    assert JobWorker(queue, {"test.echo": lambda payload: None}).run_due() == 0


def test_concurrent_workers_claim_each_job_once(db: Database) -> None:
    queue = JobQueue(db)
    for n in range(40):
        enqueue(queue, f"j{n}")
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def record(payload: dict[str, Any]) -> None:
        with lock:
            runs[payload["key"]] += 1

    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        JobWorker(queue, {"test.echo": record}).run_due()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == Counter({f"j{n}": 1 for n in range(40)})


def test_a_worker_runs_only_its_kinds(db: Database) -> None:
    queue = JobQueue(db)
    with db.transaction() as tx:
        queue.enqueue(tx, "other.kind", "x", {})
    assert JobWorker(queue, {"test.echo": lambda payload: None}).run_due() == 0
    assert queue.state("other.kind", "x") == "queued"

"""Large work gives the interpreter to small work: it breathes while small work runs, and only then."""

from __future__ import annotations

import threading

import pytest

from ponder import sharing
from ponder.server.middleware import _small
from ponder.sharing import LARGE_REQUEST_BYTES, breathe, breathing, large_work, small_work


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps of ``breathe`` (each one really sleeps), in order."""
    seen: list[float] = []
    real = sharing.time.sleep

    def sleep(seconds: float) -> None:
        seen.append(seconds)
        real(seconds)

    monkeypatch.setattr(sharing.time, "sleep", sleep)
    return seen


def test_outside_large_work_breathing_never_waits(sleeps: list[float]) -> None:
    with small_work():
        breathe()  # a small request's own loops, the CLI, tests
        assert list(breathing(range(1000))) == list(range(1000))
    assert sleeps == []


def test_large_work_runs_on_when_no_small_work_runs(sleeps: list[float]) -> None:
    with large_work():
        assert list(breathing(range(1000))) == list(range(1000))
    assert sleeps == []


def test_large_work_waits_while_small_work_runs_and_goes_on_when_it_ends(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharing, "MAX_PAUSE_S", 60.0)  # the breath ends when the small work does
    started, done = threading.Event(), threading.Event()

    def large() -> None:
        with large_work():
            started.set()
            breathe()
        done.set()

    with small_work():
        thread = threading.Thread(target=large)
        thread.start()
        assert started.wait(10)
        while not sleeps:  # it has begun to wait
            threading.Event().wait(0.001)
        assert not done.is_set()  # still waiting: the small work runs
    thread.join(10)
    assert done.is_set()


def test_one_breath_is_bounded_so_large_work_is_never_starved(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharing, "MAX_PAUSE_S", 0.01)
    with small_work(), large_work():
        breathe()  # small work never ends here: the breath ends by itself
    assert 0 < len(sleeps) <= 0.01 / sharing.STEP_S + 1


def test_what_the_server_counts_as_small() -> None:
    assert _small("GET", None) and _small("DELETE", None)
    assert _small("POST", b"120") and _small("POST", str(LARGE_REQUEST_BYTES).encode())
    assert not _small("POST", str(LARGE_REQUEST_BYTES + 1).encode())
    assert not _small("POST", None)  # chunked: its size is not known

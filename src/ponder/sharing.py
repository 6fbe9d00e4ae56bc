"""Large work gives the interpreter to small work, so one heavy request does not slow everyone else.

A server's threads share one Python interpreter. The work of a large request (a body of thousands of
messages to scan, translate, fingerprint and store) keeps it busy for a good part of a second, and a small
request's threads then wait for it at every step: each database call and each hop between the event loop
and a worker thread gives the interpreter up and must win it back, one switch interval later. Measured on
the heaviest accepted requests, a small chat turn of 7 ms took 30 ms at the median and 80 ms at p99.

So small work says it is running (``small_work()``, entered by the server for each request whose body is
small), large work runs marked as such (``large_work()``, around the worker-thread calls of a large
request), and the loops of large work call ``breathe()`` every few hundred items (``breathing()`` wraps an
iterable). ``breathe`` sleeps, giving the interpreter up, while small work is running, at most
``MAX_PAUSE_S`` in one go: large work is slowed while small work runs, never starved. Outside large work
(a small request's own loops, the CLI, tests) ``breathe`` returns at once.

Not here: deciding what is small or large (the server does, by body size), and work in C that holds the
interpreter in one call (parsing JSON): it cannot be paused, only kept out of the small path.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["LARGE_REQUEST_BYTES", "MAX_PAUSE_S", "breathe", "breathing", "large_work", "small_work"]

T = TypeVar("T")

LARGE_REQUEST_BYTES = 256 * 1024  # a request body over this is large work
MAX_PAUSE_S = 0.05  # the longest one breath of large work waits for small work
STEP_S = 0.0005  # how long it sleeps before looking again
EVERY = 64  # items of a loop between breaths

_small = 0  # small requests running now (changed under _lock; read without it: a stale read is harmless)
_lock = threading.Lock()
_thread = threading.local()  # .large: this thread is doing large work


@contextlib.contextmanager
def small_work() -> Iterator[None]:
    """For the block: small work is running, and large work breathes for it."""
    global _small
    with _lock:
        _small += 1
    try:
        yield
    finally:
        with _lock:
            _small -= 1


@contextlib.contextmanager
def large_work() -> Iterator[None]:
    """For the block, in this thread: the work is large, and its loops breathe."""
    before = getattr(_thread, "large", False)
    _thread.large = True
    try:
        yield
    finally:
        _thread.large = before


def breathe() -> None:
    """In large work: wait (the interpreter given up) while small work runs, at most ``MAX_PAUSE_S``."""
    if not _small or not getattr(_thread, "large", False):
        return
    deadline = time.monotonic() + MAX_PAUSE_S
    while _small and time.monotonic() < deadline:
        time.sleep(STEP_S)


def breathing(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """``items``, breathing before every ``every``-th one."""
    for index, item in enumerate(items):
        if index % every == 0:
            breathe()
        yield item

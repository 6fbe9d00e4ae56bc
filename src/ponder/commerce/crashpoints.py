"""Named crash points on the money path, for tests and the crash bench: die exactly between two steps.

Each consequential action passes the same named points (``POINTS``)::

    before_charge   the key is claimed and the plan kept; the provider not asked yet
    after_charge    the provider charged (or refused); nothing written
    after_write     the order, or the order's change, is committed; the refunds it booked not sent
    before_answer   the action is recorded done; its answer not returned

A point does nothing unless armed, in one of two ways:

- ``PONDER_CRASH_AT=after_charge`` in a server's environment: the process kills itself with SIGKILL the
  first time it passes that point (as kill -9 or a power cut would), which ``bench/crash.py`` uses against
  a real ``ponder serve``. Never set it on a server that serves people.
- ``arm("after_charge")`` in a test: passing the point raises ``SimulatedCrash`` (a ``BaseException``, so no
  ``except Exception`` of the money path swallows it), and the point disarms itself. What was committed
  stays; what the crashed call would have done next does not happen.

Not here: choosing where to crash (the tests and the bench do), or recovering (idempotency.py, the sweeper).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Final, Literal, get_args

__all__ = ["CRASH_ENV", "POINTS", "CrashPoint", "SimulatedCrash", "arm", "crash_point", "disarm"]

CrashPoint = Literal["before_charge", "after_charge", "after_write", "before_answer"]
POINTS: Final[tuple[CrashPoint, ...]] = get_args(CrashPoint)
CRASH_ENV: Final = "PONDER_CRASH_AT"

_armed: set[str] = set()
_lock = threading.Lock()


class SimulatedCrash(BaseException):
    """The process "died" at a crash point (in tests): nothing after it in that call happens."""


def arm(point: CrashPoint) -> None:
    """Crash (raise ``SimulatedCrash``) the next time ``point`` is passed, once."""
    with _lock:
        _armed.add(point)


def disarm() -> None:
    with _lock:
        _armed.clear()


def crash_point(point: CrashPoint) -> None:
    """Pass ``point``: nothing, unless it is armed (see the module docstring)."""
    if os.environ.get(CRASH_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if not _armed:
        return
    with _lock:
        if point not in _armed:
            return
        _armed.discard(point)
    raise SimulatedCrash(point)

"""How a running server shares the Python interpreter between its event loop and its worker threads.

Handlers give blocking work (the database, parsing a body, memory, perception) to worker threads: enough of
them that a quick database call does not queue behind slow work, and a switch interval short enough that a
thread busy in Python keeps the event loop waiting for the interpreter 1 ms, not 5.

The garbage collector stops every thread, the event loop included, for each pass. What exists once the
server has started (modules, schemas, the app) lives as long as it: frozen, the full passes skip it (they
took 100 ms and more while large requests were in flight). A request's objects mostly die with it: with a
higher first threshold, fewer of them live long enough to be walked again by the older generations.

The switch interval and the collector belong to the process: they are set when its first server starts and
put back when its last one stops (tests run several at once). This module does not decide what runs in a
thread; the handlers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

__all__ = ["GC_FIRST_THRESHOLD", "SWITCH_INTERVAL_S", "WORKER_THREADS", "sharing_the_interpreter"]

WORKER_THREADS = 32  # the event loop's default executor (asyncio.to_thread)
SWITCH_INTERVAL_S = 0.001  # how often a thread holding the interpreter lets another have it
GC_FIRST_THRESHOLD = 20_000  # allocations between the garbage collector's youngest passes (Python: 700)

_lock = threading.Lock()
_servers = 0  # servers running in this process
_before: tuple[float, tuple[int, ...]] = (0.0, ())  # the switch interval and GC thresholds before the first


@contextlib.contextmanager
def sharing_the_interpreter(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """For the block (a server's life): worker threads for ``loop``, and the process tuned as above."""
    global _servers, _before
    loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="ponder-worker"))
    with _lock:
        if _servers == 0:
            _before = (sys.getswitchinterval(), gc.get_threshold())
            sys.setswitchinterval(min(_before[0], SWITCH_INTERVAL_S))
            first, *older = _before[1]
            gc.set_threshold(max(first, GC_FIRST_THRESHOLD), *older)
            gc.freeze()
        _servers += 1
    try:
        yield
    finally:
        with _lock:
            _servers -= 1
            if _servers == 0:
                sys.setswitchinterval(_before[0])
                gc.set_threshold(*_before[1])
                gc.unfreeze()  # what was frozen may be garbage by now

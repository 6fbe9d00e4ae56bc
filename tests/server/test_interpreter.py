"""The process is tuned while servers run and put back as it was when the last one stops."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading

from ponder.server.interpreter import GC_FIRST_THRESHOLD, SWITCH_INTERVAL_S, sharing_the_interpreter


def test_tuned_while_any_server_runs_and_put_back_after_the_last() -> None:
    before = (sys.getswitchinterval(), gc.get_threshold())
    one, two = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        with sharing_the_interpreter(one):
            assert sys.getswitchinterval() <= SWITCH_INTERVAL_S
            assert gc.get_threshold()[0] >= GC_FIRST_THRESHOLD
            assert gc.get_freeze_count() > 0
            with sharing_the_interpreter(two):
                pass
            assert sys.getswitchinterval() <= SWITCH_INTERVAL_S  # the first server still runs
            worker = one.run_until_complete(asyncio.to_thread(threading.current_thread))
            assert worker.name.startswith("ponder-worker")
        assert (sys.getswitchinterval(), gc.get_threshold()) == before
        assert gc.get_freeze_count() == 0
    finally:
        one.close()
        two.close()

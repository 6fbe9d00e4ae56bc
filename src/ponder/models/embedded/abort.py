"""Stopping llama.cpp in the middle of a decode: its abort callback, switched on only while it pays.

llama.cpp asks the abort callback between graph nodes. A Python callback costs a GIL round trip per node:
worth it while a long prompt is evaluated (seconds that Ctrl-C must interrupt), not for single-token decode
steps, where the caller checks its cancel event between tokens. So the switch is armed for the prompt and
disarmed (a NULL callback) after it.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["AbortSwitch"]


class AbortSwitch:
    """The abort callback of one llama.cpp context, reading the running call's cancel event."""

    def __init__(self, llama_cpp: Any, ctx: Any) -> None:
        self._lib = llama_cpp
        self._ctx = ctx
        self._cancel = threading.Event()
        self._callback = llama_cpp.ggml_abort_callback(lambda _data: self._cancel.is_set())
        self._null = llama_cpp.ggml_abort_callback()  # a NULL function pointer: no callback

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def arm(self, cancel: threading.Event) -> None:
        """Let ``cancel`` abort the context's decodes from now on."""
        self._cancel = cancel
        self._lib.llama_set_abort_callback(self._ctx, self._callback, None)

    def disarm(self) -> None:
        self._lib.llama_set_abort_callback(self._ctx, self._null, None)

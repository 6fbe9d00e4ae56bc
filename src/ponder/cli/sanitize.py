"""Text from models, tools and imported files made safe to print on a terminal.

A model's answer, a tool's result, a product or store name is data: it must not drive the terminal. An
escape sequence in it could write the clipboard (OSC 52), retitle the window (OSC 0/2), move the cursor
or clear the screen over what was printed before, or switch off the display of what follows. So every
piece of data Ponder prints goes through ``ControlFilter`` (streamed answers, which may split a sequence
across deltas) or ``plain`` (a whole string): escape sequences are removed whole, with their payload,
and every other control character except newline and tab is dropped. ``json_text`` writes JSON with no
raw control character in it (the C1 range, DEL and the Unicode line separators become ``\\uXXXX``, which
decode to the same strings), so ``--json`` output stays exact and still cannot drive a terminal.

Not here: Rich markup. Data printed through Rich goes in a ``rich.text.Text`` or through
``rich.markup.escape`` where it is printed (render.py), never as markup.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["ControlFilter", "json_text", "plain"]

_ESC, _BEL, _ST = "\x1b", "\x07", "\x9c"
_STRING_INTRODUCERS = frozenset("]PX^_")  # after ESC: OSC, DCS, SOS, PM, APC, each ended by BEL or ST
_C1_STRINGS = frozenset("\x9d\x90\x98\x9e\x9f")  # the same, as 8-bit C1 characters
_C1_CSI = "\x9b"
_KEPT = frozenset("\n\t")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


class ControlFilter:
    """Removes terminal control sequences from text that arrives in pieces (a streamed answer).

    ``feed`` returns what is safe to print of each piece; a sequence split across pieces is recognised
    whole. One filter per stream: its state is where the last piece ended.
    """

    # states: text, esc (after ESC), csi (inside a control sequence), string (inside OSC/DCS/...),
    # string_esc (an ESC inside a string: ESC \ ends it)
    def __init__(self) -> None:
        self._state = "text"

    def reset(self) -> None:
        self._state = "text"

    def feed(self, text: str) -> str:
        if self._state == "text" and not any(_is_control(ch) and ch not in _KEPT for ch in text):
            return text  # the common case: nothing to remove
        out: list[str] = []
        for ch in text:
            self._step(ch, out)
        return "".join(out)

    def _step(self, ch: str, out: list[str]) -> None:
        state = self._state
        if state == "esc":
            if 0x20 <= ord(ch) <= 0x2F:  # intermediate bytes: the sequence goes on
                return
            self._state = "csi" if ch == "[" else "string" if ch in _STRING_INTRODUCERS else "text"
            return
        if state == "csi":
            if 0x20 <= ord(ch) <= 0x3F:  # parameters and intermediates
                return
            self._state = "text"
            if 0x40 <= ord(ch) <= 0x7E:  # the final byte ends the sequence
                return
            # anything else cuts the sequence short and is read as text
        elif state == "string":
            if ch in (_BEL, _ST):
                self._state = "text"
            elif ch == _ESC:
                self._state = "string_esc"
            return  # the payload (a clipboard text, a title) is dropped
        elif state == "string_esc":
            self._state = "text" if ch == "\\" else "string_esc" if ch == _ESC else "string"
            return
        if ch == _ESC:
            self._state = "esc"
        elif ch == _C1_CSI:
            self._state = "csi"
        elif ch in _C1_STRINGS:
            self._state = "string"
        elif ch in _KEPT or not _is_control(ch):
            out.append(ch)


def plain(text: str) -> str:
    """``text`` without terminal control sequences or control characters (newline and tab are kept)."""
    return ControlFilter().feed(text)


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON (non-ASCII kept as it is) in which no character can drive a terminal."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

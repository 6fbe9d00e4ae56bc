"""Terminal control sequences are removed whole from data, even split across a stream; JSON stays exact."""

from __future__ import annotations

import json

import pytest

from ponder.cli.sanitize import ControlFilter, json_text, plain

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # write "pwned" to the clipboard
TITLE = "\x1b]0;owned\x1b\\"  # set the window title, ended by ST
HIDE = "\x1b[8m"  # conceal what follows


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (f"a{OSC52}b", "ab"),
        (f"a{TITLE}b", "ab"),
        (f"a{HIDE}b\x1b[0m", "ab"),
        ("a\x9b8mb", "ab"),  # CSI as one C1 character
        ("a\x9d0;t\x9cb", "ab"),  # OSC ... ST as C1 characters
        ("a\x1b(Bb", "ab"),  # a character-set designation
        ("line\r\x08\x07\x7f", "line"),
        ("tab\tand\nnewline [bold]kept[/]", "tab\tand\nnewline [bold]kept[/]"),
        ("üñí©ødé ✓", "üñí©ødé ✓"),
    ],
)
def test_plain_removes_sequences_and_controls(given: str, shown: str) -> None:
    assert plain(given) == shown


def test_a_sequence_split_across_pieces_is_removed_whole() -> None:
    text = f"Sure.{OSC52} Done{TITLE}, {HIDE}hidden? no."
    for cut in range(1, 6):  # every way of cutting the text into pieces of `cut` characters
        stream = ControlFilter()
        out = "".join(stream.feed(text[i : i + cut]) for i in range(0, len(text), cut))
        assert out == "Sure. Done, hidden? no.", cut


def test_reset_forgets_an_unfinished_sequence() -> None:
    stream = ControlFilter()
    assert stream.feed("a\x1b]0;never ended") == "a"
    stream.reset()
    assert stream.feed("next turn") == "next turn"


def test_json_text_is_exact_and_has_no_raw_control_characters() -> None:
    data = {"name": f"x{OSC52}\x9b8m\u2028y", "ü": "ø"}
    text = json_text(data)
    assert json.loads(text) == data
    assert all(not (ord(c) < 0x20 and c != "\n") and not 0x7F <= ord(c) <= 0x9F for c in text)
    assert "\u2028" not in text and "ü" in text

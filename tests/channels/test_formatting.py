"""Replies as each platform renders them, and split to its limits."""

from __future__ import annotations

import pytest

from ponder.channels.formatting import render, split

REPLY = """## Linen shirt
The **linen shirt** is *light* and ~~dear~~ cheap: see [the shop](https://shop.example.com/p?a=1&b=2).
- size `M`
- colour white <3"""


def test_whatsapp_gets_its_own_markup() -> None:
    assert render(REPLY, "whatsapp") == (
        "*Linen shirt*\nThe *linen shirt* is _light_ and ~dear~ cheap: see the shop "
        "(https://shop.example.com/p?a=1&b=2).\n• size ```M```\n• colour white <3"
    )


def test_telegram_gets_html_with_everything_else_escaped() -> None:
    html = render(REPLY, "telegram")
    assert html.startswith("<b>Linen shirt</b>\nThe <b>linen shirt</b> is <i>light</i> and <s>dear</s>")
    assert '<a href="https://shop.example.com/p?a=1&amp;b=2">the shop</a>' in html
    assert "<code>M</code>" in html and html.endswith("colour white &lt;3")
    assert (
        render("<script>alert(1)</script> a < b", "telegram")
        == "&lt;script&gt;alert(1)&lt;/script&gt; a &lt; b"
    )


def test_messenger_gets_plain_text() -> None:
    assert render(REPLY, "plain") == (
        "Linen shirt\nThe linen shirt is light and dear cheap: see the shop "
        "(https://shop.example.com/p?a=1&b=2).\n• size M\n• colour white <3"
    )


@pytest.mark.parametrize("limit", [20, 50, 100])
def test_long_replies_are_split_at_boundaries_within_the_limit(limit: int) -> None:
    text = "First paragraph, short.\n\nSecond one is longer. It has two sentences! " + "word " * 60
    parts = split(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost, no word cut
    assert split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]  # one word longer than the limit
    assert split("   ", 10) == []

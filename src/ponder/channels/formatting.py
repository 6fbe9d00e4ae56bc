"""A reply as a platform shows it: the model's Markdown converted to what the platform renders, and split
into messages within the platform's limits.

Renderings (``Style``):
- ``"whatsapp"``: WhatsApp's own markup: ``*bold*``, ``_italic_``, ``~strike~``, ```` ```mono``` ````;
  headings become bold lines, links "text (url)".
- ``"telegram"``: Telegram's HTML parse mode (``<b>``, ``<i>``, ``<s>``, ``<code>``, ``<pre>``,
  ``<a href>``), everything else escaped, so no text the model writes can break the message.
- ``"plain"``: Messenger renders no markup: markers are removed, links "text (url)".

Splitting (``split``) cuts at a paragraph, else a line, else a sentence, else a space, never inside a word
unless one word is longer than the limit; no part is empty.

Not here: the buttons and lists of a message (each adapter renders ``Outbound``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Final, Literal

__all__ = ["STYLES", "Style", "render", "split"]

Style = Literal["whatsapp", "telegram", "plain"]
STYLES: Final[dict[str, Style]] = {
    "whatsapp": "whatsapp",
    "telegram": "telegram",
    "messenger": "plain",
}  # by platform

_FENCE: Final = re.compile(r"```[a-zA-Z0-9_+-]*\n?(.*?)```", re.DOTALL)
_CODE: Final = re.compile(r"`([^`\n]+)`")
_LINK: Final = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD: Final = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC: Final = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_STRIKE: Final = re.compile(r"~~(.+?)~~")
_HEADING: Final = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET: Final = re.compile(r"^(\s*)[*+-]\s+", re.MULTILINE)


def render(markdown: str, style: Style) -> str:
    """``markdown`` as ``style`` shows it."""
    if style == "telegram":
        return _telegram(markdown)
    code: list[str] = []

    def keep(match: re.Match[str]) -> str:  # code is left exactly as written
        code.append(match.group(1))
        return f"\x00{len(code) - 1}\x00"

    text = _FENCE.sub(keep, markdown)
    text = _CODE.sub(keep, text)
    text = _BULLET.sub(r"\1• ", text)
    text = _LINK.sub(r"\1 (\2)", text)
    if style == "whatsapp":
        text = _ITALIC.sub(r"_\1_", text)  # first: what bold becomes is WhatsApp's *bold*, not italic
        text = _HEADING.sub(r"*\1*", text)
        text = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", text)
        text = _STRIKE.sub(r"~\1~", text)
        fence = "```"
    else:
        text = _HEADING.sub(r"\1", text)
        text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
        text = _ITALIC.sub(r"\1", text)
        text = _STRIKE.sub(r"\1", text)
        fence = ""
    return re.sub(r"\x00(\d+)\x00", lambda m: f"{fence}{code[int(m.group(1))]}{fence}", text).strip()


def _telegram(markdown: str) -> str:
    code: list[str] = []

    def keep(tag: str) -> Callable[[re.Match[str]], str]:
        def put(match: re.Match[str]) -> str:
            code.append(f"<{tag}>{html.escape(match.group(1))}</{tag}>")
            return f"\x00{len(code) - 1}\x00"

        return put

    text = _FENCE.sub(keep("pre"), markdown)
    text = _CODE.sub(keep("code"), text)
    text = html.escape(text, quote=False)
    text = _BULLET.sub(r"\1• ", text)
    # the text is escaped already (& is &amp;); a quote would end the attribute
    text = _LINK.sub(lambda m: f'<a href="{m.group(2).replace(chr(34), "%22")}">{m.group(1)}</a>', text)
    text = _HEADING.sub(r"<b>\1</b>", text)
    text = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", text)
    text = _ITALIC.sub(r"<i>\1</i>", text)
    text = _STRIKE.sub(r"<s>\1</s>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: code[int(m.group(1))], text).strip()


def split(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut where a reader would least notice."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = _last_cut(window, limit)
        part, text = text[:cut].rstrip(), text[cut:].lstrip()
        if part:
            parts.append(part)
    if text:
        parts.append(text)
    return parts


def _last_cut(window: str, limit: int) -> int:
    """Where to cut ``window`` (``limit`` + 1 characters): after the last paragraph, line, sentence or
    word boundary in its second half, else at the limit."""
    floor = limit // 2
    for boundary in ("\n\n", "\n", ". ", "! ", "? ", " "):
        at = window.rfind(boundary, floor, limit + 1)
        if at > 0:
            return at + len(boundary.rstrip(" ")) if boundary.strip() else at
    return limit

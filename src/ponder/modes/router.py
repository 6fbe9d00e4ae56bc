"""Auto mode: a cheap router that picks instant, thinking or contemplating for each turn, and says why.

The router reads only the request (no model call, microseconds): a voice turn or an attachment-only turn
wants the fastest answer; a short factual question needs no reasoning; a word problem with numbers gains
from reasoning, and a long multi-step one from several independent attempts and a vote; an open question
that asks for explanation or analysis gains from reasoning. The choice and its reason go into the result
(``details["router"]``). An explicit ``--mode`` bypasses the router. The conversation runner
(``ponder.conversation``) calls ``route`` once per auto turn, and the turn's price comes from that pick;
``AutoMode`` runs the same pick as a mode, for code that runs modes without the runner.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ponder.messages import AudioPart, Event, ImagePart, Message, ResponseDone, TextPart
from ponder.models.base import Model, ModelSettings
from ponder.modes.base import Mode

if TYPE_CHECKING:
    from ponder.modes.registry import ReasoningMode

__all__ = ["AutoMode", "route"]

_MATH = re.compile(
    r"\b(how (many|much|long|far|old)|total|calculate|compute|solve|percent|average|ratio|per|each|"
    r"cost|price|sum|profit|difference|twice|half|times)\b|%|\$",
    re.IGNORECASE,
)
_NUMBER_WORDS = re.compile(
    r"\b(half|twice|double|triple|third|quarter|dozen|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"hundred|thousand)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(why|explain|prove|step by step|compare|pros and cons|trade-?offs?|plan|design|analy[sz]e|"
    r"derive|evaluate|what would happen|should i)\b",
    re.IGNORECASE,
)


def route(messages: Sequence[Message]) -> tuple[ReasoningMode, str]:
    """(mode, reason) for the last user message."""
    last = messages[-1] if messages else Message.user("")
    if any(isinstance(p, AudioPart) or (isinstance(p, TextPart) and p.origin == "audio") for p in last.parts):
        return "instant", "a voice turn: the fastest answer"
    # What the person asked: typed text, not the text perception extracted from an image.
    text = "".join(p.text for p in last.parts if isinstance(p, TextPart) and p.origin is None)
    image = any(
        isinstance(p, ImagePart) or (isinstance(p, TextPart) and p.origin == "image") for p in last.parts
    )
    words = len(text.split())
    numbers = len(re.findall(r"\d+(?:[.,]\d+)?", text)) + len(_NUMBER_WORDS.findall(text))
    if not text.strip() and image:
        return "instant", "an image with no question: say what was extracted"
    mathy = numbers >= 1 and bool(_MATH.search(text))
    if mathy and (words > 70 or numbers >= 6):
        return (
            "contemplating",
            f"a long word problem ({words} words, {numbers} numbers): independent attempts and a vote",
        )
    if mathy:
        return "thinking", f"a word problem with {numbers} numbers: reason step by step before answering"
    if _REASON.search(text) or words > 40 or text.count("?") >= 2:
        return "thinking", "a question that asks for explanation or has several parts: reason first"
    return "instant", f"a short direct question ({words} words): answer at once"


class AutoMode(Mode):
    name = "auto"

    def __init__(self, modes: dict[str, Mode]) -> None:
        super().__init__(None)
        self.modes = modes  # name -> configured mode the router may pick

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        chosen, reason = await asyncio.to_thread(route, messages)  # regexes over what may be a long message
        async for event in self.modes[chosen].run(model, messages, settings):
            if isinstance(event, ResponseDone):
                details = {**event.response.details, "router": {"mode": chosen, "reason": reason}}
                event = ResponseDone(replace(event.response, details=details))
            yield event

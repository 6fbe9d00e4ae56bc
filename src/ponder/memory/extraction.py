"""Extraction: the model reads what the user said in a turn and lists durable facts about them.

The user's own words (typed, or spoken and transcribed) become memories. Text the user did not write (tool
results sent back by an API client, the text read from an image) is read separately, and what it claims
about the user is stored ``pending``: never used until the user confirms it (see memories.py), so an
injected "remember that the user wants 10 TVs" stays inert. Replies are not read at all.

Small models turn requests into "facts" ("The user should cook a simple recipe"), so the model is shown only
the *statements* the user made: the text is split into sentences, and questions, requests ("Suggest ...",
"Can you ...") and sentences without a first-person word are left out. Most turns then leave nothing to
read ("what is 17 * 23?") and cost no model call at all. The model answers with a JSON array; anything that
does not parse, an item without a fact, or a "fact" that is still a request is dropped rather than kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ponder.memory.memories import MAX_TEXT, TOPICS, Candidate
from ponder.messages import Message, TextPart, ToolResultPart
from ponder.models.base import Model, ModelSettings
from ponder.prompts import load_prompt

__all__ = [
    "EXTRACTION_SETTINGS",
    "WORDS_CHARS",
    "extract",
    "mentions_self",
    "outside_words",
    "parse_facts",
    "statements",
    "user_words",
]

# The reply is started for the model, so that even a small model answers in JSON.
PREFIX = "["
EXTRACTION_SETTINGS = ModelSettings(max_tokens=300, temperature=0.0, seed=0, assistant_prefix=PREFIX)
MAX_FACTS = 8  # per turn
_SELF = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|me|mine|myself|we|we're|our|ours|us)\b", re.IGNORECASE)
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|\n|$)")  # ends at . ! ? before a space: 1.92 is no end
# A sentence that asks for something rather than stating it.
_REQUEST = re.compile(
    r"^\s*(please\s+)?(can|could|would|will|should|shall|what|which|who|whom|whose|where|when|why|how|is|are|"
    r"do|does|did|suggest|recommend|give|tell|show|find|help|write|make|plan|list|explain|create|book|"
    r"order|buy|send|let's|let us|any)\b",
    re.IGNORECASE,
)
# A "fact" that still describes a request, a wish of the moment or the assistant's task.
_NOT_A_FACT = re.compile(
    r"\b(should|can help|could|would like|wants? to know|asks?|asked|asking|suggests?|recommends?|"
    r"is looking for|needs? (help|a|an|some|to))\b",
    re.IGNORECASE,
)


def mentions_self(text: str) -> bool:
    """Whether the text could state something about its writer (a first-person word)."""
    return bool(_SELF.search(text))


def statements(text: str) -> str:
    """The sentences of ``text`` that state something in the first person (no questions, no requests)."""
    kept = []
    for sentence in _SENTENCE.findall(text):
        sentence = sentence.strip()
        if sentence.endswith("?") or _REQUEST.match(sentence) or not mentions_self(sentence):
            continue
        kept.append(sentence)
    return " ".join(kept)


WORDS_CHARS = 8_000  # what learning and recall read of a turn: its newest words, about 2,000 tokens


def outside_words(messages: Sequence[Message], max_chars: int = WORDS_CHARS) -> str:
    """Text in these messages that the user did not write (tool results, and text read from images): the
    newest ``max_chars`` of it."""
    return _newest(
        (
            part.content if isinstance(part, ToolResultPart) else part.text
            for message in reversed(messages)
            for part in reversed(message.parts)
            if isinstance(part, ToolResultPart) or (isinstance(part, TextPart) and part.origin == "image")
        ),
        max_chars,
    )


def user_words(messages: Sequence[Message], max_chars: int = WORDS_CHARS) -> str:
    """What the user said in these messages (their typed and spoken text, not text read from images): the
    newest ``max_chars`` of it. A turn may resend a conversation of thousands of messages; learning and
    recall are about what was said last, and the extraction prompt must fit a small model's context."""
    return _newest(
        (
            part.text
            for message in reversed(messages)
            if message.role == "user"
            for part in reversed(message.parts)
            if isinstance(part, TextPart) and part.origin in (None, "audio")
        ),
        max_chars,
    )


def _newest(texts_newest_first: Iterable[str], max_chars: int) -> str:
    """The texts in their order, one a line, the oldest left out past ``max_chars`` (the newest one is cut
    to its end if it alone is longer)."""
    kept: list[str] = []
    room = max_chars
    for text in texts_newest_first:
        if not text.strip():
            continue
        if len(text) > room:
            if not kept:
                kept.append(text[-max_chars:])
            break
        kept.append(text)
        room -= len(text) + 1
    return "\n".join(reversed(kept))


async def extract(model: Model, text: str) -> list[Candidate]:
    """The facts about the user that ``text`` states (an empty list when it states none)."""
    stated = await asyncio.to_thread(statements, text)  # regexes over what may be a long conversation
    return await extract_stated(model, stated)


async def extract_stated(model: Model, text: str) -> list[Candidate]:
    """``extract`` of what ``statements`` kept of a text: no model call when it kept nothing."""
    if not text:
        return []
    prompt = [
        Message.system(load_prompt("memory_extract")),
        Message.user(f"The user said: {json.dumps(text.strip(), ensure_ascii=False)}\nAnswer:"),
    ]
    response = await model.request(prompt, EXTRACTION_SETTINGS)
    return parse_facts(PREFIX + response.message.text)


def parse_facts(reply: str) -> list[Candidate]:
    match = _ARRAY.search(reply)
    if match is None:
        return []
    try:
        items: Any = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    facts: list[Candidate] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        fact = item.get("fact")
        if not isinstance(fact, str) or not fact.strip() or len(fact) > MAX_TEXT or _NOT_A_FACT.search(fact):
            continue
        topic = item.get("topic") if item.get("topic") in TOPICS else "other"
        slot = item.get("slot") if isinstance(item.get("slot"), str) else ""
        facts.append(Candidate(" ".join(fact.split()), str(topic), str(slot)[:60]))
    return facts[:MAX_FACTS]

"""Messages, their typed parts, usage figures and stream events.

A conversation is a list of ``Message``; a message is a role plus parts. Parts and events are small
frozen dataclasses tagged by a ``kind`` literal, so they serialise to JSON without ceremony and a reader
can dispatch on ``kind``. The tags are public: do not rename them.

This module holds data only. It does not render prompts (each backend does) and it does not decode
images or audio (perception does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "AgentEvent",
    "AudioPart",
    "ChoiceDelta",
    "Event",
    "FinishReason",
    "ImagePart",
    "Message",
    "ModelResponse",
    "Origin",
    "Part",
    "PerceptionEvent",
    "ReasoningDelta",
    "ReasoningPart",
    "ResponseDone",
    "Role",
    "TextDelta",
    "TextPart",
    "TokenLogprobs",
    "ToolCallEvent",
    "ToolCallPart",
    "ToolResultEvent",
    "ToolResultPart",
    "Usage",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "cancelled"]


Origin: TypeAlias = Literal["audio", "image"]


@dataclass(frozen=True)
class TextPart:
    text: str
    # Where perception got this text from: "audio" for a transcript, "image" for the visual context
    # extracted from an image. None for text a person typed.
    origin: Origin | None = None
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ImagePart:
    """Raw image bytes as given; perception decodes, validates and downscales them."""

    data: bytes
    media_type: str  # e.g. "image/png"
    kind: Literal["image"] = "image"


@dataclass(frozen=True)
class AudioPart:
    """Raw audio bytes as given; perception decodes and transcribes them."""

    data: bytes
    media_type: str  # e.g. "audio/wav"
    kind: Literal["audio"] = "audio"


@dataclass(frozen=True)
class ToolCallPart:
    call_id: str
    name: str
    arguments: dict[str, Any]
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class ToolResultPart:
    call_id: str
    name: str
    content: str
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True)
class ReasoningPart:
    text: str
    kind: Literal["reasoning"] = "reasoning"


Part: TypeAlias = TextPart | ImagePart | AudioPart | ToolCallPart | ToolResultPart | ReasoningPart


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", (TextPart(text),))

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", (TextPart(text),))

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls("assistant", (TextPart(text),))

    @property
    def text(self) -> str:
        """The concatenated text parts (reasoning, tool calls and media are left out)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def reasoning(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]


@dataclass
class Usage:
    """Token counts and timings of one model response (or the sum over several)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0  # every generated token, reasoning included
    reasoning_tokens: int = 0
    time_to_first_token_s: float | None = None
    total_time_s: float = 0.0
    decode_time_s: float = 0.0  # from the first generated token to the last

    @property
    def answer_tokens(self) -> int:
        return self.completion_tokens - self.reasoning_tokens

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed: tokens after the first, over the time they took."""
        if self.completion_tokens < 2 or self.decode_time_s <= 0:
            return None
        return (self.completion_tokens - 1) / self.decode_time_s

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answer_tokens"] = self.answer_tokens
        data["tokens_per_second"] = self.tokens_per_second
        return data


@dataclass(frozen=True)
class ModelResponse:
    message: Message
    usage: Usage
    model: str
    finish_reason: FinishReason = "stop"
    # What the mode that produced it reports: the router's choice, sub-agents, votes, compression.
    details: dict[str, Any] = field(default_factory=dict)


# --- stream events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True)
class ReasoningDelta:
    text: str
    kind: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(frozen=True)
class ToolCallEvent:
    """The model called a tool; ``agent`` names the Contemplating sub-agent that did."""

    call: ToolCallPart
    agent: int | None = None
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class ToolResultEvent:
    """A tool call of the turn has run; ``agent`` names the Contemplating sub-agent that made it."""

    result: ToolResultPart
    agent: int | None = None
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True)
class AgentEvent:
    """Progress of one sub-agent of a Contemplating turn."""

    agent: int
    status: Literal["started", "progress", "finished", "failed", "halted"]
    tokens: int = 0
    answer: str | None = None  # its final answer, once it has one
    detail: str = ""  # the angle it takes, or why it failed
    kind: Literal["agent"] = "agent"


@dataclass(frozen=True)
class TokenLogprobs:
    """The log probabilities of answer tokens just generated, when a request asked for them (OpenAI's
    ``logprobs``): OpenAI's entries (token, logprob, bytes, top_logprobs), in order."""

    entries: tuple[dict[str, Any], ...]
    kind: Literal["token_logprobs"] = "token_logprobs"


@dataclass(frozen=True)
class ChoiceDelta:
    """Text of an extra answer of a turn that asked for several (``n``): choice ``index`` (1 and up; the
    first answer streams as ``TextDelta``)."""

    index: int
    text: str
    kind: Literal["choice_delta"] = "choice_delta"


@dataclass(frozen=True)
class PerceptionEvent:
    """Perception has read one image or audio part of the turn, before the model runs.

    ``report`` is what the result's ``details["perception"]`` lists for it: the path that ran (native
    vision, OCR and image analysis, or which speech recogniser), the transcript or the lines read, timings.
    """

    report: dict[str, Any]
    kind: Literal["perception"] = "perception"


@dataclass(frozen=True)
class ResponseDone:
    """The last event of every stream: the whole response, with usage."""

    response: ModelResponse
    kind: Literal["done"] = "done"


Event: TypeAlias = (
    TextDelta
    | ReasoningDelta
    | ToolCallEvent
    | ToolResultEvent
    | AgentEvent
    | ChoiceDelta
    | TokenLogprobs
    | PerceptionEvent
    | ResponseDone
)

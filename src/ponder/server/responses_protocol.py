"""The Responses API's request (``POST /v1/responses``), as pydantic models.

Strict like the chat request (protocol.py): an unknown field is a 400 naming it. The items a client sends
back from earlier responses (assistant messages with ``output_text``, ``function_call`` and ``reasoning``
items, with their ids and statuses) are accepted as the SDKs send them. Types Ponder does not serve (hosted
tools, files by id, item references) parse here and are refused by the serving module with a 400 naming them,
so the message says what is unsupported rather than what did not match. The response objects and stream
events are built as dicts in server/responses.py, in the shapes of the ``openai`` SDK's
``types/responses``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ponder.modes.registry import ModeChoice

__all__ = [
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputAudioPart",
    "InputImagePart",
    "InputItem",
    "InputMessage",
    "InputTextPart",
    "ResponsesRequest",
    "request_schema",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputTextPart(_Strict):
    type: Literal["input_text"]
    text: str


class InputImagePart(_Strict):
    type: Literal["input_image"]
    image_url: str | None = Field(
        default=None, description="A data URI, or an http(s) URL the server fetches ([server] image_urls)."
    )
    file_id: str | None = Field(default=None, description="Not supported (a 400): send image_url.")
    detail: Literal["auto", "low", "high", "original"] | None = None


class InputAudioData(_Strict):
    data: str = Field(description="Base64-encoded audio.")
    format: Literal["wav", "mp3", "flac", "ogg", "opus", "m4a", "mp4", "aac", "webm"]


class InputAudioPart(_Strict):
    type: Literal["input_audio"]
    input_audio: InputAudioData


class InputFilePart(_Strict):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputTextPart(_Strict):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class RefusalPart(_Strict):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    InputTextPart | InputImagePart | InputAudioPart | InputFilePart | OutputTextPart | RefusalPart,
    Field(discriminator="type"),
]


class InputMessage(_Strict):
    """A message: the easy form (``{"role", "content"}``) or an item (``type: message``, with an id and a
    status when an assistant message is sent back)."""

    type: Literal["message"] | None = None
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[ContentPart]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCallItem(_Strict):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str = Field(description="The arguments as a JSON object, encoded as a string.")
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputItem(_Strict):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[ContentPart] = Field(description="The result: text (input_text parts are joined).")
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class ReasoningItem(_Strict):
    """An earlier response's reasoning, sent back: accepted and dropped (as chat drops reasoning_content)."""

    type: Literal["reasoning"]
    id: str | None = None
    summary: list[dict[str, Any]] = Field(default_factory=list)
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class OtherItem(BaseModel):
    """Any other item type (item_reference, computer_call, ...): refused with a 400 naming it."""

    model_config = ConfigDict(extra="allow")
    type: str


def _item_tag(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "message")
    kind = kind or "message"
    return kind if kind in ("message", "function_call", "function_call_output", "reasoning") else "other"


InputItem = Annotated[
    Annotated[InputMessage, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_tag),
]


class JsonSchemaTextFormat(_Strict):
    type: Literal["json_schema"]
    name: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class PlainTextFormat(_Strict):
    type: Literal["text"]


class JsonObjectTextFormat(_Strict):
    type: Literal["json_object"]


TextFormat = Annotated[
    PlainTextFormat | JsonObjectTextFormat | JsonSchemaTextFormat, Field(discriminator="type")
]


class TextConfig(_Strict):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = Field(default=None, description="Accepted; unused.")


class ReasoningConfig(_Strict):
    effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        default=None, description="Thinking's budget, as chat's reasoning_effort (minimal: as low)."
    )
    summary: Literal["auto", "concise", "detailed"] | None = Field(
        default=None, description="Accepted: the reasoning comes back whole as the reasoning item's summary."
    )
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(_Strict):
    include_obfuscation: bool | None = None


class ResponsesRequest(_Strict):
    model: str = Field(
        description="ponder-instant, ponder-thinking, ponder-contemplating, ponder-auto, or a model from GET "
        "/v1/models (then `mode` or `reasoning.effort` picks the mode)."
    )
    input: str | list[InputItem] = Field(
        description="Text, or items: messages (input_text, input_image, input_audio; output_text for the "
        "assistant), function_call and function_call_output."
    )
    instructions: str | None = Field(default=None, description="A system message for this turn only.")
    tools: list[dict[str, Any]] | None = Field(
        default=None,
        description="Function tools ({type: function, name, description, parameters, strict}); hosted tools "
        "(web_search, file_search, ...) are a 400.",
    )
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = Field(
        default=None, description="none, auto, required, or {type: function, name}."
    )
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    previous_response_id: str | None = Field(
        default=None, max_length=128, description="Continue the conversation of a stored response."
    )
    store: bool | None = Field(
        default=None, description="Default true: the turn is stored, retrievable and can be continued."
    )
    metadata: dict[str, str] | None = Field(default=None, description="Kept with the stored response.")
    user: str | None = Field(default=None, max_length=256, description="The end user, within your account.")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    truncation: Literal["auto", "disabled"] | None = Field(
        default=None, description="Accepted: a long history is always fitted to the context (as sessions do)."
    )
    include: list[str] | None = Field(
        default=None,
        description="message.output_text.logprobs: the answer's tokens with their log probabilities (as "
        "chat's logprobs); other values are accepted and include nothing more.",
    )
    top_logprobs: int | None = Field(
        default=None,
        ge=0,
        le=20,
        description="With include message.output_text.logprobs: alternatives a token.",
    )
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    safety_identifier: str | None = Field(default=None, max_length=256, description="Accepted; unused.")
    prompt_cache_key: str | None = Field(default=None, max_length=256, description="Accepted; unused.")
    background: bool | None = Field(default=None, description="Only false: background mode is a 400.")
    # Ponder's own fields
    mode: ModeChoice | None = Field(default=None, description="A reasoning mode (as on chat completions).")
    agents: int | None = Field(default=None, ge=1, le=16, description="Contemplating's sub-agents.")
    budget: int | None = Field(default=None, ge=1, description="Reasoning tokens (per sub-agent).")


def request_schema(models: list[str]) -> dict[str, Any]:
    """The request's JSON schema for /openapi.json, self-contained (its definitions inlined), with the
    models every server answers to (``models``: the mode models)."""
    schema = ResponsesRequest.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    inlined["properties"]["model"]["enum"] = models
    return inlined

"""The OpenAI chat-completions wire format, as pydantic models: what clients send and what they get back.

Request models are strict (an unknown field is a 400 naming it, as OpenAI does), so a typo in a client is not
silently ignored. Ponder's own request fields are ``mode``, ``preset``, ``agents``, ``budget`` and
``progress``; the mode names come from the mode registry (``ponder.modes.registry``).
Response models document the API (``/openapi.json``); the handlers build the same shapes as dicts, which is
faster than validating what the server itself produced.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.modes.registry import ModeChoice, PresetName

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "ErrorResponse",
    "ModelList",
]

# --- request ------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextContent(_Strict):
    type: Literal["text"]
    text: str


class ImageUrl(_Strict):
    url: str = Field(
        description="A data URI (data:image/png;base64,...), or an http(s) URL the server fetches (public "
        "addresses only by default: [server] image_urls)."
    )
    detail: Literal["auto", "low", "high"] | None = None


class ImageContent(_Strict):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(_Strict):
    data: str = Field(description="Base64-encoded audio.")
    format: Literal["wav", "mp3", "flac", "ogg", "opus", "m4a", "mp4", "aac", "webm"] = Field(
        description="The container; Ponder reads the real format from the bytes."
    )


class AudioContent(_Strict):
    type: Literal["input_audio"]
    input_audio: InputAudio


UserContentPart = Annotated[TextContent | ImageContent | AudioContent, Field(discriminator="type")]


class SystemMessage(_Strict):
    role: Literal["system", "developer"]
    content: str | list[TextContent]
    name: str | None = None


class UserMessage(_Strict):
    role: Literal["user"]
    content: str | list[UserContentPart]
    name: str | None = None


class FunctionCall(_Strict):
    name: str
    arguments: str = Field(description="The arguments as a JSON object, encoded as a string.")


class ToolCall(_Strict):
    id: str
    type: Literal["function"]
    function: FunctionCall


class AssistantMessage(_Strict):
    role: Literal["assistant"]
    content: str | list[TextContent] | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None  # accepted and dropped: earlier reasoning is not sent back
    refusal: str | None = None
    name: str | None = None


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: str | list[TextContent]
    tool_call_id: str


ChatMessage = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDefinition(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Strict):
    name: str


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Strict):
    include_usage: bool | None = None


class TextFormat(_Strict):
    type: Literal["text"]


class JsonObjectFormat(_Strict):
    type: Literal["json_object"]


class JsonSchemaSpec(_Strict):
    name: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(_Strict):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class ChatCompletionRequest(_Strict):
    model: str = Field(
        description="A mode on the default model (ponder-instant, ponder-thinking, ponder-contemplating, "
        "ponder-auto; ponder-shopping: the shopping preset, under `mode` or auto) or a model from GET "
        "/v1/models (then `mode` or `reasoning_effort` picks the mode)."
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = Field(
        default=None,
        description="On a model from /v1/models: Thinking with the low, medium or high budget (minimal: low; "
        "xhigh and max: high); none: Instant, no reasoning.",
    )
    user: str | None = Field(default=None, max_length=256, description="The end user, within your account.")
    n: int | None = Field(
        default=None,
        ge=1,
        le=8,
        description="Answers to sample (up to 8): in the Instant mode (auto picks it), without tools, "
        "structured output or a preset; on the embedded engine the rows of one batch over the shared prompt.",
    )
    frequency_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, description="Lowers a token's logit by this times its count so far."
    )
    presence_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, description="Lowers a token's logit by this once it has appeared."
    )
    logit_bias: dict[str, float] | None = Field(
        default=None,
        description="Token id (as a string, in the model's own vocabulary) -> a bias from -100 to 100 added "
        "to its logit: -100 bans the token, 100 all but forces it.",
    )
    logprobs: bool | None = Field(
        default=None,
        description="Return each answer token's log probability (real values from the embedded engine, "
        "passed through from an OpenAI-compatible one). Streaming: token by token (an OpenAI-compatible "
        "server's: on the chunk that finishes the answer).",
    )
    top_logprobs: int | None = Field(
        default=None, ge=0, le=20, description="With logprobs: the most likely tokens at each step, up to 20."
    )
    metadata: dict[str, str] | None = Field(
        default=None, description="Accepted for OpenAI clients; Ponder keeps no per-request metadata."
    )
    store: bool | None = Field(
        default=None,
        description="Accepted for OpenAI clients; a turn is stored when it has a session (session_id).",
    )
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = Field(
        default=None, description="Accepted; every request is served the same way (answered as 'default')."
    )
    prediction: dict[str, Any] | None = Field(
        default=None, description="Predicted output: accepted, and not used to speed up decoding."
    )
    modalities: list[str] | None = Field(
        default=None, description="Only ['text']: audio output is not supported (a 400 says so)."
    )
    audio: dict[str, Any] | None = Field(default=None, description="Audio output is not supported (a 400).")
    prompt_cache_key: str | None = Field(
        default=None, max_length=256, description="Accepted: Ponder keeps every prompt's prefix by itself."
    )
    prompt_cache_retention: str | None = Field(default=None, description="Accepted, as prompt_cache_key.")
    prompt_cache_options: dict[str, Any] | None = Field(
        default=None, description="Accepted, as prompt_cache_key."
    )
    safety_identifier: str | None = Field(
        default=None, max_length=256, description="Accepted; `user` names the end user within your account."
    )
    verbosity: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Accepted; say how long an answer should be in the messages."
    )
    web_search_options: dict[str, Any] | None = Field(
        default=None, description="Web search is not supported (a 400); give the model an MCP tool instead."
    )
    response_format: ResponseFormat | None = Field(
        default=None,
        description="json_object: the reply is one JSON object; json_schema: one JSON value matching the "
        "schema (generated under a grammar on the embedded engine, so it always parses and validates).",
    )
    # Ponder's own fields
    mode: ModeChoice | None = Field(
        default=None, description="A reasoning mode; shopping: auto under the shopping preset."
    )
    preset: PresetName | None = Field(
        default=None, description="Run the mode under a preset: shopping (the store's tools and policy)."
    )
    agents: int | None = Field(default=None, ge=1, le=16, description="Contemplating's sub-agents.")
    budget: int | None = Field(default=None, ge=1, description="Reasoning tokens (per sub-agent).")
    progress: bool | None = Field(
        default=None,
        description="Streaming: also send chunks with no choices and a `ponder` field for sub-agent and "
        "tool progress.",
    )
    session_id: str | None = Field(
        default=None,
        max_length=128,
        description="Store the turn in this session of the user (also the X-Ponder-Session header); with "
        "it, send only the new turn or the whole history: what is already stored is not stored twice.",
    )
    project: str | None = Field(
        default=None, max_length=128, description="The user's project: its memories are kept apart."
    )
    memory: bool | None = Field(
        default=None, description="false: neither recall nor learn facts about the user in this turn."
    )


# --- responses ----------------------------------------------------------------------------------------


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails
    ponder: dict[str, Any] = Field(
        description="Ponder's figures: mode, router, time to first token, total time, sub-agents."
    )


class ResponseToolCall(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ResponseMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None
    reasoning_content: str | None = None
    tool_calls: list[ResponseToolCall] | None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None
    refusal: None = None


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop", "length", "tool_calls"] | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion (``data: {...}``; the stream ends ``data: [DONE]``)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    ponder: dict[str, Any] | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    ponder: dict[str, Any]


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorBody

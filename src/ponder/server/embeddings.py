"""``POST /v1/embeddings``: text embeddings in OpenAI's shape, on the server's embedding model.

The model is the one memory recall and the catalog use (``ServerState.memory.embedder``: E5,
multilingual-e5-small, 384 dimensions, unless another embedder was given to ``create_app``); clients name it
``multilingual-e5-small``. Every text is embedded with E5's ``query: `` prefix, the one E5 recommends for
symmetric use (similarity, clustering, and retrieval where documents and queries are embedded alike, as
OpenAI clients do): a client that stores documents and later searches them gets vectors of one kind.
Vectors are L2-normalised, so a dot product is the cosine similarity.

The request: ``input`` (a string or an array of strings; arrays of token ids are refused with a 400, since
they are another tokenizer's ids), ``model``, ``encoding_format`` (``float``, the default, or ``base64``:
the little-endian float32 bytes of each vector), ``dimensions`` (only the model's own, 384) and ``user``
(accepted; nothing is stored). At most ``MAX_INPUTS`` inputs and the server's ``max_request_chars``
characters in all (400 beyond); a body with more than ``max_json_values`` JSON values is refused (413)
before it is parsed. A long text is not cut: the engine reads it in windows of 512 tokens.

Key, limits and usage are those of chat completions (server/auth.py): the key's lookup (401), the body
(400, still one request of the key's limit), the price (429; ``prices.embeddings`` of the tier, 1 unless
set), one of the key's turn slots for the work (503/429), and the tokens the model read, times the same
price, counted toward the key's day. The request's texts are embedded in one call (the engine batches
them) in a worker thread, and the response rendered there too: nothing heavy runs on the event loop.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ponder.errors import PonderError
from ponder.memory.embeddings import Embedder
from ponder.server.auth import admit, authenticate
from ponder.server.chat import in_thread, validation_message
from ponder.server.errors import ApiError, from_ponder_error
from ponder.server.shape import scan_body
from ponder.server.state import ServerState
from ponder.sharing import breathing

__all__ = [
    "EMBEDDING_MODEL",
    "MAX_INPUTS",
    "PRICE_NAME",
    "EmbeddingList",
    "EmbeddingRequest",
    "create_embeddings",
]

EMBEDDING_MODEL = "multilingual-e5-small"  # the id clients name for the server's embedding model
MAX_INPUTS = 2048  # inputs in one request, as OpenAI allows
PRICE_NAME = "embeddings"  # its price in a tier's ``prices`` (requests per call, and per token of the day)


class EmbeddingRequest(BaseModel):
    """What a client sends (strict: an unknown field is a 400 naming it)."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="The text to embed, or an array of texts (at most 2048, none empty). Arrays of token "
        "ids are refused: the model has its own tokenizer."
    )
    model: str = Field(description=f"The embedding model: {EMBEDDING_MODEL}.")
    encoding_format: Literal["float", "base64"] | None = Field(
        default=None,
        description="float (the default): arrays of numbers; base64: each vector's little-endian float32 "
        "bytes, base64-encoded.",
    )
    dimensions: int | None = Field(default=None, description="Only the model's own: 384.")
    user: str | None = Field(default=None, max_length=256, description="The end user; nothing is stored.")


class Embedding(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


def request_schema() -> dict[str, Any]:
    """The request's JSON schema for /openapi.json, with the one model this server answers to."""
    schema = EmbeddingRequest.model_json_schema()
    schema["properties"]["model"]["enum"] = [EMBEDDING_MODEL]
    return schema


@dataclass(frozen=True)
class _Embedded:
    body: bytes  # the response, rendered
    tokens: int  # what the model read


async def create_embeddings(state: ServerState, request: Request) -> Response:
    body = await request.body()
    principal = await authenticate(state, request.headers.get("authorization"))
    request.scope["state"]["account"] = principal.account
    price = principal.tier.price(PRICE_NAME)
    try:
        parsed = await in_thread(state, len(body), _parse, state, body)
    except ApiError:
        await admit(state, principal, price)  # a failed request still counts (and a 429 wins over the 400)
        raise
    headers = await admit(state, principal, price)
    texts, fmt = parsed
    async with state.turn_slot(principal.key_id):
        try:
            embedder = state.memory.embedder
            done = await in_thread(state, len(body), _embed, embedder, texts, fmt)
        except PonderError as err:
            raise from_ponder_error(err) from err
    await state.limiter.charge_tokens(
        principal.key_id, round(done.tokens * principal.tier.token_price(PRICE_NAME))
    )
    state.metrics.tokens.labels("embedding").inc(done.tokens)
    return Response(done.body, media_type="application/json", headers=headers)


def _parse(state: ServerState, body: bytes) -> tuple[list[str], str]:
    """(texts, encoding format) of a valid request; every problem is an ApiError (400, 404, 413)."""
    caps = state.settings.server
    scan_body(body, caps)  # 413 past max_json_values, before the parser holds the interpreter
    try:
        request = EmbeddingRequest.model_validate_json(body)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        if first["loc"][:1] == ("input",) and first["type"] != "missing":  # not each member of the union
            raise ApiError(400, "input must be a text or an array of texts.", param="input") from None
        message, param = validation_message(err)
        raise ApiError(400, message, param=param) from None
    if request.model != EMBEDDING_MODEL:
        raise ApiError(
            404,
            f"The embedding model '{request.model}' does not exist here: use '{EMBEDDING_MODEL}'.",
            code="model_not_found",
            param="model",
        )
    dim = state.memory.embedder.dim
    if request.dimensions is not None and request.dimensions != dim:
        raise ApiError(
            400,
            f"dimensions {request.dimensions} is not supported: {EMBEDDING_MODEL} gives {dim} dimensions "
            f"only (send {dim}, or leave dimensions out).",
            code="unsupported_dimensions",
            param="dimensions",
        )
    return _texts(request.input, caps.max_request_chars), request.encoding_format or "float"


def _texts(given: str | list[str] | list[int] | list[list[int]], max_chars: int) -> list[str]:
    """The texts to embed, checked: no token ids, none empty, at most MAX_INPUTS and ``max_chars``."""
    texts = [given] if isinstance(given, str) else given
    if not texts:
        raise ApiError(400, "input is empty: send a text or an array of texts.", param="input")
    if not all(isinstance(text, str) for text in texts):
        raise ApiError(
            400,
            "input as token ids is not supported: the embedding model has its own tokenizer, so send the "
            "text itself (LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False).",
            code="unsupported_input",
            param="input",
        )
    strings: list[str] = [text for text in texts if isinstance(text, str)]
    if len(strings) > MAX_INPUTS:
        raise ApiError(
            400,
            f"input has {len(strings)} texts; one request takes at most {MAX_INPUTS}.",
            code="too_many_inputs",
            param="input",
        )
    for index, text in enumerate(strings):
        if not text:
            where = "input" if isinstance(given, str) else f"input[{index}]"
            raise ApiError(400, f"{where} is an empty string: every text must have content.", param="input")
    total = sum(len(text) for text in strings)
    if total > max_chars:
        raise ApiError(
            400,
            f"input holds {total:,} characters; one request takes at most {max_chars:,} (the server's "
            "max_request_chars): send fewer texts at a time.",
            code="input_too_large",
            param="input",
        )
    return strings


def _embed(embedder: Embedder, texts: Sequence[str], fmt: str) -> _Embedded:
    """One call of the embedder (``query``: E5's ``query:`` prefix) and the response it makes, rendered."""
    vectors = np.asarray(embedder.query(texts), dtype=np.float32)
    if vectors.shape != (len(texts), embedder.dim) or not np.isfinite(vectors).all():
        raise ApiError(
            500,
            "The embedding model returned vectors of the wrong shape or non-finite values.",
            "server_error",
        )
    tokens = _count_tokens(embedder, texts)
    if fmt == "base64":
        little = vectors.astype("<f4", copy=False)
        items = ['"' + base64.b64encode(row.tobytes()).decode("ascii") + '"' for row in breathing(little)]
    else:  # each float32's shortest decimal form: it reads back as the same float32
        items = ["[" + ",".join(map(str, row)) + "]" for row in breathing(vectors)]
    data = ",".join(
        f'{{"object":"embedding","index":{index},"embedding":{item}}}' for index, item in enumerate(items)
    )
    usage = f'{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}'
    body = f'{{"object":"list","data":[{data}],"model":"{EMBEDDING_MODEL}","usage":{usage}}}'
    return _Embedded(body.encode(), tokens)


def _count_tokens(embedder: Embedder, texts: Sequence[str]) -> int:
    """The tokens the model read: its own count where it has one (E5 does), else about 4 bytes a token."""
    count = getattr(embedder, "count_tokens", None)
    if count is not None:
        return int(count(texts))
    return sum(len(text.encode("utf-8", "surrogatepass")) // 4 + 2 for text in texts)

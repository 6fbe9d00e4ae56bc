"""LangChain's ``ChatOpenAI`` and ``OpenAIEmbeddings`` against ``ponder serve``: invoke, stream,
``bind_tools``, ``with_structured_output`` (json_schema, json_mode and function_calling) and embeddings;
the same on its Responses API mode (``use_responses_api``, skipped while the server has none).
"""

from __future__ import annotations

from typing import Any

import pytest

from ponder.server.embeddings import EMBEDDING_MODEL
from ponder.testing import ScriptedModel

from ..conftest import LiveServer
from .conftest import (
    ANSWER,
    DIMENSIONS,
    MODEL,
    PARIS,
    PARIS_JSON,
    SAMPLING,
    THINKING,
    THOUGHT,
    WEATHER_CALL,
    City,
    assert_sampled_as_asked,
    call_offered_tool,
    get_weather,
    offered_tools,
    schema_properties,
)

pytestmark = pytest.mark.integration


def _chat_openai(server: LiveServer) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=MODEL, base_url=server.base_url, api_key=server.keys["big"], max_retries=0)


def test_langchain_invoke_and_stream(start_server) -> None:
    server = start_server(ScriptedModel(["Paris.", ["Par", "is."]]))
    llm = _chat_openai(server)
    message = llm.invoke("Capital of France?")
    assert message.content == "Paris."
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0
    chunks = list(llm.stream("Capital of France?", stream_usage=True))
    assert "".join(str(c.content) for c in chunks) == "Paris."
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["total_tokens"] > 0


def test_langchain_sampling_fields_reach_the_model(start_server) -> None:
    from langchain_openai import ChatOpenAI

    server = start_server(ScriptedModel(["Paris."]))
    llm = ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key=server.keys["big"],
        max_retries=0,
        **SAMPLING,
        seed=7,
        stop=["END"],
        max_tokens=64,
        logprobs=True,
        top_logprobs=2,
    )
    assert llm.invoke("Capital of France?").content == "Paris."
    (call,) = server.model.calls
    assert_sampled_as_asked(call.settings)
    assert (call.settings.seed, call.settings.logprobs) == (7, 2)
    assert "END" in call.settings.stop


def test_langchain_bind_tools_returns_the_tool_call(start_server) -> None:
    from langchain_core.tools import tool

    server = start_server(ScriptedModel([WEATHER_CALL]))
    llm = _chat_openai(server).bind_tools([tool(get_weather)], tool_choice="get_weather")
    message = llm.invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]
    settings = server.model.calls[-1].settings
    assert offered_tools(settings) == ["get_weather"] and settings.tool_choice == "required"


def test_langchain_structured_output_json_schema(start_server) -> None:
    server = start_server(ScriptedModel([PARIS_JSON]))
    llm = _chat_openai(server).with_structured_output(City, method="json_schema")
    assert llm.invoke("Tell me about Paris.") == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


def test_langchain_structured_output_json_mode(start_server) -> None:
    server = start_server(ScriptedModel([PARIS_JSON]))
    llm = _chat_openai(server).with_structured_output(City, method="json_mode")
    assert llm.invoke("Tell me about Paris, in JSON.") == PARIS
    assert server.model.calls[-1].settings.json_schema == {"type": "object"}  # json_object: any object


def test_langchain_structured_output_streamed(start_server) -> None:
    server = start_server(ScriptedModel([[PARIS_JSON[:10], PARIS_JSON[10:]]]))
    llm = _chat_openai(server).with_structured_output(City, method="json_schema")
    assert list(llm.stream("Tell me about Paris."))[-1] == PARIS


def test_langchain_structured_output_function_calling(start_server) -> None:
    server = start_server(ScriptedModel([call_offered_tool(PARIS.model_dump())]))
    llm = _chat_openai(server).with_structured_output(City, method="function_calling")
    assert llm.invoke("Tell me about Paris.") == PARIS
    assert offered_tools(server.model.calls[-1].settings) == ["City"]


def test_langchain_embeddings(start_server) -> None:
    from langchain_openai import OpenAIEmbeddings

    server = start_server()
    embeddings = OpenAIEmbeddings(
        model=EMBEDDING_MODEL,
        base_url=server.base_url,
        api_key=server.keys["big"],
        check_embedding_ctx_length=False,  # send texts, not tiktoken ids of OpenAI's tokenizer
        max_retries=0,
    )
    documents = embeddings.embed_documents(["red running shoes", "a blue wool sweater"])
    assert [len(v) for v in documents] == [DIMENSIONS, DIMENSIONS]
    assert len(embeddings.embed_query("shoes")) == DIMENSIONS


def test_langchain_on_the_responses_api(responses_server) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    server = responses_server(ScriptedModel(["Paris.", WEATHER_CALL, PARIS_JSON]))
    llm = ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key=server.keys["big"],
        max_retries=0,
        use_responses_api=True,
    )
    assert llm.invoke("Capital of France?").text == "Paris."
    message = llm.bind_tools([tool(get_weather)]).invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert llm.with_structured_output(City, method="json_schema").invoke("Paris?") == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


def test_langchain_gets_thinking_modes_answer_alone(start_server) -> None:
    from langchain_openai import ChatOpenAI

    server = start_server(ScriptedModel([THOUGHT, ANSWER, THOUGHT, ANSWER]))
    llm = ChatOpenAI(model=THINKING, base_url=server.base_url, api_key=server.keys["big"], max_retries=0)
    assert llm.invoke("2+2?").content == ANSWER  # the reasoning stays out of the content
    assert "".join(str(c.content) for c in llm.stream("2+2?")) == ANSWER

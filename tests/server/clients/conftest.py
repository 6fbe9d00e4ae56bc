"""What the client tests share: the structured reply they ask for, a tool, the steps that answer, and what
to look at in the scripted model's record.

The clients people use run here, each against a real ``ponder serve`` on loopback: the official ``openai``
SDK, the OpenAI Agents SDK, LangChain's ``ChatOpenAI``/``OpenAIEmbeddings``, pydantic-ai and LiteLLM (one
file each).

The server is the scripted one of ``start_server`` (uvicorn on a loopback port, keys, the hashing embedder
of 384 dimensions): the script decides every reply, so each test asserts structure and state (a parsed
object, a tool call and its arguments, a vector's length, what the model was offered: tools, a JSON
schema), never wording. Each library builds its own request, so these tests catch a field Ponder refuses
or a response shape a client cannot read.

The Responses API tests (``openai``'s ``responses`` and the Agents SDK's default model) skip while the
server has no ``/v1/responses`` route (a probe gets a 404), and run once it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from ponder.messages import Message, ToolCallPart
from ponder.models.base import ModelSettings
from ponder.testing import ScriptedModel

from ..conftest import LiveServer

MODEL = "ponder-instant"
DIMENSIONS = 384  # the embedder's (the hashing test double stands in for E5 at E5's size)


class City(BaseModel):
    """The structured reply every library is asked for: nested values, an array, an integer."""

    name: str
    population: int
    landmarks: list[str]


PARIS = City(name="Paris", population=2_100_000, landmarks=["Eiffel Tower", "Louvre"])
PARIS_JSON = PARIS.model_dump_json()


# Thinking mode on the scripted model: its reasoning pass, then its answer.
THINKING = "ponder-thinking"
THOUGHT, ANSWER = "Two and two make four.", "4"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_CALL = ToolCallPart("call_1", "get_weather", {"city": "Paris"})


def offered_tools(settings: ModelSettings) -> list[str]:
    return [t["function"]["name"] for t in settings.tools]


def schema_properties(settings: ModelSettings) -> set[str]:
    """The property names of the JSON schema the model was asked to answer under."""
    assert settings.json_schema is not None, "the request carried no JSON schema"
    return set(settings.json_schema.get("properties", {}))


SAMPLING = {"temperature": 0.2, "top_p": 0.9, "frequency_penalty": 0.5, "presence_penalty": 0.25}


def assert_sampled_as_asked(settings: ModelSettings) -> None:
    """The sampling fields a library sent reached the model (the values of ``SAMPLING``)."""
    got = {name: getattr(settings, name) for name in SAMPLING}
    assert got == pytest.approx(SAMPLING)


def call_offered_tool(arguments: dict[str, Any]) -> Any:
    """A step that calls the one tool the client offered (its name is the library's choice)."""

    def step(messages: Sequence[Message], settings: ModelSettings) -> ToolCallPart:
        (name,) = offered_tools(settings)
        return ToolCallPart("call_out", name, arguments)

    return step


def tool_results(server: LiveServer) -> list[str]:
    """The tool results in the last conversation the model saw."""
    return [
        part.content
        for message in server.model.calls[-1].messages
        for part in message.parts
        if getattr(part, "kind", "") == "tool_result"
    ]


def openai_client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.keys["big"], max_retries=0)


def async_openai_client(server: LiveServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=server.keys["big"], max_retries=0)


@pytest.fixture
def responses_server(start_server: Any) -> Any:
    """``start_server``, skipping the test while the server has no ``POST /v1/responses``."""

    def start(model: ScriptedModel) -> LiveServer:
        server = start_server(model)
        probe = httpx.post(
            server.base_url + "/responses",
            json={},
            headers={"Authorization": f"Bearer {server.keys['big']}"},
        )
        if probe.status_code == 404:
            pytest.skip("this server has no /v1/responses yet")
        return server

    return start

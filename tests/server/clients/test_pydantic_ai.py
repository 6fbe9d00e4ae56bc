"""pydantic-ai (``pydantic-ai-slim[openai]``) against ``ponder serve``: an agent on ``OpenAIChatModel`` with
text output, a tool, streaming, and structured output (through its output tool, and native); and on
``OpenAIResponsesModel`` (skipped while the server has no Responses API).
"""

from __future__ import annotations

from typing import Any

import pytest

from ponder.testing import ScriptedModel

from ..conftest import LiveServer
from .conftest import (
    ANSWER,
    MODEL,
    PARIS,
    PARIS_JSON,
    SAMPLING,
    THINKING,
    THOUGHT,
    WEATHER_CALL,
    City,
    assert_sampled_as_asked,
    async_openai_client,
    call_offered_tool,
    get_weather,
    schema_properties,
    tool_results,
)

pytestmark = pytest.mark.integration


def _pydantic_ai_model(server: LiveServer) -> Any:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(openai_client=async_openai_client(server))  # no retries: none hides an error
    return OpenAIChatModel(MODEL, provider=provider)


async def test_pydantic_ai_text_output_with_a_tool(start_server) -> None:
    from pydantic_ai import Agent

    server = start_server(ScriptedModel([WEATHER_CALL, "Sunny."]))
    agent = Agent(_pydantic_ai_model(server), tools=[get_weather])
    result = await agent.run("Weather in Paris?")
    assert result.output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]
    assert result.usage().requests == 2 and result.usage().output_tokens > 0


async def test_pydantic_ai_streamed_text_with_its_settings(start_server) -> None:
    from pydantic_ai import Agent

    server = start_server(ScriptedModel([["Par", "is."]]))
    agent = Agent(_pydantic_ai_model(server))
    settings = {**SAMPLING, "seed": 7, "max_tokens": 64, "stop_sequences": ["END"]}
    async with agent.run_stream("Capital of France?", model_settings=settings) as run:
        text = [chunk async for chunk in run.stream_text(delta=True)]
    assert "".join(text) == "Paris."
    (call,) = server.model.calls
    assert_sampled_as_asked(call.settings)
    assert call.settings.seed == 7 and "END" in call.settings.stop


async def test_pydantic_ai_structured_output_through_its_output_tool(start_server) -> None:
    from pydantic_ai import Agent

    server = start_server(ScriptedModel([call_offered_tool(PARIS.model_dump())]))
    result = await Agent(_pydantic_ai_model(server), output_type=City).run("Tell me about Paris.")
    assert result.output == PARIS


async def test_pydantic_ai_native_structured_output(start_server) -> None:
    from pydantic_ai import Agent, NativeOutput

    server = start_server(ScriptedModel([PARIS_JSON]))
    result = await Agent(_pydantic_ai_model(server), output_type=NativeOutput(City)).run("Paris?")
    assert result.output == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


async def test_pydantic_ai_native_structured_output_with_a_tool(start_server) -> None:
    from pydantic_ai import Agent, NativeOutput

    server = start_server(ScriptedModel([WEATHER_CALL, PARIS_JSON]))
    agent = Agent(_pydantic_ai_model(server), output_type=NativeOutput(City), tools=[get_weather])
    result = await agent.run("Tell me about Paris and its weather.")
    assert result.output == PARIS
    assert tool_results(server) == ["sunny in Paris"]


async def test_pydantic_ai_on_the_responses_api(responses_server) -> None:
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    server = responses_server(ScriptedModel([WEATHER_CALL, "Sunny.", PARIS_JSON]))
    provider = OpenAIProvider(openai_client=async_openai_client(server))
    model = OpenAIResponsesModel(MODEL, provider=provider)
    result = await Agent(model, tools=[get_weather]).run("Weather in Paris?")
    assert result.output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]
    structured = await Agent(model, output_type=NativeOutput(City)).run("Tell me about Paris.")
    assert structured.output == PARIS


async def test_pydantic_ai_reads_thinking_modes_reasoning_as_a_thinking_part(start_server) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ThinkingPart
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    server = start_server(ScriptedModel([THOUGHT, ANSWER]))
    model = OpenAIChatModel(THINKING, provider=OpenAIProvider(openai_client=async_openai_client(server)))
    result = await Agent(model).run("2+2?")
    assert result.output == ANSWER
    thoughts = [p.content for m in result.all_messages() for p in m.parts if isinstance(p, ThinkingPart)]
    assert thoughts == [THOUGHT]

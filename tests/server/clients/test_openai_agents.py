"""The OpenAI Agents SDK against ``ponder serve``: an agent with a function tool and an ``output_type``, on
its chat-completions model and on its default Responses model (skipped while the server has no Responses API).
Tracing is off: nothing is sent anywhere else.
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
    get_weather,
    offered_tools,
    schema_properties,
    tool_results,
)

pytestmark = pytest.mark.integration


def _agent(model: Any, tools: bool = True, output: bool = True) -> Any:
    from agents import Agent, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # no traces sent anywhere
    return Agent(
        name="city guide",
        instructions="Answer about cities.",
        tools=[function_tool(get_weather)] if tools else [],
        output_type=City if output else None,
        model=model,
    )


def _chat_model(server: LiveServer) -> Any:
    from agents import OpenAIChatCompletionsModel

    return OpenAIChatCompletionsModel(model=MODEL, openai_client=async_openai_client(server))


async def test_agents_chat_completions_model_with_a_tool(start_server) -> None:
    from agents import Runner

    server = start_server(ScriptedModel([WEATHER_CALL, "Sunny."]))
    result = await Runner.run(_agent(_chat_model(server), output=False), "Weather in Paris?")
    assert result.final_output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]  # the SDK ran the tool and sent its result
    assert offered_tools(server.model.calls[0].settings) == ["get_weather"]


async def test_agents_chat_completions_model_settings_reach_the_model(start_server) -> None:
    from agents import ModelSettings as AgentSettings
    from agents import Runner

    server = start_server(ScriptedModel(["Paris."]))
    agent = _agent(_chat_model(server), tools=False, output=False)
    agent.model_settings = AgentSettings(
        **SAMPLING, max_tokens=64, metadata={"team": "docs"}, store=False, include_usage=True, top_logprobs=2
    )
    result = await Runner.run(agent, "Capital of France?")
    assert result.final_output == "Paris."
    assert result.context_wrapper.usage.output_tokens > 0
    (call,) = server.model.calls
    assert_sampled_as_asked(call.settings)
    assert call.settings.logprobs == 2


async def test_agents_chat_completions_model_with_an_output_type(start_server) -> None:
    from agents import Runner

    server = start_server(ScriptedModel([PARIS_JSON]))
    result = await Runner.run(_agent(_chat_model(server), tools=False), "Tell me about Paris.")
    assert result.final_output == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


async def test_agents_chat_completions_model_streamed_with_a_tool(start_server) -> None:
    from agents import Runner

    server = start_server(ScriptedModel([WEATHER_CALL, ["Sun", "ny."]]))
    run = Runner.run_streamed(_agent(_chat_model(server), output=False), "Weather in Paris?")
    kinds = [event.type async for event in run.stream_events()]
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert run.final_output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]


async def test_agents_chat_completions_model_with_a_tool_and_an_output_type(start_server) -> None:
    from agents import Runner

    server = start_server(ScriptedModel([WEATHER_CALL, PARIS_JSON]))
    result = await Runner.run(_agent(_chat_model(server)), "Tell me about Paris and its weather.")
    assert result.final_output == PARIS
    assert tool_results(server) == ["sunny in Paris"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_agents_chat_completions_model_reads_thinking_modes_reasoning(start_server, streamed) -> None:
    from agents import OpenAIChatCompletionsModel, Runner

    server = start_server(ScriptedModel([THOUGHT, ANSWER]))
    model = OpenAIChatCompletionsModel(model=THINKING, openai_client=async_openai_client(server))
    agent = _agent(model, tools=False, output=False)
    if streamed:
        result = Runner.run_streamed(agent, "2+2?")
        async for _ in result.stream_events():
            pass
    else:
        result = await Runner.run(agent, "2+2?")
    assert result.final_output == ANSWER
    assert [item.type for item in result.new_items] == ["reasoning_item", "message_output_item"]


def _responses_model(server: LiveServer) -> Any:
    from agents import OpenAIResponsesModel

    return OpenAIResponsesModel(model=MODEL, openai_client=async_openai_client(server))


async def test_agents_default_responses_model_with_a_tool(responses_server) -> None:
    from agents import Runner

    server = responses_server(ScriptedModel([WEATHER_CALL, "Sunny."]))
    result = await Runner.run(_agent(_responses_model(server), output=False), "Weather in Paris?")
    assert result.final_output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]


async def test_agents_default_responses_model_with_an_output_type(responses_server) -> None:
    from agents import Runner

    server = responses_server(ScriptedModel([PARIS_JSON]))
    result = await Runner.run(_agent(_responses_model(server), tools=False), "Tell me about Paris.")
    assert result.final_output == PARIS
    assert schema_properties(server.model.calls[-1].settings) == {"name", "population", "landmarks"}


async def test_agents_default_responses_model_streamed(responses_server) -> None:
    from agents import Runner

    server = responses_server(ScriptedModel([WEATHER_CALL, ["Sun", "ny."]]))
    run = Runner.run_streamed(_agent(_responses_model(server), output=False), "Weather in Paris?")
    kinds = [event.type async for event in run.stream_events()]
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert run.final_output == "Sunny."
    assert tool_results(server) == ["sunny in Paris"]


async def test_agents_default_responses_model_with_a_tool_and_an_output_type(responses_server) -> None:
    from agents import Runner

    server = responses_server(ScriptedModel([WEATHER_CALL, PARIS_JSON]))
    result = await Runner.run(_agent(_responses_model(server)), "Tell me about Paris and its weather.")
    assert result.final_output == PARIS
    assert tool_results(server) == ["sunny in Paris"]

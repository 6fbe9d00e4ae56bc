from ponder.messages import Message, ResponseDone, TextDelta
from ponder.models.base import ModelSettings
from ponder.modes import InstantMode, ModeOptions, get_mode
from ponder.testing import ScriptedModel
from ponder.tools import Tool, ToolRunner
from ponder.turn import run_turn


async def test_instant_adds_its_system_prompt_and_streams() -> None:
    model = ScriptedModel([["4", "2"]])
    events = [e async for e in InstantMode().run(model, [Message.user("6*7?")], ModelSettings())]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["4", "2"]
    assert isinstance(events[-1], ResponseDone)
    sent = model.calls[0].messages
    assert sent[0].role == "system" and "Ponder" in sent[0].text
    assert sent[1].text == "6*7?"


async def test_instant_keeps_a_given_system_prompt() -> None:
    model = ScriptedModel(["ok"])
    await run_turn(
        get_mode("instant", ModeOptions(system_prompt="Pirate.")),
        model,
        [Message.user("hi")],
        ModelSettings(),
    )
    assert model.calls[0].messages[0].text == "Pirate."
    model2 = ScriptedModel(["ok"])
    convo = [Message.system("Own."), Message.user("hi")]
    result = await run_turn(InstantMode(), model2, convo, ModelSettings())
    assert [m.text for m in model2.calls[0].messages] == ["Own.", "hi"]
    assert result.mode == "instant" and result.text == "ok"


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


async def test_a_structured_answer_is_generated_under_the_schema() -> None:
    model = ScriptedModel(['{"n": 42}'])
    result = await run_turn(InstantMode(), model, [Message.user("6*7?")], ModelSettings(json_schema=SCHEMA))
    assert model.calls[0].settings.json_schema == SCHEMA and result.text == '{"n": 42}'


async def test_with_tools_a_structured_answer_in_words_is_asked_again_under_the_schema() -> None:
    model = ScriptedModel(["It is forty-two.", '{"n": 42}'])
    events: list[object] = []
    mode = InstantMode(tools=ToolRunner([Tool("lookup", "Look something up.", {"type": "object"})]))
    result = await run_turn(
        mode, model, [Message.user("6*7?")], ModelSettings(json_schema=SCHEMA), events.append
    )
    first, second = (c.settings for c in model.calls)
    assert first.json_schema is None and first.tools  # a pass that may call tools is not held to the schema
    assert second.json_schema == SCHEMA and second.tool_choice == "none"
    assert [e.text for e in events if isinstance(e, TextDelta)] == ['{"n": 42}']  # the words never shown
    assert result.text == '{"n": 42}'

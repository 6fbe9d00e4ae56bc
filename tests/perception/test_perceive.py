"""Perception over whole conversations, and as the stage of a turn that runs before any reasoning mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ponder.config import Settings
from ponder.conversation import Conversation, Turn, TurnDone, TurnEvent, TurnSpec
from ponder.errors import MediaError
from ponder.messages import AudioPart, ImagePart, Message, PerceptionEvent, TextPart
from ponder.modes import route
from ponder.modes.registry import select
from ponder.perception import Perception
from ponder.testing import ScriptedModel
from ponder.testing.media import render_lines, to_format


def _receipt() -> bytes:
    return to_format(render_lines([["Coffee", "3.50"], ["Bagel", "2.25"], ["TOTAL", "5.75"]], size=30), "PNG")


def test_an_image_becomes_a_labelled_visual_context(perception: Perception) -> None:
    messages = [Message("user", (TextPart("What is the total?"), ImagePart(_receipt(), "image/png")))]
    perceived, reports = perception.perceive_sync(messages)
    question, context = perceived[0].parts
    assert question == TextPart("What is the total?")
    assert isinstance(context, TextPart) and context.origin == "image"
    assert "The picture itself was not seen" in context.text
    assert "row 3: TOTAL" in context.text and "5.75" in context.text
    (report,) = reports
    assert report["path"] == "ocr+analysis" and report["lines"] == 6
    assert "rapidocr" in report["engine"]


def test_a_vision_model_gets_the_image_itself(perception: Perception) -> None:
    image = ImagePart(_receipt(), "image/png")
    perceived, reports = perception.perceive_sync([Message("user", (image,))], native_images=True)
    assert perceived[0].parts == (image,)
    assert reports[0]["path"] == "native"


def test_a_broken_image_is_refused_even_for_a_vision_model(perception: Perception) -> None:
    with pytest.raises(MediaError, match="image 1"):
        perception.perceive_sync([Message("user", (ImagePart(b"junk", "image/png"),))], native_images=True)


def test_audio_becomes_its_transcript(perception: Perception, speak: Callable[..., bytes]) -> None:
    messages = [Message("user", (AudioPart(speak("What is the capital of France?"), "audio/wav"),))]
    perceived, reports = perception.perceive_sync(messages)
    (part,) = perceived[0].parts
    assert isinstance(part, TextPart) and part.origin == "audio"
    assert "capital of france" in part.text.lower()
    assert reports[0]["path"] == "asr" and reports[0]["transcript"] == part.text
    assert route(perceived) == ("instant", "a voice turn: the fastest answer")


def test_a_resent_image_is_read_once(perception: Perception) -> None:
    image = ImagePart(_receipt(), "image/png")
    history = [Message("user", (image,)), Message.assistant("A receipt."), Message("user", (image,))]
    perceived, reports = perception.perceive_sync(history)
    assert [r.get("cached", False) for r in reports] == [False, True]
    assert [r["label"] for r in reports] == ["image 1", "image 2"]
    assert 'image="image 2"' in perceived[2].text


def _turn(perception: Perception, mode: str, messages: list[Message]) -> Turn:
    """A turn of nobody's (no session, no memory) through the conversation runner, perception a stage."""

    conversation = Conversation(Settings(), perception=perception)
    return conversation.begin(TurnSpec(messages, select(mode)))


async def test_perception_is_a_stage_that_feeds_the_model_text_and_reports_the_path(
    perception: Perception,
) -> None:
    model = ScriptedModel(["The total is 5.75."])
    messages = [Message("user", (TextPart("Total?"), ImagePart(_receipt(), "image/png")))]
    turn = _turn(perception, "instant", messages)
    await turn.prepare(model)
    events: list[TurnEvent] = []
    result = await turn.complete(events.append)
    assert isinstance(events[0], PerceptionEvent)
    assert isinstance(events[-1], TurnDone)
    seen = model.calls[0].messages[-1]
    assert all(isinstance(p, TextPart) for p in seen.parts)
    assert "TOTAL" in seen.text
    assert result.details["perception"][0]["path"] == "ocr+analysis"
    assert result.mode == "instant"


async def test_auto_routes_an_image_only_turn_to_instant(perception: Perception) -> None:
    model = ScriptedModel(["A receipt."])
    turn = _turn(perception, "auto", [Message("user", (ImagePart(_receipt(), "image/png"),))])
    await turn.prepare(model)
    result = await turn.complete()
    assert result.details["router"]["mode"] == "instant"
    assert result.mode == "auto"


async def test_text_only_turns_skip_perception(perception: Perception) -> None:
    model = ScriptedModel(["4"])
    turn = _turn(perception, "instant", [Message.user("2+2?")])
    await turn.prepare(model)
    result = await turn.complete()
    assert "perception" not in result.details

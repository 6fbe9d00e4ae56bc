from ponder.messages import (
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    Usage,
)


def test_message_text_joins_text_parts_only() -> None:
    msg = Message(
        "assistant",
        (ReasoningPart("hmm"), TextPart("Hello, "), ToolCallPart("c1", "f", {"x": 1}), TextPart("world")),
    )
    assert msg.text == "Hello, world"
    assert msg.reasoning == "hmm"
    assert [c.name for c in msg.tool_calls] == ["f"]


def test_usage_speed_and_answer_tokens() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=11, reasoning_tokens=4, decode_time_s=2.0)
    assert usage.answer_tokens == 7
    assert usage.tokens_per_second == 5.0
    assert Usage(completion_tokens=1).tokens_per_second is None
    assert usage.to_dict()["answer_tokens"] == 7

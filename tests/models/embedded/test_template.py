import pytest

from ponder.errors import UserError
from ponder.messages import ImagePart, Message, ToolCallPart, ToolResultPart
from ponder.models.embedded.template import ChatTemplate


def test_chatml_fallback_renders_roles_and_generation_prompt() -> None:
    text = ChatTemplate(None).render([Message.system("Be brief."), Message.user("Hi")])
    assert (
        text
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_model_template_gets_tools_and_tool_turns() -> None:
    source = (
        "{% if tools %}TOOLS={{ tools | tojson }};{% endif %}"
        "{% for m in messages %}[{{ m.role }}:{{ m.content }}"
        "{% if m.tool_calls %}{{ m.tool_calls[0].function | tojson }}{% endif %}]{% endfor %}"
    )
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    messages = [
        Message.user("é?"),
        Message("assistant", (ToolCallPart("c1", "f", {"x": 1}),)),
        Message("tool", (ToolResultPart("c1", "f", "42"),)),
    ]
    text = ChatTemplate(source).render(messages, tools=tools)
    assert text.startswith('TOOLS=[{"type": "function"')
    assert '[user:é?][assistant:{"name": "f", "arguments": {"x": 1}}][tool:42]' in text


def test_media_parts_are_refused_with_a_clear_error() -> None:
    with pytest.raises(UserError, match="text only"):
        ChatTemplate(None).render([Message("user", (ImagePart(b"x", "image/png"),))])


def test_template_raise_exception_becomes_user_error() -> None:
    template = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(UserError, match="roles must alternate"):
        template.render([Message.user("x")])

"""Render a conversation into the prompt text a GGUF model was trained on.

The template is the model's own (the ``tokenizer.chat_template`` Jinja text stored in the GGUF), rendered
in a sandboxed Jinja environment with the helpers Hugging Face templates expect (``raise_exception``,
``tojson``, ``strftime_now``). Models without a template get ChatML.

Images and audio never reach a text model: perception turns them into text first, so meeting one here
is a programming error reported as a ``UserError``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ponder.errors import BackendError, UserError
from ponder.messages import (
    AudioPart,
    ImagePart,
    Message,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["CHATML", "ChatTemplate", "to_template_messages"]

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise TemplateError(message)


def _tojson(
    value: Any, indent: int | None = None, ensure_ascii: bool = False, sort_keys: bool = False
) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def to_template_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the dict shape chat templates expect (OpenAI's)."""
    rendered: list[dict[str, Any]] = []
    for message in messages:
        media = [p for p in message.parts if isinstance(p, ImagePart | AudioPart)]
        if media:
            raise UserError(
                f"This model takes text only, and the message carries {media[0].kind} input: "
                "turn it into text first (perception) or use a multimodal backend."
            )
        results = [p for p in message.parts if isinstance(p, ToolResultPart)]
        if results:
            for result in results:
                rendered.append({"role": "tool", "name": result.name, "content": result.content})
            continue
        entry: dict[str, Any] = {"role": message.role, "content": message.text}
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        if calls:
            entry["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in calls
            ]
        rendered.append(entry)
    return rendered


class ChatTemplate:
    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source or CHATML
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(self.source)
        except TemplateError as err:
            raise BackendError(f"The model's chat template does not parse: {err}") from None
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[dict[str, Any]] = (),
        add_generation_prompt: bool = True,
    ) -> str:
        try:
            return self._template.render(
                messages=to_template_messages(messages),
                tools=list(tools) or None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except TemplateError as err:
            raise UserError(f"The model's chat template rejected this conversation: {err}") from None

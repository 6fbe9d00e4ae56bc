"""Running the tool calls of one model turn.

Every call of a turn runs: calls to tools marked ``concurrent`` run at the same time, the others one after
another, and each result goes back with its own call id, in the order the model made the calls. Nothing a
tool does can crash the turn: an unknown tool, arguments that do not match the schema, an exception, a
timeout, each becomes an error result the model reads and can recover from. Arguments are validated against
the tool's JSON schema before anything runs. A tool with ``max_calls_per_turn`` runs that many calls in one
turn (counted in the turn's ``ToolContext``, across its rounds, in call order); each call past it gets an
error result saying so and does not run.

Output is text for the model: strings as they are, anything else as JSON, cut at ``max_output_chars``. It is
data, never instructions (the modes' prompts say so). This module does not decide when to call tools; the
modes' tool loops do.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from typing import Any

import jsonschema
import pydantic

from ponder.errors import UserError
from ponder.messages import ToolCallPart, ToolResultPart
from ponder.tools.base import Tool, ToolContext
from ponder.tools.toolset import Toolset

__all__ = ["ToolRunner"]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_OUTPUT_CHARS = 20_000


def _check_schema(schema: dict[str, Any]) -> None:
    """Raise jsonschema.SchemaError unless ``schema`` is a valid JSON schema. API clients send the same tools
    with every request: a schema checked once is not checked again (the check costs a millisecond a tool)."""
    try:
        text = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):  # not plain JSON (a Python tool's schema may hold other objects)
        jsonschema.Draft202012Validator.check_schema(schema)
        return
    _check_schema_json(text)


@functools.lru_cache(maxsize=1024)  # canonical JSON of the schemas found valid (an invalid one raises)
def _check_schema_json(text: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(text))


class ToolRunner:
    def __init__(
        self,
        tools: Sequence[Tool],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise UserError(f"Two tools are named '{tool.name}': rename one of them.")
            _check_schema(tool.parameters)
            self.tools[tool.name] = tool
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars

    @classmethod
    async def from_toolsets(cls, toolsets: Sequence[Toolset], **options: Any) -> ToolRunner:
        tools = [tool for toolset in toolsets for tool in await toolset.list_tools()]
        return cls(tools, **options)

    def definitions(self) -> tuple[dict[str, Any], ...]:
        """The tools as the model sees them (OpenAI ``tools`` entries)."""
        return tuple(tool.definition() for tool in self.tools.values())

    def client_side(self, calls: Sequence[ToolCallPart]) -> bool:
        """Whether any of ``calls`` names a tool the API client runs itself (the turn then ends there)."""
        return any(c.name in self.tools and self.tools[c.name].invoke is None for c in calls)

    def problem(self, call: ToolCallPart) -> str | None:
        """Why ``call`` cannot run as made (unknown tool, arguments off the schema); None when it can."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return f"There is no tool named '{call.name}'. Available tools: {known}."
        errors = sorted(
            jsonschema.Draft202012Validator(tool.parameters).iter_errors(call.arguments),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        if errors:
            details = "; ".join(_describe(e) for e in errors[:5])
            return f"The arguments for '{call.name}' do not match its schema: {details}."
        return None

    async def run(
        self, calls: Sequence[ToolCallPart], context: ToolContext | None = None
    ) -> list[ToolResultPart]:
        """Run every call; one result per call, in call order."""
        base = context or ToolContext()
        results: dict[int, ToolResultPart] = self._over_the_cap(calls, base.turn_calls)

        async def one(index: int) -> None:
            if index in results:
                return
            call = calls[index]
            own = ToolContext(call_id=call.call_id, user=base.user, turn_calls=base.turn_calls)
            results[index] = await self._run_one(call, own)

        async def in_turn(indices: list[int]) -> None:
            for index in indices:
                await one(index)

        serial = [
            i for i, c in enumerate(calls) if c.name in self.tools and not self.tools[c.name].concurrent
        ]
        async with asyncio.TaskGroup() as group:
            for index in range(len(calls)):
                if index not in serial:
                    group.create_task(one(index))
            if serial:
                group.create_task(in_turn(serial))
        return [results[i] for i in range(len(calls))]

    def _over_the_cap(
        self, calls: Sequence[ToolCallPart], turn_calls: dict[str, int]
    ) -> dict[int, ToolResultPart]:
        """Count the calls that will run against the turn's tally; those past a tool's cap are refused
        (index -> their error result)."""
        refused: dict[int, ToolResultPart] = {}
        for index, call in enumerate(calls):
            tool = self.tools.get(call.name)
            if tool is None or tool.invoke is None or tool.max_calls_per_turn is None or self.problem(call):
                continue
            if turn_calls.get(call.name, 0) >= tool.max_calls_per_turn:
                message = (
                    f"'{call.name}' may be called at most {tool.max_calls_per_turn} times in one turn, so "
                    "this call was not run. Answer with the results you already have."
                )
                refused[index] = ToolResultPart(call.call_id, call.name, message, is_error=True)
            else:
                turn_calls[call.name] = turn_calls.get(call.name, 0) + 1
        return refused

    async def _run_one(self, call: ToolCallPart, context: ToolContext) -> ToolResultPart:
        problem = self.problem(call)
        if problem is not None:
            return ToolResultPart(call.call_id, call.name, problem, is_error=True)
        tool = self.tools[call.name]
        if tool.invoke is None:
            return ToolResultPart(
                call.call_id, call.name, f"'{call.name}' is run by the client, not by Ponder.", is_error=True
            )
        try:
            output = await asyncio.wait_for(tool.invoke(context, call.arguments), self.timeout_s)
        except TimeoutError:
            message = f"'{call.name}' did not finish within {self.timeout_s:g} s and was stopped."
            return ToolResultPart(call.call_id, call.name, message, is_error=True)
        except pydantic.ValidationError as err:
            message = f"The arguments for '{call.name}' are not valid: {err.errors(include_url=False)}"
            return ToolResultPart(call.call_id, call.name, message, is_error=True)
        except Exception as err:  # a failing tool is the model's problem to handle, not the turn's end
            text = str(err) or type(err).__name__
            return ToolResultPart(call.call_id, call.name, f"'{call.name}' failed: {text}", is_error=True)
        return ToolResultPart(call.call_id, call.name, self._as_text(output))

    def _as_text(self, output: Any) -> str:
        if isinstance(output, str):
            text = output
        elif isinstance(output, pydantic.BaseModel):
            text = output.model_dump_json()
        else:
            text = json.dumps(output, ensure_ascii=False, default=str)
        if len(text) > self.max_output_chars:
            cut = len(text) - self.max_output_chars
            text = f"{text[: self.max_output_chars]}\n[... {cut} more characters cut]"
        return text


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message

import asyncio

import pytest

from ponder.errors import UserError
from ponder.messages import ToolCallPart
from ponder.tools import FunctionToolset, Tool, ToolContext, ToolRunner, tool, tool_of


@tool
def add(a: int, b: int) -> int:
    """Add."""
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


def runner(*extra: Tool, **options: float) -> ToolRunner:
    return ToolRunner([tool_of(add), tool_of(explode), *extra], **options)  # type: ignore[arg-type]


async def test_parallel_calls_each_get_their_own_result_in_call_order() -> None:
    started: list[str] = []
    both_running = asyncio.Event()

    async def slow(label: str) -> str:
        started.append(label)
        if len(started) == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), 5)  # only returns if the two calls overlap
        return label

    wait = Tool(
        "wait",
        "waits",
        {"type": "object", "properties": {"label": {"type": "string"}}},
        invoke=lambda _ctx, args: slow(args["label"]),
    )
    calls = [
        ToolCallPart("c1", "wait", {"label": "first"}),
        ToolCallPart("c2", "add", {"a": 1, "b": 2}),
        ToolCallPart("c3", "wait", {"label": "second"}),
    ]
    results = await runner(wait).run(calls)
    assert [(r.call_id, r.content, r.is_error) for r in results] == [
        ("c1", "first", False),
        ("c2", "3", False),
        ("c3", "second", False),
    ]


async def test_tools_not_marked_concurrent_run_one_after_another() -> None:
    active = 0
    peak = 0

    async def exclusive(_ctx: object, _args: dict[str, object]) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return "ok"

    lock = Tool("lock", "exclusive", {"type": "object"}, invoke=exclusive, concurrent=False)
    results = await runner(lock).run([ToolCallPart(f"c{i}", "lock", {}) for i in range(3)])
    assert peak == 1 and all(r.content == "ok" for r in results)


async def test_a_raising_tool_gives_an_error_result_not_a_crash() -> None:
    (result,) = await runner().run([ToolCallPart("c1", "explode", {"reason": "why"})])
    assert result.is_error and "boom: why" in result.content and result.call_id == "c1"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": 1}, "'b' is a required property"),
        ({"a": "one", "b": 2}, "a: 'one' is not of type 'integer'"),
        ({"a": 1, "b": 2, "c": 3}, "Additional properties are not allowed"),
    ],
)
async def test_arguments_off_the_schema_are_refused_before_anything_runs(
    arguments: dict[str, object], expected: str
) -> None:
    (result,) = await runner().run([ToolCallPart("c1", "add", arguments)])
    assert result.is_error and expected in result.content


async def test_an_unknown_tool_names_the_ones_that_exist() -> None:
    (result,) = await runner().run([ToolCallPart("c1", "subtract", {})])
    assert (
        result.is_error and "no tool named 'subtract'" in result.content and "add, explode" in result.content
    )


async def test_a_tool_that_never_ends_is_stopped_at_the_timeout() -> None:
    async def forever(_ctx: object, _args: dict[str, object]) -> str:
        await asyncio.Event().wait()
        return "never"

    hang = Tool("hang", "hangs", {"type": "object"}, invoke=forever)
    (result,) = await runner(hang, timeout_s=0.05).run([ToolCallPart("c1", "hang", {})])
    assert result.is_error and "did not finish within 0.05 s" in result.content


async def test_long_output_is_cut_and_says_so() -> None:
    big = Tool("big", "big", {"type": "object"}, invoke=lambda _c, _a: asyncio.sleep(0, "x" * 100))
    (result,) = await runner(big, max_output_chars=10).run([ToolCallPart("c1", "big", {})])
    assert result.content.startswith("x" * 10) and "90 more characters cut" in result.content


async def test_client_side_tools_are_recognised_and_never_run_here() -> None:
    client = Tool("lookup", "run by the API client", {"type": "object"})
    r = runner(client)
    assert r.client_side([ToolCallPart("c1", "lookup", {})])
    assert not r.client_side([ToolCallPart("c1", "add", {"a": 1, "b": 1})])


async def test_two_tools_with_one_name_are_refused() -> None:
    with pytest.raises(UserError, match="Two tools are named 'add'"):
        await ToolRunner.from_toolsets([FunctionToolset("a", [add]), FunctionToolset("b", [add])])


def test_a_schema_is_checked_whenever_it_is_invalid_and_once_when_valid() -> None:
    import jsonschema

    from ponder.tools.runner import _check_schema_json

    bad = Tool("bad", "", {"type": "object", "properties": {"q": {"type": 42}}}, invoke=None)
    for _ in range(2):  # an invalid schema is never remembered as checked
        with pytest.raises(jsonschema.SchemaError):
            ToolRunner([bad])
    good = Tool("good", "", {"type": "object", "properties": {"q": {"type": "string"}}}, invoke=None)
    ToolRunner([good])
    hits = _check_schema_json.cache_info().hits
    ToolRunner([good])
    assert _check_schema_json.cache_info().hits == hits + 1
    odd = Tool("odd", "", {"type": "object", "enum": {1, 2}}, invoke=None)
    with pytest.raises(jsonschema.SchemaError):  # not plain JSON (a set): checked as it is
        ToolRunner([odd])


async def test_calls_past_a_tools_per_turn_cap_get_an_error_result_and_do_not_run() -> None:
    ran: list[int] = []

    async def record(_ctx: ToolContext, args: dict[str, object]) -> str:
        ran.append(int(args["n"]))  # type: ignore[call-overload]
        return "ran"

    capped = Tool(
        "capped",
        "capped at three calls a turn",
        {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        invoke=record,
        max_calls_per_turn=3,
    )
    tools = runner(capped)
    turn = ToolContext()
    first = await tools.run(
        [
            ToolCallPart("c0", "capped", {"n": "not a number"}),  # refused by the schema: not counted
            *(ToolCallPart(f"c{n}", "capped", {"n": n}) for n in (1, 2)),
            ToolCallPart("c9", "add", {"a": 1, "b": 2}),  # other tools are not counted
        ],
        turn,
    )
    assert [r.is_error for r in first] == [True, False, False, False]
    second = await tools.run([ToolCallPart(f"c{n}", "capped", {"n": n}) for n in (3, 4, 5)], turn)
    assert [r.is_error for r in second] == [False, True, True]  # the cap counts the whole turn
    assert "at most 3 times in one turn" in second[1].content and "not run" in second[1].content
    assert sorted(ran) == [1, 2, 3]
    fresh = await tools.run([ToolCallPart("c6", "capped", {"n": 6})], ToolContext())  # a new turn
    assert not fresh[0].is_error and sorted(ran) == [1, 2, 3, 6]

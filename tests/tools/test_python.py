"""The python tool: code goes to the sandbox (a real jail), output comes back as text for the model."""

from __future__ import annotations

import pytest

from ponder.messages import ToolCallPart
from ponder.tools import ToolRunner
from ponder.tools.python import PythonToolset, echo_last_expression


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2**100", "__value = (2**100)\nif __value is not None: print(repr(__value))\n"),
        ("x = 1; x  # done", "x = 1; __value = (x)\nif __value is not None: print(repr(__value))\n"),
        ("print(3)", "print(3)"),
        ("x = 3", "x = 3"),
        ("def broken(:", "def broken(:"),
    ],
)
def test_a_final_bare_expression_is_printed_as_a_notebook_would(code: str, expected: str) -> None:
    assert echo_last_expression(code) == expected


async def test_programs_run_in_the_jail_and_errors_come_back_as_error_results() -> None:
    toolset = PythonToolset()
    try:
        runner = await ToolRunner.from_toolsets([toolset])
        calls = [
            ToolCallPart("c1", "python", {"code": "import numpy as np\nint(np.arange(5).sum())"}),
            ToolCallPart("c2", "python", {"code": "import os\nprint(os.getuid())"}),
            ToolCallPart("c3", "python", {"code": "raise ValueError('nope')"}),
            ToolCallPart("c4", "python", {"code": "print(input().upper())", "stdin": "hello\n"}),
        ]
        total, uid, failure, echoed = await runner.run(calls)
    finally:
        await toolset.aclose()
    assert (total.content.strip(), total.is_error) == ("10", False)
    assert uid.content.strip() != "0"  # never root inside
    assert (
        failure.is_error and "exited with code 1" in failure.content and "ValueError: nope" in failure.content
    )
    assert echoed.content.strip() == "HELLO"

"""The positive control: a normal program that must run and print the right answer in the jail.

It reads numbers from stdin, computes with numpy and the standard library, writes a scratch file in
its working directory, and prints one JSON line. A tier that cannot run it is not usable, however
well it contains the escape probes: a jail that runs nothing contains everything.
"""

from __future__ import annotations

from .result import RunResult

__all__ = ["CONTROL_PROGRAM", "CONTROL_STDIN", "control_problem"]

CONTROL_PROGRAM = """
import json, os, sys, tempfile
import numpy as np
values = np.array([int(x) for x in sys.stdin.read().split()])
with tempfile.NamedTemporaryFile("w+", dir=os.getcwd()) as scratch:
    scratch.write("scratch")
    scratch.seek(0)
    wrote = scratch.read()
print(json.dumps({"sum": int(values.sum()), "dot": float(values @ values), "wrote": wrote,
                  "squares": [i * i for i in range(5)]}))
"""
CONTROL_STDIN = "1 2 3 4\n"
_EXPECTED = '{"sum": 10, "dot": 30.0, "wrote": "scratch", "squares": [0, 1, 4, 9, 16]}\n'


def control_problem(result: RunResult) -> str | None:
    """None when the control ran as expected; otherwise what went wrong."""
    if result.ok and result.stdout == _EXPECTED:
        return None
    said = (result.stderr.strip().splitlines() or [result.stdout.strip()[:200]])[-1:]
    return f"the positive control failed (exit {result.exit_code}, {result.killed_reason}): {said}"

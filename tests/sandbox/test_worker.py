"""One jailed interpreter per program, in every tier this machine supports."""

from __future__ import annotations

import asyncio
import json

import pytest

from ponder.sandbox import Limits, procs
from ponder.sandbox.interpreter import JAIL_ENV
from ponder.sandbox.jail import TierName
from ponder.sandbox.limits import MIB
from ponder.sandbox.worker import Worker


async def run(tier: TierName, code: str, stdin: str = "", limits: Limits | None = None, **kw: float):  # type: ignore[no-untyped-def]
    worker = await Worker.start(tier, limits or Limits(wall_s=5))
    try:
        return await worker.run(code, stdin, **kw)
    finally:
        await worker.close()


async def test_a_program_reads_stdin_and_writes_stdout_and_stderr(tier: TierName) -> None:
    code = "import sys\nprint(sys.stdin.read().upper())\nprint('note', file=sys.stderr)\nsys.exit(7)"
    result = await run(tier, code, "hello")
    assert (result.stdout, result.stderr, result.exit_code) == ("HELLO\n", "note\n", 7)
    assert not result.timed_out and result.killed_reason is None


async def test_an_exception_is_a_traceback_and_exit_1(tier: TierName) -> None:
    result = await run(tier, "def f():\n    raise ValueError('boom')\nf()")
    assert result.exit_code == 1
    assert "ValueError: boom" in result.stderr and 'File "<program>", line 3' in result.stderr


async def test_numpy_is_importable_and_the_environment_is_minimal(tier: TierName) -> None:
    code = "import json, os, numpy\n"
    code += "print(json.dumps([int(numpy.arange(4).sum()), dict(os.environ), os.getuid()]))"
    result = await run(tier, code)
    total, environ, uid = json.loads(result.stdout)
    assert total == 6
    assert set(environ) <= {*JAIL_ENV, "HOME", "TMPDIR", "PWD", "LC_CTYPE"}
    if tier == "bwrap":
        assert uid == 65534


async def test_a_program_that_never_ends_is_killed_at_the_wall_limit(tier: TierName) -> None:
    result = await run(tier, "while True: pass", timeout_s=1.0)
    assert result.timed_out and result.killed_reason == "timeout" and result.exit_code == 137


async def test_output_beyond_the_cap_is_cut_and_the_program_killed(tier: TierName) -> None:
    limits = Limits(wall_s=10, output_bytes=64 * 1024)
    result = await run(tier, "import sys\nwhile True: sys.stdout.write('x' * 65536)", limits=limits)
    assert result.output_truncated and result.killed_reason == "output_limit"
    assert len(result.stdout) == 64 * 1024
    assert not result.timed_out  # killed at the cap, long before the wall limit


async def test_memory_beyond_the_limit_fails_inside_the_program(tier: TierName) -> None:
    result = await run(tier, "x = bytearray(600 << 20)", limits=Limits(wall_s=5, memory_bytes=512 * MIB))
    assert result.exit_code != 0 and "MemoryError" in result.stderr


async def test_cancelling_a_run_kills_the_jail(tier: TierName) -> None:
    worker = await Worker.start(tier, Limits(wall_s=30))
    task = asyncio.create_task(worker.run("import time\nprint('started', flush=True)\ntime.sleep(60)"))
    started = worker.stdout_event(b"started")
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(worker.process.wait(), 5)  # the jail is dead already, before close()
    await worker.close()
    assert procs.pids_of_uid(worker.uid) == []


async def test_the_result_does_not_wait_for_what_the_program_left_behind(tier: TierName) -> None:
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(30)\nprint('parent done')"
    worker = await Worker.start(tier, Limits(wall_s=20))
    result = await worker.run(code)
    assert result.stdout == "parent done\n" and result.exit_code == 0
    assert not result.timed_out  # back before the wall limit, though the child sleeps longer than that
    await worker.close()
    assert procs.pids_of_uid(worker.uid) == []  # the lingering child went down with the jail


async def test_a_worker_runs_one_program_only(tier: TierName) -> None:
    worker = await Worker.start(tier, Limits())
    try:
        assert (await worker.run("print(1)")).stdout == "1\n"
        with pytest.raises(RuntimeError):
            await worker.run("print(2)")
    finally:
        await worker.close()


async def test_exit_and_quit_work_as_in_a_normal_interpreter(tier: TierName) -> None:
    assert (await run(tier, "print('bye')\nexit(4)")).exit_code == 4
    assert (await run(tier, "quit()")).exit_code == 0

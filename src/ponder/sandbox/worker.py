"""One jailed interpreter: started ahead of time, given exactly one program, then thrown away.

``Worker.start()`` launches a jail (``jail.py``) and waits until the interpreter inside reports ready
on the status pipe (``bootstrap.py``). ``Worker.run()`` sends the program and its stdin, reads stdout
and stderr each up to the output cap, and returns once the program is done: the bootstrap's ``exit N``
line (or, when the program died without one, the jail's exit) and end-of-file on both streams. It
always returns a ``RunResult``: running too long, printing too much or being killed for memory are
fields, not exceptions. Cancelling ``run()`` kills the jail before the cancellation propagates.
``Worker.close()`` kills whatever is left (process group, cgroups, every process of the jail's uid),
reaps it and releases the uid, cgroups and private directory. A worker never runs a second program.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from asyncio.subprocess import PIPE, Process
from collections.abc import Callable

from . import procs
from .bootstrap import READY
from .jail import Jail, TierName, prepare_jail
from .limits import Limits
from .result import KilledReason, RunResult

__all__ = ["JailStartError", "Worker"]

_CHUNK = 64 * 1024
_SIGXCPU_STATUS = 128 + signal.SIGXCPU


class JailStartError(RuntimeError):
    """The jail did not come up: its setup, bubblewrap or the interpreter failed (stderr attached)."""


class _Capture:
    """One of the program's output pipes, read without blocking and never past its cap.

    Reading stops for good at the cap (``cap + 1`` bytes are read to notice it), so the host holds at
    most that much. ``drain()`` takes whatever the pipe holds right now: once the bootstrap has
    reported the program done, that is all the program wrote, whether or not something it started
    still holds the pipe open.
    """

    def __init__(self, fd: int, cap: int, on_full: Callable[[], None]) -> None:
        self.fd, self.cap, self.on_full = fd, cap, on_full
        self.data = bytearray()
        self.done = False  # end of file, or the cap reached
        self.full = False
        self.watches: list[tuple[bytes, asyncio.Event]] = []
        os.set_blocking(fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self.drain)

    def drain(self) -> None:
        while not self.done:
            try:
                chunk = os.read(self.fd, min(_CHUNK, self.cap + 1 - len(self.data)))
            except BlockingIOError:
                return
            if not chunk:
                self._stop()
            elif len(self.data) + len(chunk) > self.cap:
                self.data += chunk[: self.cap - len(self.data)]
                self.full = True
                self._stop()
                self.on_full()
            else:
                self.data += chunk
            for marker, event in self.watches:
                if marker in self.data[-len(chunk) - len(marker) :]:
                    event.set()

    def _stop(self) -> None:
        self.done = True
        self._loop.remove_reader(self.fd)

    def close(self) -> None:
        if not self.done:
            self._stop()
        os.close(self.fd)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def _status(returncode: int | None) -> int:
    if returncode is None:
        return 128 + signal.SIGKILL
    return 128 - returncode if returncode < 0 else returncode


class Worker:
    def __init__(self, jail: Jail, process: Process, limits: Limits, stdout_fd: int, stderr_fd: int) -> None:
        self.jail = jail
        self.process = process
        self.limits = limits
        self.used = False
        self._closed = False
        self._killed: KilledReason | None = None
        self._stdout = _Capture(stdout_fd, limits.output_bytes, lambda: self.kill("output_limit"))
        self._stderr = _Capture(stderr_fd, limits.output_bytes, lambda: self.kill("output_limit"))
        self._status: asyncio.StreamReader | None = None
        self._status_transport: asyncio.ReadTransport | None = None

    @property
    def tier(self) -> TierName:
        return self.jail.tier

    @property
    def uid(self) -> int:
        """The host uid every process of this jail runs under."""
        return self.jail.uid

    @classmethod
    async def start(cls, tier: TierName, limits: Limits, *, ready_timeout_s: float = 30.0) -> Worker:
        jail = prepare_jail(tier, limits)
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *jail.argv,
                stdin=PIPE,
                stdout=stdout_w,
                stderr=stderr_w,
                env=jail.env,
                cwd=jail.cwd,
                pass_fds=jail.pass_fds,
                preexec_fn=jail.setup,
                start_new_session=True,
            )
        except BaseException:
            for fd in (stdout_r, stderr_r):
                os.close(fd)
            jail.release()
            raise
        finally:
            os.close(stdout_w)
            os.close(stderr_w)
            jail.spawned()
        worker = cls(jail, process, limits, stdout_r, stderr_r)
        try:
            await worker._open_status()
            assert worker._status is not None
            async with asyncio.timeout(ready_timeout_s):
                marker = await worker._status.readline()
            if marker != READY:
                raise JailStartError(await worker._failure_detail() or "the jail exited before it was ready")
        except TimeoutError:
            detail = await worker._failure_detail()
            await worker.close()
            raise JailStartError(detail or "the jail did not become ready in time") from None
        except BaseException:
            await worker.close()
            raise
        return worker

    async def _open_status(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=256, loop=loop)
        pipe = os.fdopen(self.jail.status_fd, "rb", buffering=0)
        self.jail.status_fd = -1  # the transport owns it now
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        self._status, self._status_transport = reader, transport

    async def _failure_detail(self) -> str:
        """What the jail said on stderr before it died (bubblewrap's or the child setup's message)."""
        self.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self.process.wait()
        self._stderr.drain()
        return self._stderr.text().strip()

    def stdout_event(self, marker: bytes) -> asyncio.Event:
        """An event set once ``marker`` appears in the program's stdout (the probes' HOLD line)."""
        event = asyncio.Event()
        self._stdout.watches.append((marker, event))
        return event

    def kill(self, reason: KilledReason | None = None) -> None:
        """SIGKILL the whole jail now: its process group, its cgroups, and every process of its uid."""
        if reason and self._killed is None:
            self._killed = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.jail.cgroup:
            self.jail.cgroup.kill()
        if self.jail.tier != "bwrap":  # without a pid namespace, a child may have left the group
            procs.kill_uid(self.uid, rounds=3)

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> RunResult:
        """Run ``code`` in this jail; the whole result, whatever the program does."""
        if self.used:
            raise RuntimeError("a sandbox worker runs one program only")
        self.used = True
        started = time.perf_counter()
        source = code.encode("utf-8", "surrogatepass")
        feeder = asyncio.create_task(self._feed(len(source).to_bytes(8, "big") + source + stdin.encode()))
        timed_out = False
        status = 0
        try:
            async with asyncio.timeout(timeout_s if timeout_s is not None else self.limits.wall_s):
                status = await self._program_done()
        except TimeoutError:
            timed_out = True
            self.kill("timeout")
        except BaseException:
            self.kill("cancelled")
            raise
        finally:
            feeder.cancel()
        if self._killed:
            status = await self._reaped_status()
        self._stdout.drain()
        self._stderr.drain()
        return RunResult(
            stdout=self._stdout.text(),
            stderr=self._stderr.text(),
            exit_code=status,
            timed_out=timed_out,
            output_truncated=self._stdout.full or self._stderr.full,
            duration_s=time.perf_counter() - started,
            killed_reason=self._reason(status),
        )

    async def _program_done(self) -> int:
        """The program's exit status, from the bootstrap's report or else from the jail's exit."""
        assert self._status is not None
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            line = await self._status.readline()
            if line.startswith(b"exit ") and not self._killed:
                return int(line[5:])
        return await self._reaped_status()

    async def _reaped_status(self) -> int:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.process.wait()
        return _status(self.process.returncode)

    def _reason(self, status: int) -> KilledReason | None:
        if self._killed is not None:
            return self._killed
        if self.jail.cgroup and self.jail.cgroup.oom_killed():
            return "memory"
        return "cpu_time" if status == _SIGXCPU_STATUS else None

    async def _feed(self, payload: bytes) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.process.stdin.write(payload)
            await self.process.stdin.drain()
            self.process.stdin.close()

    async def close(self) -> None:
        """Kill what is left of the jail, reap it, and release its uid, cgroups and directory."""
        if self._closed:
            return
        self._closed = True
        self.kill()
        if self._status_transport is not None:
            self._status_transport.close()
        self._stdout.close()
        self._stderr.close()
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.process.wait()
        loop = asyncio.get_running_loop()
        for _ in range(50):
            swept = await loop.run_in_executor(None, procs.kill_uid, self.uid)
            if swept and self.jail.release():
                return
            await asyncio.sleep(0.02)
        # A process of this jail would not die, or its cgroup stays busy: keep the uid leased so that
        # no later jail shares it, and leave the cgroup for the kernel to report.

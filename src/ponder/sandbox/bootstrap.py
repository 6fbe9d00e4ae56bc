"""The first code a jailed interpreter runs: announce readiness, read one program, run it, exit.

The host starts ``python -I -S -B -c <this file's source> STATUS_FD SITE_DIR...`` in the jail. This
code adds the site directories to ``sys.path`` (``-S`` skips ``site`` and its .pth files, which keeps
start-up near 10 ms), writes ``READY`` to the status pipe and blocks on stdin for one program: an
8-byte big-endian length, then that many bytes of UTF-8 source. Whatever follows on stdin is the
program's own stdin; stdout and stderr are the program's alone. The program runs as ``__main__``.
When it is done (atexit handlers run, streams flushed), this code closes stdin, stdout and stderr,
writes ``exit N`` to the status pipe and leaves with ``os._exit(N)``: the host has the whole result
as soon as that line arrives, without waiting for the jail's teardown. A program that dies by a
signal or calls ``os._exit`` itself writes no status line; the host then waits for the process.
One program per process: nothing here loops.

The host imports this module only for ``READY`` and its source; nothing runs on import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

READY = b"ready\n"


def _read_exact(size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            os._exit(70)  # the host went away before sending a whole program
        data += chunk
    return bytes(data)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _quit(code: object = None) -> None:
    raise SystemExit(code)


def _run(source: str) -> int:
    import builtins

    builtins.exit = builtins.quit = _quit  # type: ignore[assignment]  # what site would have added
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    sys.argv = ["<program>"]
    try:
        exec(compile(source, "<program>", "exec"), namespace)
    except SystemExit as stop:
        return _exit_status(stop.code)
    except BaseException as err:
        import traceback

        tb = err.__traceback__.tb_next if err.__traceback__ else None
        traceback.print_exception(type(err), err, tb)
        return 1
    return 0


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except BaseException:
        return


def _finish(status: int, status_fd: int) -> None:
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        _quietly(threading._shutdown)  # waits for non-daemon threads, as interpreter exit would
    _quietly(atexit._run_exitfuncs)
    _quietly(sys.stdout.flush)
    _quietly(sys.stderr.flush)
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            continue
    os.write(status_fd, b"exit %d\n" % status)
    os._exit(status)


def main() -> None:
    status_fd = int(sys.argv[1])
    os.set_inheritable(status_fd, False)  # a program that execs does not pass it on
    sys.path.extend(sys.argv[2:])
    compile("pass", "<warm-up>", "exec")  # the first compile() builds the AST types: ~2 ms, paid here
    os.write(status_fd, READY)
    size = int.from_bytes(_read_exact(8), "big")
    source = _read_exact(size).decode("utf-8", "replace")
    _finish(_run(source), status_fd)


if __name__ == "__main__":
    main()

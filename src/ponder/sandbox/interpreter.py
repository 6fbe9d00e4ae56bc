"""The interpreter a jail runs: this host's own Python, and exactly the directories it needs.

``host_interpreter()`` describes it once per process: the resolved executable, the directories the jail
must be able to read (the base prefix with the standard library and libpython, the venv prefix when
there is one, the site-packages directories), and the command line that starts ``bootstrap.py`` in it.
The jail gets these read-only; nothing else of the host's Python (user site, PYTHON* variables, .pth
files) reaches it. This module starts nothing.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from . import bootstrap

__all__ = ["JAIL_ENV", "Interpreter", "host_interpreter", "outermost"]

# The whole environment of a jailed program. OpenBLAS and OpenMP are held to one thread: the jail gets
# one core's worth of CPU, and every thread counts against its process limit.
JAIL_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def outermost(paths: list[str]) -> tuple[str, ...]:
    """Drop every path that lies beneath another one in the list."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return tuple(kept)


@dataclass(frozen=True)
class Interpreter:
    executable: str
    roots: tuple[str, ...]
    """Directories to make readable in the jail (none beneath another)."""
    site_dirs: tuple[str, ...]
    """Added to the jailed ``sys.path`` (site-packages, without their .pth files)."""

    def argv(self, status_fd: int) -> list[str]:
        """Start ``bootstrap.py``, which reports on ``status_fd`` (a descriptor the jail inherits)."""
        source = Path(bootstrap.__file__).read_text()
        return [self.executable, "-I", "-S", "-B", "-c", source, str(status_fd), *self.site_dirs]


@functools.cache
def host_interpreter() -> Interpreter:
    executable = os.path.realpath(sys.executable)
    paths = sysconfig.get_paths()
    site_dirs = [paths["purelib"], paths["platlib"], *site.getsitepackages()]
    site_dirs = list(dict.fromkeys(os.path.realpath(d) for d in site_dirs if os.path.isdir(d)))
    roots = [os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), *site_dirs]
    roots.append(os.path.dirname(executable))
    return Interpreter(executable, outermost(roots), tuple(site_dirs))

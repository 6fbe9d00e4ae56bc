"""Cold start of ``ponder ask``: from process start to the first answer byte on stdout.

Three figures per model:
  first_run  -- a fresh data directory: the weights are assembled from their packages and hashed first;
  cold       -- a new process, weights already verified (the usual case: every `ponder ask` after the first);
  import     -- just `ponder --version`, the interpreter and import cost inside "cold".

    python bench/cold_start.py [--repeats 3] [--models qwen2.5-coder-1.5b ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, installed_models, median
from ponder.config import DEFAULT_MODEL


def _env(data_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env["XDG_DATA_HOME"] = str(data_home)
    return env


def _command(*args: str) -> list[str]:
    script = shutil.which("ponder")
    return [script, *args] if script else [sys.executable, "-m", "ponder", *args]


def time_to_first_byte(model: str, data_home: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        _command("ask", "-m", model, "--max-tokens", "8", "What is the capital of France?"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(data_home),
    )
    assert proc.stdout is not None
    if not proc.stdout.read(1):
        raise RuntimeError(f"ponder ask -m {model} printed nothing (exit {proc.wait()})")
    elapsed = time.perf_counter() - started
    proc.communicate()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=[DEFAULT_MODEL.partition(":")[2]])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(_command("--version"), check=True, capture_output=True, env=_env(Path(tmp)))
        imports = time.perf_counter() - started
        for spec in installed_models(args.models):
            home = Path(tmp) / spec.name
            first = time_to_first_byte(f"embedded:{spec.name}", home)
            cold = [time_to_first_byte(f"embedded:{spec.name}", home) for _ in range(args.repeats)]
            emit(
                "cold_start",
                {
                    "model": f"embedded:{spec.name}",
                    "first_run_s": round(first, 2),
                    "cold_s_median": round(median(cold), 2),
                    "import_s": round(imports, 2),
                    "repeats": args.repeats,
                },
            )


if __name__ == "__main__":
    main()

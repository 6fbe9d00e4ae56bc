"""How fast Ctrl-C stops a streaming answer in ``ponder ask`` on the embedded model (a real process).

Each trial starts ``ponder ask`` on a long story, waits until the answer streams, sends SIGINT, and times
from the signal:
  stop      until "[stopped]" is on stderr: decoding has ended and the partial answer is stored
  exit      until the process has exited (exit status 130)
and counts the tokens of answer that reached stdout after the signal (queued or in decoding when it came).
The first trial assembles the weights in a scratch data directory and is not counted. This is where the
stop latency is measured; tests/integration/test_cli.py asserts only counts, never a time. Results are
appended to bench/results/stop_latency.jsonl.

    python bench/stop_latency.py [--trials 10] [--model embedded:smollm2-135m]
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit
from ponder.models.embedded.catalog import find_embedded
from ponder.models.embedded.weights import ensure_weights


def trial(model: str, home: Path) -> tuple[float, float, str]:
    """(seconds to "[stopped]", seconds to exit, answer text printed after the signal)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env.update(XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "ponder", "ask", "-m", model, "--mode", "instant", "--no-memory"]
    proc = subprocess.Popen(
        [*command, "--max-tokens", "3000", "Write a long story."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    streams = selectors.DefaultSelector()
    streams.register(proc.stdout, selectors.EVENT_READ, "out")
    streams.register(proc.stderr, selectors.EVENT_READ, "err")
    out, err, after = b"", b"", b""
    signalled: float | None = None
    stopped: float | None = None
    while streams.get_map():
        for key, _ in streams.select(timeout=300):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                streams.unregister(key.fileobj)
            elif key.data == "out":
                out += chunk
                if signalled is not None:
                    after += chunk
            else:
                err += chunk
                if stopped is None and b"[stopped]" in err:
                    stopped = time.perf_counter()
        if signalled is None and len(out) >= 40:
            proc.send_signal(signal.SIGINT)
            signalled = time.perf_counter()
    proc.wait()
    exited = time.perf_counter()
    if signalled is None or stopped is None or proc.returncode != 130:
        raise RuntimeError(f"the trial did not stop as expected (exit {proc.returncode}): {err[-500:]!r}")
    return stopped - signalled, exited - signalled, after.decode(errors="replace").rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--model", default="embedded:smollm2-135m")
    args = parser.parse_args()
    import llama_cpp

    spec = find_embedded(args.model.split(":", 1)[1])
    if spec is None:
        raise SystemExit(f"unknown embedded model {args.model}")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        trial(args.model, home)  # assembles the weights; not counted
        vocab = llama_cpp.Llama(
            model_path=str(ensure_weights(spec, home / "data" / "ponder" / "models")),
            vocab_only=True,
            verbose=False,
        )
        stops, exits, tokens = [], [], []
        for _ in range(args.trials):
            stop_s, exit_s, after = trial(args.model, home)
            stops.append(stop_s)
            exits.append(exit_s)
            tokens.append(len(vocab.tokenize(after.encode(), add_bos=False, special=False)) if after else 0)
    stops.sort()
    exits.sort()
    emit(
        "stop_latency",
        {
            "model": args.model,
            "trials": args.trials,
            "stop_s_p50": round(stops[len(stops) // 2], 3),
            "stop_s_max": round(stops[-1], 3),
            "exit_s_p50": round(exits[len(exits) // 2], 3),
            "exit_s_max": round(exits[-1], 3),
            "tokens_after_signal_p50": sorted(tokens)[len(tokens) // 2],
            "tokens_after_signal_max": max(tokens),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()

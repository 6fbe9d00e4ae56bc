# Developer entry points. The README's two commands are the source of truth; these wrap them.
.PHONY: install test lint typecheck check bench
# `make check` is what CI runs after installing (.ci/run): scripts/check.sh (lint, format, types), then the tests.

install:
	pip install -e ".[dev]"

test:
	bash scripts/test.sh

lint:
	ruff check src tests bench
	ruff format --check src tests bench

typecheck:
	mypy

check:
	bash scripts/check.sh
	bash scripts/test.sh

bench:
	python bench/decode_overhead.py
	python bench/ttft.py
	python bench/cold_start.py
	python bench/choose_default.py --n 30
	python bench/batch_decode.py
	python bench/modes.py --n 100 --modes instant thinking contemplating
	python bench/tool_calls.py
	python bench/sandbox.py
	python bench/server_load.py
	python bench/server_limits.py
	python bench/server_shutdown.py
	python bench/server_fuzz.py
	python bench/ocr.py
	python bench/asr.py
	python bench/image_qa.py
	python bench/voice_latency.py
	python bench/perception_limits.py
	python bench/stop_latency.py
	python bench/liveness.py
	python bench/crash.py
	python bench/injection.py

#!/usr/bin/env bash
# The style and type checks (needs the [dev] extra installed): ruff's lint and format check on src, tests and
# bench, then mypy, strict, on src/ponder (pyproject.toml lists the few untyped libraries it may not follow).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check src tests bench
ruff format --check src tests bench
mypy

#!/usr/bin/env bash
# The test command: install Ponder with its test extras, make sure the browser test has Debian's Chromium
# (installed when this runs as root on Debian; otherwise that test is skipped and says how to install it),
# then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
pip install -e ".[dev]"
python -m pytest "$@"

#!/usr/bin/env bash
# The test command: install Ponder with its test extras; make sure Debian's Chromium (the chat-page test) and
# redis-server (the Redis limiter's tests start their own) are there, installing them when this runs as root
# on Debian (elsewhere those tests are skipped and say how to install them); then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! { command -v chromium && command -v redis-server; } >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium redis-server >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q chromium redis-server >/dev/null; } \
        || echo "note: could not install chromium and redis-server; their tests will be skipped" >&2
fi
pip install -e ".[dev]"
python -m pytest "$@"

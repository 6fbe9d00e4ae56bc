#!/usr/bin/env bash
# The test command: install Ponder with its test extras; start PostgreSQL (scripts/postgres.sh); make sure
# Debian's Chromium (the chat-page test), redis-server (the Redis limiter's tests start their own), espeak-ng (spoken test audio) and DejaVu/Liberation
# fonts (rendered test images) are there, installing them when this runs as root on Debian (elsewhere those
# tests are skipped and say how to install them); then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="chromium redis-server espeak-ng fonts-dejavu-core fonts-liberation"
if ! { command -v chromium && command -v redis-server && command -v espeak-ng \
       && [ -d /usr/share/fonts/truetype/dejavu ] && [ -d /usr/share/fonts/truetype/liberation ]; } >/dev/null \
   && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $PACKAGES >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q $PACKAGES >/dev/null; } \
        || echo "note: could not install $PACKAGES; the tests that need them will be skipped" >&2
fi
pip install -e ".[dev]"
# PostgreSQL for the store tests (they also run on SQLite); a URL set by the caller wins.
POSTGRES_TEST_URL="${POSTGRES_TEST_URL:-$(bash scripts/postgres.sh | tail -n1)}"
export POSTGRES_TEST_URL
python -m pytest "$@"

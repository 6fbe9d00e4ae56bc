#!/usr/bin/env bash
# Start a local PostgreSQL for the tests and print its URL (the store tests run on it as well as on SQLite).
# As root on Debian: install postgresql if missing, start the packaged cluster, and create the role and the
# database `ponder_test` (password `ponder`, loopback only). Prints nothing when it cannot, and the tests that
# need PostgreSQL are then skipped with a message saying how to provide one (set POSTGRES_TEST_URL).
set -uo pipefail
URL="postgresql://ponder:ponder@127.0.0.1:5432/ponder_test"
[ "$(id -u)" = 0 ] || exit 0
if ! command -v pg_lsclusters >/dev/null && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q postgresql >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; } \
        || { echo "note: could not install postgresql" >&2; exit 0; }
fi
command -v pg_lsclusters >/dev/null || exit 0
read -r VERSION CLUSTER _ <<<"$(pg_lsclusters --no-header | head -n1)"
if [ -z "${VERSION:-}" ]; then
    VERSION="$(ls /usr/lib/postgresql | sort -n | tail -n1)"; CLUSTER=main
    pg_createcluster "$VERSION" "$CLUSTER" >/dev/null || exit 0
fi
pg_ctlcluster "$VERSION" "$CLUSTER" start >/dev/null 2>&1 || pg_ctlcluster "$VERSION" "$CLUSTER" status >/dev/null || exit 0
for _ in $(seq 50); do runuser -u postgres -- pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
psql_admin() { runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 "$@" >/dev/null 2>&1 \
               || runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }
psql_admin -tc "SELECT 1" || exit 0
[ "$(runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='ponder'")" = 1 ] \
    || psql_admin -c "CREATE ROLE ponder LOGIN PASSWORD 'ponder'" || exit 0
[ "$(runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname='ponder_test'")" = 1 ] \
    || psql_admin -c "CREATE DATABASE ponder_test OWNER ponder" || exit 0
echo "$URL"

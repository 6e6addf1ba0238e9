#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests that drive the real `etl` binary against
# fixture projects, the embedded SQLite warehouse and real PostgreSQL/MariaDB servers
# (the running ones on 127.0.0.1, or private ones started from the installed binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
# The ODBC connector (cargo feature `odbc`) and its tests (tests/odbc) need unixODBC and the
# drivers (apt-get install unixodbc unixodbc-dev odbc-postgresql odbc-mariadb libsqliteodbc):
# with them the suite runs with the feature on, without them the default build.
features=()
if [ -e /usr/include/sql.h ] && command -v odbcinst >/dev/null 2>&1; then
  features=(--features odbc)
fi
cargo test --all-targets --no-fail-fast "${features[@]}" "$@"

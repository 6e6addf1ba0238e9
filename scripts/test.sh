#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests that drive the real `etl` binary against
# fixture projects, the embedded SQLite warehouse and real PostgreSQL/MariaDB servers
# (the running ones on 127.0.0.1, or private ones started from the installed binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets --no-fail-fast "$@"

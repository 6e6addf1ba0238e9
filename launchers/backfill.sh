#!/bin/sh
# Reloads a date range of a project window by window with `etl backfill`:
#   launchers/backfill.sh PROJECT --from DATE --to DATE --days N [--env NAME] [--param KEY=VALUE]...
#                         [--task NAME]... [--parallel K] [--resume] [--keep-going] [--dry-run] [--quiet]
# Same checks, log lines and exit code as run.sh (launchers/lib/launch.sh).
# shellcheck source=lib/launch.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib/launch.sh"
launch backfill native "$@"

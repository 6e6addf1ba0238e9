#!/bin/sh
# Runs a project with `etl exec`:
#   launchers/run.sh PROJECT [--env NAME] [--load-type F|I] [--param KEY=VALUE]... [--task NAME]...
#                    [--dry-run] [--quiet]
# Checks the arguments, finds etl (ETL_BIN, PATH, target/release), writes a start and an end
# line to metadata/logs/PROJECT/launcher.log and exits with etl's exit code. Details:
# launchers/lib/launch.sh and docs/operations.md#launchers.
# shellcheck source=lib/launch.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib/launch.sh"
launch run native "$@"

#!/bin/sh
# Runs a project in the etl container (docker/Dockerfile), with projects/, etl.toml and
# metadata/ of this folder mounted:
#   launchers/run_docker.sh PROJECT [run.sh options]
#   launchers/run_docker.sh backfill PROJECT --from DATE --to DATE --days N [backfill.sh options]
# ETL_IMAGE names the image (default etl:latest), ETL_DOCKER the engine (docker, podman).
# ETL_CONN_*, ETL_ENV and ETL_LOG are passed into the container by name.
# shellcheck source=lib/launch.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib/launch.sh"
launch run docker "$@"

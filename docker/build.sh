#!/bin/sh
# The build steps of the etl image, run by docker/Dockerfile, and their check for CI.
#
#   docker/build.sh deps               fetch the locked dependencies (a cached image layer)
#   docker/build.sh build [--out DIR]  build the release binary with the locked dependencies,
#                                      smoke-test it, copy it to DIR (default: dist/)
#   docker/build.sh --check [--bin PATH]
#                                      what CI runs, without a container engine and without a
#                                      second release build: Cargo.lock matches Cargo.toml, the
#                                      Dockerfile still runs these steps and keeps its rules
#                                      (multi-stage, slim base, non-root user, entrypoint etl,
#                                      volumes), and a binary already built passes the same
#                                      smoke test as the image's (PATH, else ETL_BIN, else
#                                      $CARGO_TARGET_DIR/{release,debug}/etl).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"

fail() {
    echo "docker/build.sh: $1" >&2
    exit 1
}

# The image's smoke test: the binary starts, knows its commands and checks the demo project.
smoke() {
    bin=$1
    "$bin" --version >/dev/null || fail "$bin --version failed"
    for command in exec backfill schedule launcher export check runs; do
        "$bin" "$command" --help >/dev/null || fail "$bin has no '$command' command"
    done
    "$bin" check projects/demo/project.rhai >/dev/null || fail "$bin check projects/demo/project.rhai failed"
    echo "smoke test passed: $("$bin" --version)"
}

check_dockerfile() {
    file=$HERE/Dockerfile
    [ -f "$file" ] || fail "$file is missing"
    require() {
        grep -Eq "$1" "$file" || fail "Dockerfile: $2"
    }
    require '^FROM .* AS build' "the first stage must be named 'build' (multi-stage)"
    [ "$(grep -c '^FROM ' "$file")" -ge 2 ] || fail "Dockerfile: a build stage and a runtime stage are expected"
    require '^FROM [^ ]*slim' "the runtime stage must use a slim base image"
    require '^RUN docker/build.sh deps' "the build stage must run 'docker/build.sh deps'"
    require '^RUN docker/build.sh build' "the build stage must run 'docker/build.sh build'"
    require '^USER etl' "the image must run as the non-root user etl"
    require '^ENTRYPOINT \["etl"\]' "the entrypoint must be etl (exec form, so signals reach it)"
    require '^VOLUME .*/work/projects' "projects/ must be a volume"
    require '^VOLUME .*/work/metadata' "metadata/ must be a volume"
    grep -q 'cargo build --release --locked' "$0" || fail "the build step must use --locked"
    [ -f "$ROOT/Cargo.lock" ] || fail "Cargo.lock is missing: the image builds with the locked dependencies"
    [ -f "$HERE/Dockerfile.dockerignore" ] || fail "docker/Dockerfile.dockerignore is missing (the build context would include target/)"
    echo "Dockerfile checked"
}

case "${1:-}" in
deps)
    cargo fetch --locked
    ;;
build)
    out=dist
    if [ "${2:-}" = "--out" ]; then
        out=${3:?--out needs a folder}
    fi
    cargo build --release --locked --bin etl
    bin=${CARGO_TARGET_DIR:-target}/release/etl
    smoke "$bin"
    mkdir -p "$out"
    cp "$bin" "$out/etl"
    echo "built $out/etl"
    ;;
--check)
    check_dockerfile
    cargo tree --locked --depth 0 >/dev/null ||
        fail "Cargo.lock does not match Cargo.toml: run cargo update -w (or cargo build) and commit Cargo.lock"
    echo "Cargo.lock matches Cargo.toml"
    bin=""
    if [ "${2:-}" = "--bin" ]; then
        bin=${3:?--bin needs a path}
    elif [ -n "${ETL_BIN:-}" ]; then
        bin=$ETL_BIN
    else
        for candidate in "${CARGO_TARGET_DIR:-target}/release/etl" "${CARGO_TARGET_DIR:-target}/debug/etl"; do
            if [ -x "$candidate" ]; then
                bin=$candidate
                break
            fi
        done
    fi
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        fail "no etl binary to smoke-test${bin:+ at $bin}: build one (cargo build) or pass --bin PATH"
    fi
    smoke "$bin"
    ;;
*)
    echo "Usage: docker/build.sh deps | build [--out DIR] | --check [--bin PATH]" >&2
    exit 2
    ;;
esac

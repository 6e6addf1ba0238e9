# Shared by run.sh, backfill.sh and run_docker.sh (sourced, not run): checks the arguments,
# finds etl (or the container engine and image), writes a start and an end line to the
# project's launcher log, runs etl, and exits with etl's exit code.
#
# Exit codes: etl's own (0 success, 1 a task failed, 2 a usage or script error); 2 when the
# launcher itself refuses the arguments or cannot find etl.
#
# Environment:
#   ETL_HOME          the folder holding projects/, etl.toml, metadata/ (default: the folder
#                     above launchers/)
#   ETL_BIN           the etl binary (default: etl on PATH, then ETL_HOME/target/release/etl)
#   ETL_METADATA_DIR  where logs go (default: ETL_HOME/metadata; keep it equal to etl.toml's
#                     metadata_dir)
#   ETL_DOCKER        the container engine for run_docker.sh (default: docker, then podman)
#   ETL_IMAGE         the image for run_docker.sh (default: etl:latest)
#   ETL_DOCKER_USER   --user for the container (default: your uid:gid, so files in metadata/
#                     stay yours; empty: the image's own non-root user)

LAUNCHER=$(basename "$0")

usage() {
    case "$MODE" in
    run)
        cat <<USAGE
Usage: $LAUNCHER PROJECT [--env NAME] [--load-type F|I] [--param KEY=VALUE]... [--task NAME]...
       [--dry-run] [--quiet]

Runs projects/PROJECT/project.rhai with \`etl exec\`.
  PROJECT              a folder under projects/ (letters, digits, _ and -)
  --env NAME           the environment of etl.toml (default: ETL_ENV, then default_env)
  --load-type F|I      F full reload (default), I incremental
  --param KEY=VALUE    a value for run.params (repeatable)
  --task NAME          run only this task (repeatable)
  --dry-run            evaluate everything, write nothing
  --quiet              only warnings and errors on the console
USAGE
        ;;
    backfill)
        cat <<USAGE
Usage: $LAUNCHER PROJECT --from DATE --to DATE --days N [--env NAME] [--param KEY=VALUE]...
       [--task NAME]... [--parallel K] [--resume] [--keep-going] [--dry-run] [--quiet]

Reloads [--from, --to) of projects/PROJECT/project.rhai in windows of N days with \`etl backfill\`.
  --from DATE          the first day (YYYY-MM-DD, or "YYYY-MM-DD HH:MM:SS"), included
  --to DATE            the end, excluded
  --days N             days per window (a whole number from 1)
  --parallel K         windows at once (default 1)
  --resume             skip the windows already done (after a failure)
  --keep-going         run every window even after a failure
  (--env, --param, --task, --dry-run, --quiet as for run.sh)
USAGE
        ;;
    esac
    if [ "$RUNNER" = docker ]; then
        echo
        echo "In a container: $LAUNCHER [backfill] PROJECT ... (the word backfill first for a backfill)."
    fi
}

fail_usage() {
    echo "$LAUNCHER: error: $1" >&2
    echo "Run '$LAUNCHER --help' for the arguments." >&2
    exit 2
}

# One word quoted for eval.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

matches() {
    printf '%s\n' "$1" | grep -Eq "$2"
}

check_date() {
    matches "$2" '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$' ||
        fail_usage "$1 '$2' is not a date: write YYYY-MM-DD or \"YYYY-MM-DD HH:MM:SS\""
}

check_count() {
    matches "$2" '^[1-9][0-9]*$' || fail_usage "$1 '$2' must be a whole number from 1"
}

launch() {
    MODE=$1
    RUNNER=$2
    shift 2
    if [ "$RUNNER" = docker ] && [ "${1:-}" = backfill ]; then
        MODE=backfill
        shift
    fi
    case "${1:-}" in
    -h | --help)
        usage
        exit 0
        ;;
    "") fail_usage "the project is missing: $LAUNCHER PROJECT [options]" ;;
    -*) fail_usage "the project comes first, before '$1': $LAUNCHER PROJECT [options]" ;;
    esac
    PROJECT=$1
    shift
    matches "$PROJECT" '^[A-Za-z0-9_-]+$' ||
        fail_usage "project '$PROJECT' is not a project name (a folder under projects/: letters, digits, _ and -)"

    ENV_NAME=""
    EXTRA=""
    FROM=""
    TO=""
    DAYS=""
    QUIET=""
    LOAD_TYPE=""
    while [ $# -gt 0 ]; do
        opt=$1
        case "$opt" in
        --*=*)
            value=${opt#*=}
            opt=${opt%%=*}
            has_value=1
            ;;
        *)
            value=${2-}
            has_value=0
            [ $# -ge 2 ] && has_value=2
            ;;
        esac
        takes_value=1
        case "$opt" in
        --resume | --keep-going | --dry-run | --quiet | -q | -h | --help) takes_value=0 ;;
        esac
        if [ $takes_value = 1 ] && [ $has_value = 0 ]; then
            case "$opt" in
            --env | --load-type | --param | --task | --from | --to | --days | --parallel)
                fail_usage "$opt needs a value"
                ;;
            esac
        fi
        case "$MODE:$opt" in
        *:--env)
            matches "$value" '^[A-Za-z0-9_-]+$' ||
                fail_usage "--env '$value' is not an environment name (letters, digits, _ and -)"
            ENV_NAME=$value
            ;;
        run:--load-type)
            case "$value" in
            F | f | I | i | full | FULL | incremental | INCREMENTAL) ;;
            *) fail_usage "--load-type '$value' must be F (full) or I (incremental)" ;;
            esac
            LOAD_TYPE=$value
            ;;
        *:--param)
            case "$value" in
            =* | "") fail_usage "--param '$value' must look like KEY=VALUE" ;;
            *=*) ;;
            *) fail_usage "--param '$value' must look like KEY=VALUE" ;;
            esac
            EXTRA="$EXTRA --param $(quote "$value")"
            ;;
        *:--task)
            [ -n "$value" ] || fail_usage "--task needs a task name"
            EXTRA="$EXTRA --task $(quote "$value")"
            ;;
        backfill:--from)
            check_date --from "$value"
            FROM=$value
            ;;
        backfill:--to)
            check_date --to "$value"
            TO=$value
            ;;
        backfill:--days)
            check_count --days "$value"
            DAYS=$value
            ;;
        backfill:--parallel)
            check_count --parallel "$value"
            EXTRA="$EXTRA --parallel $value"
            ;;
        backfill:--resume | backfill:--keep-going | *:--dry-run)
            EXTRA="$EXTRA $opt"
            ;;
        *:--quiet | *:-q)
            QUIET=-q
            ;;
        *:-h | *:--help)
            usage
            exit 0
            ;;
        *)
            if [ "$MODE" = run ]; then
                case "$opt" in
                --from | --to | --days | --parallel | --resume | --keep-going)
                    fail_usage "$opt is a backfill option: use backfill.sh (or run_docker.sh backfill)"
                    ;;
                esac
            fi
            fail_usage "unknown argument '$1'"
            ;;
        esac
        if [ $takes_value = 1 ] && [ $has_value = 2 ]; then
            shift 2
        else
            shift
        fi
    done
    if [ "$MODE" = backfill ]; then
        [ -n "$FROM" ] || fail_usage "--from DATE is missing (the first day of the range)"
        [ -n "$TO" ] || fail_usage "--to DATE is missing (the end of the range, excluded)"
        [ -n "$DAYS" ] || fail_usage "--days N is missing (days per window)"
        # Every fragment of EXTRA starts with a space (the one in front is removed below), so
        # options prepended later (--env, --load-type) never run into the next one.
        EXTRA=" --from $(quote "$FROM") --to $(quote "$TO") --days $DAYS$EXTRA"
    fi

    HERE=$(cd "$(dirname "$0")" && pwd)
    ROOT=${ETL_HOME:-$(dirname "$HERE")}
    [ -d "$ROOT" ] || fail_usage "ETL_HOME '$ROOT' is not a folder"
    ROOT=$(cd "$ROOT" && pwd)
    SCRIPT="projects/$PROJECT/project.rhai"
    if [ ! -f "$ROOT/$SCRIPT" ]; then
        known=$(cd "$ROOT/projects" 2>/dev/null && for d in */; do [ -f "$d/project.rhai" ] && printf '%s ' "${d%/}"; done | sed 's/ $//')
        fail_usage "no project '$PROJECT': $ROOT/$SCRIPT does not exist (projects: ${known:-none})"
    fi
    # Given twice (a generated launcher's default, then the caller's): the last one wins.
    [ -n "$LOAD_TYPE" ] && EXTRA=" --load-type $(quote "$LOAD_TYPE")$EXTRA"
    [ -n "$ENV_NAME" ] && EXTRA=" --env $(quote "$ENV_NAME")$EXTRA"
    EXTRA=${EXTRA# }
    case "$MODE" in
    run) COMMAND="exec" ;;
    backfill) COMMAND="backfill" ;;
    esac

    if [ "$RUNNER" = docker ]; then
        find_engine
        ENV_FLAGS=""
        for name in $(env | sed -n 's/^\(ETL_CONN_[A-Za-z0-9_]*\)=.*/\1/p; s/^\(ETL_ENV\)=.*/\1/p; s/^\(ETL_LOG\)=.*/\1/p'); do
            # Names only: docker reads the values from this environment, so no secret is
            # ever on a command line.
            ENV_FLAGS="$ENV_FLAGS -e $name"
        done
        USER_FLAG=""
        docker_user=${ETL_DOCKER_USER-$(id -u):$(id -g)}
        [ -n "$docker_user" ] && USER_FLAG="--user $(quote "$docker_user")"
        MOUNTS="-v $(quote "$ROOT/projects:/work/projects:ro") -v $(quote "$ROOT/metadata:/work/metadata")"
        [ -f "$ROOT/etl.toml" ] && MOUNTS="$MOUNTS -v $(quote "$ROOT/etl.toml:/work/etl.toml:ro")"
        [ -f "$ROOT/.env" ] && MOUNTS="$MOUNTS -v $(quote "$ROOT/.env:/work/.env:ro")"
        mkdir -p "$ROOT/metadata"
        CMD="$(quote "$ENGINE") run --rm $USER_FLAG $MOUNTS$ENV_FLAGS $(quote "$IMAGE") $QUIET $COMMAND $(quote "$SCRIPT") $EXTRA"
        SHOWN="$ENGINE run ... $IMAGE $COMMAND $SCRIPT"
    else
        find_etl
        CMD="$(quote "$ETL") $QUIET $COMMAND $(quote "$SCRIPT") $EXTRA"
        SHOWN="$ETL $COMMAND $SCRIPT"
    fi

    METADATA=${ETL_METADATA_DIR:-$ROOT/metadata}
    LOG_DIR="$METADATA/logs/$PROJECT"
    LOG="$LOG_DIR/launcher.log"
    mkdir -p "$LOG_DIR" 2>/dev/null || LOG=/dev/null
    started=$(date +%s)
    printf '%s start %s pid=%s: %s %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$LAUNCHER" "$$" "$SHOWN" \
        "${EXTRA# }" >>"$LOG" 2>/dev/null

    cd "$ROOT" || exit 2
    eval "$CMD"
    code=$?
    printf '%s end %s pid=%s: exit %s after %ss\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$LAUNCHER" "$$" \
        "$code" "$(($(date +%s) - started))" >>"$LOG" 2>/dev/null
    exit "$code"
}

find_etl() {
    if [ -n "${ETL_BIN:-}" ]; then
        [ -x "$ETL_BIN" ] || fail_usage "ETL_BIN '$ETL_BIN' is not an executable file"
        ETL=$ETL_BIN
    elif command -v etl >/dev/null 2>&1; then
        ETL=$(command -v etl)
    elif [ -x "$ROOT/target/release/etl" ]; then
        ETL=$ROOT/target/release/etl
    else
        fail_usage "cannot find etl: set ETL_BIN, put etl on PATH, or build it (cargo build --release in $ROOT)"
    fi
}

find_engine() {
    if [ -n "${ETL_DOCKER:-}" ]; then
        ENGINE=$ETL_DOCKER
    elif command -v docker >/dev/null 2>&1; then
        ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then
        ENGINE=podman
    else
        fail_usage "cannot find docker or podman: install one, or set ETL_DOCKER"
    fi
    command -v "$ENGINE" >/dev/null 2>&1 || fail_usage "ETL_DOCKER '$ENGINE' is not a command"
    IMAGE=${ETL_IMAGE:-etl:latest}
}

#!/usr/bin/env bash
# The project's load benchmark (issues 3 and 4; DESIGN.md §6).
#
#   scripts/bench.sh                    1,000,000 rows, every step
#   scripts/bench.sh --rows 5000000     the memory check: peak RSS must not grow with N
#   scripts/bench.sh --steps a,b,s      only some steps (see below)
#   scripts/bench.sh checks scd2        the warehouse-layer steps alone (k and v; issue 13)
#   scripts/bench.sh s3 parquet         the file-source benchmarks instead (scripts/bench/files.sh)
#
# Needs: PostgreSQL at 127.0.0.1:5432 (user postgres, trust) with psql; /usr/bin/time (GNU);
# a Rust toolchain; optionally MariaDB at 127.0.0.1:3306 (root, no password) with the mariadb
# client, and sqlite3. Hosts, ports and users: BENCH_PG_HOST/PORT/USER, BENCH_MY_HOST/PORT/USER.
#
# It generates a deterministic N-row `orders` dataset (cached as CSV under target/bench-data/),
# creates a throwaway database etl_bench_<pid> (in PostgreSQL and, for step f, MariaDB; both
# dropped at the end, even on failure), loads the data as the source table `orders`, then
# measures each step as a whole process with /usr/bin/time -v (wall seconds, peak RSS):
#
#   a   psql \copy of the CSV into an empty table (text COPY: the server parses text)
#   b   psql \copy of a binary COPY file into an empty table: the baseline of every ratio
#   c   etl CSV -> PostgreSQL, full load                     target <= 1.10 x (b), <= 32 MiB
#   s   etl CSV -> SQLite (the embedded warehouse), full load
#   d   etl PostgreSQL -> PostgreSQL, full load              target <= 1.10 x (b), <= 32 MiB
#   f0  mariadb --quick -e 'SELECT * FROM orders' > /dev/null (the extract limit)
#   f   etl MariaDB -> PostgreSQL, full load                 target <= 1.15 x (b), <= 32 MiB
#   e0  etl incremental (key + cursor, --load-type I), first run: loads everything
#   e   etl incremental after 1% of the rows changed and 1% inserted    target < 0.5 s
#   k0  etl PostgreSQL -> PostgreSQL, full load (as d), no checks
#   k   the same with the six built-in checks (not_null, unique, accepted_values,
#       relationships, row_count, range)                   target <= 1.30 x (k0)
#   v0  etl SCD2 of an N-row customers dimension, first run (one version per key)
#   v   the same after 1% of the customers changed         target <= 3 s
#   t0  etl PostgreSQL -> PostgreSQL, full load (as d), no transform
#   t   the same through a .map adding a column   target <= 1.5 s per 1M rows over (t0)
#       (the closure names its columns, so each call gets only those: scripting.md)
#   tw  the same .map made to look at the whole row (r.len()): each call gets every column
#   b2  two psql \copy of binary files (half the rows each) into one table at once: what
#       the server gains from a second COPY stream on this machine
#   cp, dp, fp  (c), (d), (f) written over N COPY streams (`parallel: N`, N = --streams;
#       fp also reads MariaDB over N key ranges)       target <= 0.90 x (b) with the cores
#
# (--steps takes the letters a,b,c,s,d,f,e,k,v,t,p; f includes f0, e e0, k k0, v v0, t t0
# and tw, and p the parallel steps b2, cp, dp and fp. The words `checks`, `scd2`, `transforms` and
# `parallel` as arguments select k, v, t and p.) Every etl step
# uses the release binary (built first), a project under benches/projects/ and
# benches/etl.toml, and runs after VACUUM ANALYZE + CHECKPOINT into a dropped target. After
# each load the target is compared with the source by per-column checksums computed in SQL
# (scripts/bench/checksum.sql): OK or MISMATCH. A step that fails is reported as FAILED with
# the tail of its output; the other steps still run.
#
# Prints the machine, then a table: step, rows, seconds, rows/s, peak MiB, ratio to (b),
# check; then the targets. Exit status: 0 when every step ran and matched, 1 when a step
# failed or mismatched, 2 on a usage error or when the setup (data, database) failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${1:-} in s3 | parquet) exec "$ROOT/scripts/bench/files.sh" "$@" ;; esac
HELPERS=$ROOT/scripts/bench
DATA_DIR=$ROOT/target/bench-data
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
ETL=$TARGET_DIR/release/etl

PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
MY_HOST=${BENCH_MY_HOST:-127.0.0.1}
MY_PORT=${BENCH_MY_PORT:-3306}
MY_USER=${BENCH_MY_USER:-root}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-900}

ROWS=1000000
STEPS=a,b,c,s,d,f,e,k,v,t
WORDS=""
BUILD=1
REPEAT=1
KEEP=0
STREAMS=2

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  cat <<'EOF'

Options:
  --rows N       rows in the dataset (default 1000000)
  --steps LIST   comma-separated steps to run (default a,b,c,s,d,f,e,k,v,t); b always runs
  checks, scd2, transforms, parallel
                 (arguments) run only these groups: k0+k, v0+v, t0+t, b2+cp+dp+fp (with b,
                 the baseline)
  --repeat N     run each step but e0/e N times and keep the best time (and the largest
                 peak RSS): steadier ratios on a busy machine (default 1)
  --streams N    COPY streams of the parallel steps cp, dp, fp (default 2)
  --no-build     use the existing release binary instead of running cargo build --release
  --keep         keep the databases and the work folder (their names are printed)
  -h, --help     this text
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --rows) ROWS=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --rows=*) ROWS=${1#*=}; shift ;;
    --steps) STEPS=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --steps=*) STEPS=${1#*=}; shift ;;
    --repeat) REPEAT=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --repeat=*) REPEAT=${1#*=}; shift ;;
    --streams) STREAMS=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --streams=*) STREAMS=${1#*=}; shift ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    checks) WORDS+=,k; shift ;;
    scd2) WORDS+=,v; shift ;;
    transforms) WORDS+=,t; shift ;;
    parallel) WORDS+=,p; shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
ROWS=${ROWS//_/}
[ -z "$WORDS" ] || STEPS=${WORDS#,}
if ! [[ $ROWS =~ ^[1-9][0-9]*$ ]] || [ "$ROWS" -lt 200 ]; then
  echo "--rows must be a whole number of at least 200, not '$ROWS'" >&2
  exit 2
fi
if ! [[ $STREAMS =~ ^[1-9][0-9]*$ ]] || [ "$STREAMS" -gt 32 ]; then
  echo "--streams must be a whole number from 1 to 32, not '$STREAMS'" >&2
  exit 2
fi
if ! [[ $REPEAT =~ ^[1-9][0-9]*$ ]]; then
  echo "--repeat must be a positive whole number, not '$REPEAT'" >&2
  exit 2
fi
for s in ${STEPS//,/ }; do
  case $s in a | b | c | s | d | e | f | k | v | t | p) ;; *) echo "unknown step '$s' in --steps (valid: a,b,c,s,d,f,e,k,v,t,p)" >&2; exit 2 ;; esac
done
want() { [[ ,$STEPS,b, == *,$1,* ]]; }

DB=etl_bench_$$
WORK=$DATA_DIR/run-$$
PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
MY_URL="mysql://$MY_USER@$MY_HOST:$MY_PORT/$DB"
PG_CREATED=0
MY_CREATED=0
TIMED_PID=""
SETUP_DONE=0

# ---------------------------------------------------------------------------------------------
# Helpers

say() { printf '==> %s\n' "$*" >&2; }
indent() { sed 's/^/      /' >&2; }
sql_lit() { printf "'%s'" "${1//\'/\'\'}"; }
psql_on() { local db=$1; shift; PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" "$@"; }
pg() { psql_on "$DB" "$@"; }
pg_admin() { psql_on postgres "$@"; }
my() { mariadb -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" --default-character-set=utf8mb4 "$@"; }

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ "$rc" != 0 ] && [ "$rc" -lt 128 ] && [ "$SETUP_DONE" = 0 ]; then
    say "setup failed (exit status $rc)"
    rc=2
  fi
  if [ -n "$TIMED_PID" ]; then
    kill -TERM "$TIMED_PID" 2>/dev/null
    wait "$TIMED_PID" 2>/dev/null
  fi
  if [ "$KEEP" = 1 ]; then
    say "kept: PostgreSQL database $DB, MariaDB database $DB, work folder $WORK"
  else
    [ "$PG_CREATED" = 1 ] && pg_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
    [ "$MY_CREATED" = 1 ] && my -e "DROP DATABASE IF EXISTS \`$DB\`" >/dev/null 2>&1
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Results per step.
declare -A DESC ROWS_OF SECS RSS_KB STATUS CHECK ERR TAIL CPU SRV
ORDER=(a b b2 c cp s d dp f0 f fp e0 e k0 k v0 v t0 t tw)
DESC=(
  [a]='psql \copy CSV (text COPY)'
  [b]='psql \copy binary file (baseline)'
  [c]='etl CSV -> PG, full'
  [s]='etl CSV -> SQLite, full'
  [d]='etl PG -> PG, full'
  [f0]="mariadb --quick SELECT * (extract)"
  [f]='etl MariaDB -> PG, full'
  [e0]='etl incremental, first run (all)'
  [e]='etl incremental, 1% changed + 1% new'
  [k0]='etl PG -> PG, full, no checks'
  [k]='etl PG -> PG, full, 6 checks'
  [v0]='etl SCD2 dimension, first run'
  [v]='etl SCD2 dimension, 1% changed'
  [t0]='etl PG -> PG, full, no transform'
  [t]='etl PG -> PG, full, .map per row'
  [tw]='etl PG -> PG, full, .map, whole row'
  [b2]='psql \copy binary, 2 streams at once'
  [cp]="etl CSV -> PG, full, $STREAMS streams"
  [dp]="etl PG -> PG, full, $STREAMS streams"
  [fp]="etl MariaDB -> PG, full, $STREAMS streams"
)

# error_tail FILE: the lines that say what went wrong: all of a short output; of a long one,
# the first error line (where the message is) and the last lines.
error_tail() {
  local lines first
  lines=$(grep -v '^[[:space:]]*$' "$1" || true)
  if [ "$(wc -l <<<"$lines")" -le 12 ]; then
    printf '%s\n' "$lines"
    return
  fi
  first=$(grep -n -i -m 1 -E 'error|panicked|fatal' <<<"$lines" | cut -d: -f1 || true)
  if [ -n "$first" ] && [ "$first" -lt "$(($(wc -l <<<"$lines") - 6))" ]; then
    sed -n "${first},$((first + 2))p" <<<"$lines"
    echo "..."
  fi
  tail -n 6 <<<"$lines"
}

# fail STEP MESSAGE [LOGFILE...]: records a failed step and shows its error tail.
fail() {
  local step=$1 msg=$2; shift 2
  STATUS[$step]=FAILED
  ERR[$step]=$msg
  TAIL[$step]=""
  local f
  for f in "$@"; do
    [ -s "$f" ] && TAIL[$step]+=$(error_tail "$f")$'\n'
  done
  say "($step) FAILED: $msg"
  [ -z "${TAIL[$step]}" ] || printf '%s' "${TAIL[$step]}" | indent
  return 0
}

# run_timed STEP OUT CMD...: runs CMD as a whole process under /usr/bin/time -v (and a
# timeout), stdout to OUT, stderr to $WORK/STEP.err; records seconds and peak RSS (of run
# RUN_NO > 1 of a repeated step: the best seconds and the largest RSS so far).
RUN_NO=1
RUN_OF=1
# server_ticks: CPU clock ticks used so far by the PostgreSQL and MariaDB servers on this
# machine (every process, and the backends that have exited: the postmaster's reaped
# children). Not the servers' (remote ones, other users') when they cannot be read.
server_ticks() {
  local pids pm
  pids=$(pgrep -x postgres 2>/dev/null; pgrep -x mariadbd 2>/dev/null; pgrep -x mysqld 2>/dev/null) || true
  pm=$(pgrep -o -x postgres 2>/dev/null) || true
  # shellcheck disable=SC2086 # a list of pids
  { for p in $pids; do cat "/proc/$p/stat" 2>/dev/null; done; } |
    awk -v pm="$pm" '{ t += $14 + $15; if ($1 == pm) t += $16 + $17 } END { print t + 0 }'
}
TICKS=$(getconf CLK_TCK 2>/dev/null || echo 100)
run_timed() {
  local step=$1 out=$2; shift 2
  local tf=$WORK/$step.time err=$WORK/$step.err rc=0 secs rss label="" ticks cpu srv
  [ "$RUN_OF" = 1 ] || label="run $RUN_NO/$RUN_OF: "
  : >"$tf"
  # In the background and waited for, so a signal to this script interrupts the wait and the
  # cleanup stops the step (timeout runs it in a process group of its own, out of reach of
  # the terminal's Ctrl-C, and passes a TERM on to that group).
  ticks=$(server_ticks)
  timeout "$STEP_TIMEOUT" /usr/bin/time -v -o "$tf" "$@" >"$out" 2>"$err" &
  TIMED_PID=$!
  wait "$TIMED_PID" || rc=$?
  TIMED_PID=""
  srv=$(awk -v a="$ticks" -v b="$(server_ticks)" -v hz="$TICKS" 'BEGIN { printf "%.2f", (b - a) / hz }')
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tf")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")
  [ "$rc" != 0 ] || say "($step) $label$secs s, peak $(mib "$rss") MiB"
  if [ "$RUN_NO" -gt 1 ] && [ "${STATUS[$step]:-}" = ok ]; then
    # The CPU figures are those of the fastest run.
    if ! awk -v a="${SECS[$step]}" -v b="$secs" 'BEGIN { exit !(b + 0 < a + 0) }'; then
      cpu=${CPU[$step]}
      srv=${SRV[$step]}
    fi
    secs=$(awk -v a="${SECS[$step]}" -v b="$secs" 'BEGIN { printf "%.2f", (b + 0 < a + 0 ? b : a) }')
    [ "${rss:-0}" -gt "${RSS_KB[$step]:-0}" ] || rss=${RSS_KB[$step]}
  fi
  CPU[$step]=$cpu
  SRV[$step]=$srv
  SECS[$step]=$secs
  RSS_KB[$step]=$rss
  if [ "$rc" = 0 ]; then
    STATUS[$step]=ok
  elif [ "$rc" = 124 ]; then
    fail "$step" "timed out after $STEP_TIMEOUT s (BENCH_STEP_TIMEOUT)" "$err" "$out"
  else
    fail "$step" "exit status $rc" "$err" "$([ "$out" = /dev/null ] || echo "$out")"
  fi
  return "$rc"
}

mib() { awk -v k="${1:-}" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }

# Every measured step starts from the same state: no dead tuples, nothing dirty to flush.
settle() { pg -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null; }

# remember TAG: stores the source's checksums under TAG (the source changes for step e).
remember() {
  pg -c "DELETE FROM bench_expected WHERE tag = $(sql_lit "$1")" \
    -c "INSERT INTO bench_expected SELECT $(sql_lit "$1"), * FROM bench_checksums('public.orders', bench_columns('public.orders'))"
}

# verify STEP TARGET_TABLE TAG: compares the target's checksums with the source's (TAG).
verify() {
  local step=$1 table=$2 tag=$3 out
  if ! out=$(pg -At -F ' | ' 2>&1 <<SQL
SELECT 'type: ' || col, source_type || ' -> ' || coalesce(target_type, 'missing') FROM bench_type_diffs('public.orders', $(sql_lit "$table"));
SELECT 'MISMATCH: ' || metric, coalesce(e.value, '(none)') || ' in the source, ' || coalesce(t.value, '(none)') || ' in the target'
  FROM (SELECT metric, value FROM bench_expected WHERE tag = $(sql_lit "$tag")) e
  FULL JOIN bench_checksums($(sql_lit "$table"), bench_columns('public.orders')) t USING (metric)
 WHERE e.value IS DISTINCT FROM t.value;
SQL
  ); then
    CHECK[$step]=MISMATCH
    say "($step) check: MISMATCH (the checksum query failed)"
    printf '%s\n' "$out" | tail -n 5 | indent
    return 0
  fi
  if grep -q '^MISMATCH' <<<"$out"; then
    CHECK[$step]=MISMATCH
  else
    CHECK[$step]=OK
  fi
  say "($step) check: ${CHECK[$step]} ($table vs orders)"
  [ -n "$out" ] && printf '%s\n' "$out" | head -n 20 | indent
  return 0
}

drop_table() { pg -c "DROP TABLE IF EXISTS $1" >/dev/null; }
done_with() { [ "$KEEP" = 1 ] || drop_table "$1"; }

# repeat_timed STEP TIMES PREPARE OUT CMD...: TIMES runs of run_timed, each after the shell
# code PREPARE (which puts the target back in its starting state) and settle.
repeat_timed() {
  local step=$1 times=$2 prepare=$3 out=$4; shift 4
  local rc=0
  for ((RUN_NO = 1; RUN_NO <= times; RUN_NO++)); do
    RUN_OF=$times
    if ! eval "$prepare" || ! settle; then
      fail "$step" "preparing the run failed"
      rc=1
      break
    fi
    run_timed "$step" "$out" "$@" || { rc=1; break; }
  done
  RUN_NO=1
  RUN_OF=1
  return "$rc"
}

# etl_step STEP TIMES PREPARE PROJECT [ARGS...]: timed etl runs of a bench project.
etl_step() {
  local step=$1 times=$2 prepare=$3 project=$4; shift 4
  if [ -n "${BUILD_ERR:-}" ]; then
    fail "$step" "no etl binary: $BUILD_ERR"
    return 1
  fi
  repeat_timed "$step" "$times" "$prepare" "$WORK/$step.out" "$ETL" --config "$ROOT/benches/etl.toml" -q \
    exec "$ROOT/benches/projects/$project/project.rhai" "$@"
}

# full_load STEP TABLE PROJECT [ARGS...]: a full etl load of the original rows into TABLE
# (dropped before each run), checked against the source, then dropped.
full_load() {
  local step=$1 table=$2 project=$3; shift 3
  say "($step) ${DESC[$step]}"
  ROWS_OF[$step]=$ROWS
  if etl_step "$step" "$REPEAT" "drop_table $table" "$project" "$@"; then
    verify "$step" "$table" original
  fi
  done_with "$table"
}

# ---------------------------------------------------------------------------------------------
# Preconditions, build, data

for tool in psql /usr/bin/time timeout rustc cargo awk; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
pg_admin -Atc 'SELECT 1' >/dev/null 2>&1 || {
  echo "no PostgreSQL at $PG_HOST:$PG_PORT for user $PG_USER (psql cannot connect)" >&2
  exit 2
}
mkdir -p "$DATA_DIR/bin" "$WORK"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 4) }'; then
  say "warning: the machine is busy (load average $LOAD_START on $(nproc) cores): timings will be noisy"
fi

BUILD_ERR=""
if [ "$BUILD" = 1 ]; then
  say "cargo build --release (log: $WORK/build.log)"
  if ! (cd "$ROOT" && cargo build --release --bin etl) >"$WORK/build.log" 2>&1; then
    BUILD_ERR="cargo build --release failed"
    say "$BUILD_ERR; the etl steps will fail:"
    grep -E '^(error|warning: unused)' "$WORK/build.log" | head -n 5 | indent || true
    tail -n 3 "$WORK/build.log" | indent
  fi
elif [ ! -x "$ETL" ]; then
  BUILD_ERR="$ETL does not exist (run without --no-build)"
fi

# The generator is dependency-free, so rustc builds it in a second (cargo would build every
# dev-dependency in release first; it is also the example bench_gen_orders, for its tests).
GEN_SRC=$ROOT/benches/tools/gen_orders.rs
GEN=$DATA_DIR/bin/gen_orders
if [ ! -x "$GEN" ] || [ "$GEN_SRC" -nt "$GEN" ]; then
  say "building the data generator"
  rustc --edition 2021 -C opt-level=3 -o "$GEN" "$GEN_SRC"
fi
CSV=$DATA_DIR/orders-v$("$GEN" --version)-$ROWS.csv
if [ -s "$CSV" ]; then
  say "data: $CSV (cached)"
else
  say "generating $ROWS rows: $CSV"
  start=$(date +%s.%N)
  "$GEN" --rows "$ROWS" --out "$CSV"
  say "generated in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s, $(du -m "$CSV" | cut -f1) MiB"
fi

# ---------------------------------------------------------------------------------------------
# The source: a throwaway database with orders loaded from the CSV, and a binary COPY file.

say "creating database $DB"
pg_admin -c "CREATE DATABASE \"$DB\"" >/dev/null
PG_CREATED=1
pg -f "$HELPERS/orders.sql" -f "$HELPERS/checksum.sql" \
  -c 'CREATE TABLE bench_expected (tag text, metric text, value text, PRIMARY KEY (tag, metric))' >/dev/null
say "loading the source table orders"
pg -c "\\copy orders from $(sql_lit "$CSV") (format csv, header)" \
  -c 'ALTER TABLE orders ADD PRIMARY KEY (id)' \
  -c 'CREATE INDEX orders_updated_at ON orders (updated_at)' \
  -c 'VACUUM ANALYZE orders' \
  -c "\\copy orders to $(sql_lit "$WORK/orders.bin") (format binary)"
loaded=$(pg -Atc 'SELECT count(*) FROM orders')
[ "$loaded" = "$ROWS" ] || { echo "orders has $loaded rows, expected $ROWS" >&2; exit 2; }
say "source checksums"
remember original
if want k || want v; then
  customers=$((ROWS > 200000 ? ROWS : 200000))
  say "creating the source table customers ($customers rows)"
  pg -v rows="$customers" -f "$HELPERS/customers.sql" >/dev/null
fi
SETUP_DONE=1

# ---------------------------------------------------------------------------------------------
# The steps

# (a) and (b): psql baselines into fresh empty tables, checked like the etl loads.
for step in a b; do
  want "$step" || continue
  table=public.psql_$step
  if [ "$step" = a ]; then
    copy="\\copy $table from $(sql_lit "$CSV") (format csv, header)"
  else
    copy="\\copy $table from $(sql_lit "$WORK/orders.bin") (format binary)"
  fi
  say "($step) ${DESC[$step]}"
  ROWS_OF[$step]=$ROWS
  if repeat_timed "$step" "$REPEAT" "pg -c 'DROP TABLE IF EXISTS $table' -c 'CREATE TABLE $table (LIKE orders)' >/dev/null" \
    "$WORK/$step.out" psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DB" -c "$copy"; then
    verify "$step" "$table" original
  fi
  done_with "$table"
done

# (b2): the baseline's rows as two binary files, copied into one table at once.
if want p; then
  say "(b2) ${DESC[b2]}"
  ROWS_OF[b2]=$ROWS
  table=public.psql_b2
  pg -c "\\copy (SELECT * FROM orders WHERE id % 2 = 0) to $(sql_lit "$WORK/orders.0.bin") (format binary)" \
    -c "\\copy (SELECT * FROM orders WHERE id % 2 = 1) to $(sql_lit "$WORK/orders.1.bin") (format binary)"
  {
    echo 'set -e'
    for i in 0 1; do
      printf "PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h %q -p %q -U %q -d %q -c %q & p%s=\$!\n" \
        "$PG_HOST" "$PG_PORT" "$PG_USER" "$DB" "\\copy $table from $(sql_lit "$WORK/orders.$i.bin") (format binary)" "$i"
    done
    echo 'wait "$p0"; wait "$p1"'
  } >"$WORK/b2.sh"
  if repeat_timed b2 "$REPEAT" "pg -c 'DROP TABLE IF EXISTS $table' -c 'CREATE TABLE $table (LIKE orders)' >/dev/null" \
    "$WORK/b2.out" bash "$WORK/b2.sh"; then
    verify b2 "$table" original
  fi
  done_with "$table"
  rm -f "$WORK"/orders.[01].bin
fi

export ETL_CONN_WAREHOUSE=$PG_URL ETL_CONN_SOURCE=$PG_URL ETL_CONN_MYSQL=$MY_URL

! want c || full_load c bench.orders_csv csv_load --param "csv=$CSV" --param into=bench.orders_csv || true
! want p || full_load cp bench.orders_csv csv_load --param "csv=$CSV" --param into=bench.orders_csv --param "parallel=$STREAMS" || true

if want s; then
  say "(s) ${DESC[s]}"
  ROWS_OF[s]=$ROWS
  sqlite_db=$WORK/warehouse.db
  rm -f "$sqlite_db"
  if ETL_CONN_WAREHOUSE=sqlite://$sqlite_db etl_step s "$REPEAT" "rm -f '$sqlite_db'" csv_load --param "csv=$CSV" --param into=orders_csv; then
    # SQLite has no md5: its rows come back into PostgreSQL through sqlite3's CSV (which keeps
    # NULL and '' apart) into a table of the source's types, and are checked there.
    if command -v sqlite3 >/dev/null; then
      cols=$(pg -Atc "SELECT array_to_string(array(SELECT quote_ident(c) FROM unnest(bench_columns('orders')) c), ', ')")
      if sqlite3 -csv -header "$sqlite_db" "SELECT $cols FROM orders_csv ORDER BY id" >"$WORK/sqlite.csv" 2>"$WORK/s.export.err" &&
        pg -c 'DROP TABLE IF EXISTS public.sqlite_back' -c 'CREATE TABLE public.sqlite_back (LIKE orders)' \
          -c "\\copy public.sqlite_back from $(sql_lit "$WORK/sqlite.csv") (format csv, header)" >"$WORK/s.back.err" 2>&1; then
        verify s public.sqlite_back original
      else
        CHECK[s]=MISMATCH
        say "(s) check: MISMATCH (the SQLite table could not be read back)"
        cat "$WORK/s.export.err" "$WORK/s.back.err" | tail -n 5 | indent
      fi
      done_with public.sqlite_back
      rm -f "$WORK/sqlite.csv"
    else
      CHECK[s]='n/a (no sqlite3)'
    fi
  fi
  [ "$KEEP" = 1 ] || rm -f "$sqlite_db"
fi

! want d || full_load d bench.orders_pg pg_load || true
! want p || full_load dp bench.orders_pg pg_load --param "parallel=$STREAMS" || true

# (f) needs the original data, so it runs before (e) changes the source.
if want f || want p; then
  ROWS_OF[f0]=$ROWS
  ROWS_OF[f]=$ROWS
  if ! command -v mariadb >/dev/null || ! (exec 3<>"/dev/tcp/$MY_HOST/$MY_PORT") 2>/dev/null || ! my -e 'SELECT 1' >/dev/null 2>&1; then
    STATUS[f0]="skipped"
    ERR[f0]="no MariaDB"
    STATUS[f]="skipped"
    ERR[f]="no MariaDB reachable at $MY_HOST:$MY_PORT as $MY_USER (or no mariadb client)"
    STATUS[fp]="skipped"
    ERR[fp]=${ERR[f]}
    say "(f) skipped: ${ERR[f]}"
  else
    say "(f) loading orders into MariaDB database $DB"
    # PostgreSQL's text COPY format is what LOAD DATA reads by default (tab-separated, \N for
    # NULL, backslash escapes); booleans go as 1/0 for tinyint(1).
    my_setup_ok=1
    pg -c "\\copy (SELECT id, customer_id, status, amount, quantity, note, is_paid::int, created_at, updated_at, order_date FROM orders ORDER BY id) to $(sql_lit "$WORK/orders.tsv")" &&
      my -e "CREATE DATABASE \`$DB\`" && MY_CREATED=1 &&
      my -D "$DB" <"$HELPERS/orders_mariadb.sql" &&
      my --local-infile=1 -D "$DB" -N -e "LOAD DATA LOCAL INFILE $(sql_lit "$WORK/orders.tsv") INTO TABLE orders CHARACTER SET utf8mb4; SHOW WARNINGS LIMIT 5" >"$WORK/f.setup.out" 2>&1 &&
      my -D "$DB" -e 'ANALYZE TABLE orders' >/dev/null ||
      my_setup_ok=0
    rm -f "$WORK/orders.tsv"
    my_rows=$(my -N -D "$DB" -e 'SELECT count(*) FROM orders' 2>/dev/null || echo 0)
    # Any warning from LOAD DATA means the MariaDB copy is not exact.
    [ ! -s "$WORK/f.setup.out" ] || my_setup_ok=0
    if [ "$my_setup_ok" != 1 ] || [ "$my_rows" != "$ROWS" ]; then
      fail f0 "loading MariaDB failed ($my_rows rows)" "$WORK/f.setup.out"
      fail f "loading MariaDB failed"
    else
      say "(f0) ${DESC[f0]}"
      repeat_timed f0 "$REPEAT" : /dev/null mariadb -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" --quick -D "$DB" -e 'SELECT * FROM orders' || true
      ! want f || full_load f bench.orders_mysql mysql_load || true
      ! want p || full_load fp bench.orders_mysql mysql_load --param "parallel=$STREAMS" || true
    fi
  fi
fi

# (k) runs before (e) and (v), which change its sources.
if want k; then
  ROWS_OF[k0]=$ROWS
  ROWS_OF[k]=$ROWS
  for step in k0 k; do
    say "($step) ${DESC[$step]}"
    on=off
    [ "$step" = k ] && on=on
    if etl_step "$step" "$REPEAT" "drop_table bench.orders_chk" pg_checks --param "checks=$on"; then
      verify "$step" bench.orders_chk original
    fi
  done
  # The check results of (k), recorded beside the audit table: six, all passed.
  if [ "${STATUS[k]:-}" = ok ]; then
    passed=$(pg -Atc "SELECT count(*) FILTER (WHERE status = 'passed') || '/' || count(*) FROM etl.etl_checks WHERE run_id = (SELECT max(run_id) FROM etl.etl_checks)" 2>&1 || true)
    say "(k) checks passed: $passed"
    [ "$passed" = 6/6 ] || CHECK[k]=MISMATCH
  fi
  done_with bench.orders_chk
fi

# (t): the same load through a script closure per row; the extra column is not checksummed.
if want t; then
  ROWS_OF[t0]=$ROWS
  ROWS_OF[t]=$ROWS
  ROWS_OF[tw]=$ROWS
  for step in t0 t tw; do
    say "($step) ${DESC[$step]}"
    on=off
    [ "$step" = t ] && on=on
    [ "$step" = tw ] && on=whole
    if etl_step "$step" "$REPEAT" "drop_table bench.orders_map" pg_map --param "map=$on"; then
      verify "$step" bench.orders_map original
    fi
  done
  done_with bench.orders_map
fi

# (v): the dimension must hold every source row as its current version, and one closed
# version per changed row.
verify_scd2() {
  local step=$1 changed=$2 out
  out=$(pg -At -F ' ' <<SQL 2>&1 || true
SELECT count(*), count(*) FILTER (WHERE is_current), count(*) FILTER (WHERE valid_to IS NOT NULL) FROM bench.dim_customer;
SELECT count(*) FROM customers c FULL JOIN (SELECT * FROM bench.dim_customer WHERE is_current) d USING (id)
 WHERE (c.name, c.email, c.country, c.segment, c.signup_date, c.visits) IS DISTINCT FROM (d.name, d.email, d.country, d.segment, d.signup_date, d.visits);
SQL
  )
  local n
  n=$(pg -Atc 'SELECT count(*) FROM customers')
  if [ "$out" = "$((n + changed)) $n $changed"$'\n'0 ]; then
    CHECK[$step]=OK
  else
    CHECK[$step]=MISMATCH
  fi
  say "($step) check: ${CHECK[$step]} (versions, current, closed; rows differing from the source: $(tr '\n' ';' <<<"$out"))"
}

if want v; then
  customers=$(pg -Atc 'SELECT count(*) FROM customers')
  ROWS_OF[v0]=$customers
  say "(v0) ${DESC[v0]}: $customers rows"
  if etl_step v0 1 "drop_table bench.dim_customer" pg_scd2; then
    verify_scd2 v0 0
    changed=$(pg -At -f "$HELPERS/change_customers.sql")
    ROWS_OF[v]=$customers
    say "(v) ${DESC[v]}: $changed of $customers rows changed"
    if etl_step v 1 : pg_scd2; then
      verify_scd2 v "$changed"
    fi
  else
    fail v "the first SCD2 run (v0) failed"
  fi
  done_with bench.dim_customer
fi

if want e; then
  say "(e0) ${DESC[e0]}"
  ROWS_OF[e0]=$ROWS
  if etl_step e0 1 "drop_table bench.orders_inc" pg_incremental --load-type I; then
    verify e0 bench.orders_inc original
    say "(e) changing 1% and inserting 1% of the source rows"
    changed=$(pg -At -f "$HELPERS/change.sql")
    ROWS_OF[e]=$changed
    remember changed
    say "(e) ${DESC[e]}: $changed rows"
    if etl_step e 1 : pg_incremental --load-type I; then
      verify e bench.orders_inc changed
    fi
  else
    fail e "the first incremental run (e0) failed"
  fi
  done_with bench.orders_inc
fi

# ---------------------------------------------------------------------------------------------
# Report

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
pg_version=$(pg -Atc 'SHOW server_version')
my_version=$(my -N -e 'SELECT version()' 2>/dev/null || echo "not reachable")
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit+=" (with uncommitted changes)"

echo
echo "etl load benchmark: $ROWS rows of orders ($(du -m "$CSV" | cut -f1) MiB of CSV), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores${cpu:+ ($cpu)}, ${mem} RAM, load average $LOAD_START at the start, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?") at the end"
echo "servers: PostgreSQL $pg_version; MariaDB $my_version"
[ "$REPEAT" = 1 ] || echo "timings: the best of $REPEAT runs of each step but e0 and e (which run once); peak MiB: the largest"
echo "etl: $commit; $ETL built $(date -u -r "$ETL" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "?")"
echo
base=${SECS[b]:-}
[ "${STATUS[b]:-}" = ok ] || base=""
printf '%-4s %-38s %9s %8s %10s %9s %7s %13s  %s\n' step what rows seconds rows/s 'peak MiB' 'x (b)' 'CPU s cli/srv' check
printf '%-4s %-38s %9s %8s %10s %9s %7s %13s  %s\n' ---- ---- ---- ------- ------ -------- ----- ------------- -----
failed=0
for step in "${ORDER[@]}"; do
  case $step in
    f0 | e0 | k0 | v0 | t0 | tw) want "${step:0:1}" || continue ;;
    b2 | cp | dp | fp) want p || continue ;;
    *) want "$step" || continue ;;
  esac
  st=${STATUS[$step]:-not run}
  rows=${ROWS_OF[$step]:--}
  if [ "$st" = ok ]; then
    secs=${SECS[$step]}
    rate=$(awk -v r="$rows" -v s="$secs" 'BEGIN { if (s > 0 && r ~ /^[0-9]+$/) printf "%.0f", r / s; else print "-" }')
    ratio=$(awk -v s="$secs" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", s / b; else print "-" }')
    check=${CHECK[$step]:--}
    [ "$step" = f0 ] && check="(no load)"
    printf '%-4s %-38s %9s %8s %10s %9s %7s %13s  %s\n' "($step)" "${DESC[$step]}" "$rows" "$secs" "$rate" "$(mib "${RSS_KB[$step]}")" "$ratio" "${CPU[$step]:--}/${SRV[$step]:--}" "$check"
    [ "$check" = MISMATCH ] && failed=1
  else
    printf '%-4s %-38s %9s %8s %10s %9s %7s %13s  %s\n' "($step)" "${DESC[$step]}" "$rows" - - - - - "${st^^}"
    [ "$st" = skipped ] || failed=1
  fi
done

# The targets of issues 3 and 4, for the steps that ran.
target() { # target STEP MAX_RATIO MAX_MIB [MAX_SECONDS]
  local step=$1 max_ratio=$2 max_mib=$3 max_secs=${4:-}
  if [ "${STATUS[$step]:-}" != ok ]; then
    case $step in ?p) want p ;; *) want "${step:0:1}" ;; esac && echo "($step) not measured (${STATUS[$step]:-not run})"
    return 0
  fi
  awk -v step="$step" -v s="${SECS[$step]}" -v b="$base" -v k="${RSS_KB[$step]}" -v mr="$max_ratio" -v mm="$max_mib" -v ms="$max_secs" 'BEGIN {
    out = ""
    if (mr != "" && b > 0) out = out sprintf("  %.2fx of (b) (target <= %.2fx: %s)", s / b, mr, s / b <= mr ? "met" : "MISSED")
    if (ms != "") out = out sprintf("  %.2f s (target < %.1f s: %s)", s, ms, s < ms ? "met" : "MISSED")
    if (mm != "") out = out sprintf("  %.1f MiB (target <= %d MiB: %s)", k / 1024, mm, k / 1024 <= mm ? "met" : "MISSED")
    printf "(%s)%s\n", step, out
  }'
}
echo
echo "targets (issue 3: PostgreSQL; issue 4: MariaDB; peak RSS must also be the same at 1M and 5M rows):"
target c 1.10 32
target d 1.10 32
target f 1.15 32
target e "" 32 0.5
if want p; then
  echo "parallel COPY ($STREAMS streams; issue 16: <= 0.90x of (b) where the machine has the cores, peak <= 32 MiB x streams):"
  target cp 0.90 $((32 * STREAMS))
  target dp 0.90 $((32 * STREAMS))
  target fp 0.90 $((32 * STREAMS))
  # The floor two cores put under a step: all the CPU it costs (the client, etl or psql, and
  # the servers) shared by the cores. A step at its floor cannot gain from more streams here.
  for step in b b2 c cp d dp f fp; do
    [ "${STATUS[$step]:-}" = ok ] || continue
    awk -v step="$step" -v s="${SECS[$step]}" -v c="${CPU[$step]}" -v v="${SRV[$step]}" -v n="$(nproc)" 'BEGIN {
      printf "(%s)%s CPU %.2f s (client %.2f + servers %.2f): on %d cores at least %.2f s; took %.2f s (%.0f%% of the cores busy)\n",
        step, (length(step) == 1 ? " " : ""), c + v, c, v, n, (c + v) / n, s, 100 * (c + v) / (n * s) }'
  done
fi
if [ "${STATUS[k]:-}" = ok ] && [ "${STATUS[k0]:-}" = ok ]; then
  awk -v k="${SECS[k]}" -v k0="${SECS[k0]}" 'BEGIN { r = k / k0
    printf "(k)  checks add %.0f%% to the load: %.2f s vs %.2f s (target <= +30%%: %s)\n", (r - 1) * 100, k, k0, r <= 1.30 ? "met" : "MISSED" }'
elif want k; then
  echo "(k)  not measured (${STATUS[k]:-not run})"
fi
if [ "${STATUS[t]:-}" = ok ] && [ "${STATUS[t0]:-}" = ok ]; then
  awk -v t="${SECS[t]}" -v t0="${SECS[t0]}" -v n="$ROWS" 'BEGIN { d = (t - t0) * 1000000 / n
    printf "(t)  .map adds %.2f s per million rows: %.2f s vs %.2f s (target <= 1.5 s: %s)\n", d, t, t0, d <= 1.5 ? "met" : "MISSED" }'
elif want t; then
  echo "(t)  not measured (${STATUS[t]:-not run})"
fi
if [ "${STATUS[tw]:-}" = ok ] && [ "${STATUS[t0]:-}" = ok ]; then
  awk -v t="${SECS[tw]}" -v t0="${SECS[t0]}" -v n="$ROWS" 'BEGIN { d = (t - t0) * 1000000 / n
    printf "(tw) .map seeing the whole row adds %.2f s per million rows: %.2f s vs %.2f s\n", d, t, t0 }'
fi
if [ "${STATUS[v]:-}" = ok ]; then
  awk -v s="${SECS[v]}" 'BEGIN { printf "(v)  %.2f s (target <= 3 s: %s)\n", s, s <= 3 ? "met" : "MISSED" }'
elif want v; then
  echo "(v)  not measured (${STATUS[v]:-not run})"
fi
for step in "${ORDER[@]}"; do
  if [ "${STATUS[$step]:-}" = FAILED ] || [ "${STATUS[$step]:-}" = skipped ]; then
    printf '\n(%s) %s: %s\n' "$step" "${STATUS[$step]}" "${ERR[$step]:-}"
    [ -z "${TAIL[$step]:-}" ] || printf '%s' "${TAIL[$step]}" | sed 's/^/    /'
  fi
done

# Kept per N, so runs at 1M and 5M rows can be compared (peak RSS must not grow with N): this
# run's figures, and the previous ones of steps this run left out.
results=$DATA_DIR/results-$ROWS.tsv
{
  printf 'step\trows\tseconds\tpeak_kib\tstatus\tcheck\twhen\n'
  for step in "${ORDER[@]}"; do
    [ -n "${STATUS[$step]:-}" ] || continue
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "${ROWS_OF[$step]:-}" "${SECS[$step]:-}" "${RSS_KB[$step]:-}" \
      "${STATUS[$step]}" "${CHECK[$step]:-}" "$(date -u '+%Y-%m-%dT%H:%MZ')"
  done
  [ ! -f "$results" ] || awk -F'\t' -v ran=" ${!STATUS[*]} " 'NR > 1 && index(ran, " " $1 " ") == 0' "$results"
} >"$results.new"
mv "$results.new" "$results"
all_results=$(find "$DATA_DIR" -maxdepth 1 -name 'results-*.tsv' | sort -V)
if [ "$(wc -l <<<"$all_results")" -gt 1 ]; then
  echo
  echo "peak MiB by dataset size (from the last run at each size):"
  # shellcheck disable=SC2086 # the file list is ours, without spaces
  awk -F'\t' 'FNR == 1 { n = FILENAME; sub(/.*results-/, "", n); sub(/\.tsv$/, "", n); sizes[++ns] = n; next }
    $5 == "ok" { rss[$1, n] = sprintf("%.1f", $4 / 1024); steps[$1] = 1 }
    END {
      split("a b c s d f0 f e0 e k0 k v0 v", order, " ")
      printf "%-6s", "step"; for (i = 1; i <= ns; i++) printf " %12s", sizes[i] " rows"; printf "\n"
      for (j = 1; j <= 13; j++) { st = order[j]; if (!(st in steps)) continue
        printf "%-6s", "(" st ")"; for (i = 1; i <= ns; i++) printf " %12s", ((st, sizes[i]) in rss) ? rss[st, sizes[i]] : "-"; printf "\n" }
    }' $all_results
fi
echo
echo "results: $results"
exit "$failed"

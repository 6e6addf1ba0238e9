#!/usr/bin/env bash
# File-source benchmarks (issue 12), run as `scripts/bench.sh s3 parquet` (either or both):
#
#   s3       etl CSV -> PostgreSQL from a local uncompressed CSV (the baseline), then the same
#            rows as a .csv.gz object in S3 (moto on loopback)     target <= 1.3 x, <= 64 MiB
#   parquet  etl Parquet -> PostgreSQL (pyarrow-written, zstd, 128k-row groups) vs the
#            local CSV baseline                                    target <= 1.0 x, <= 64 MiB
#
# Options: --rows N (default 1000000), --no-build. Needs what scripts/bench.sh needs, plus
# python3 (venvs for moto and pyarrow under target/venvs, made on first use). Every load goes
# into a throwaway database etl_bench_files_<pid> (dropped at the end) and is checked against
# the baseline's table by row count and sums. Prints one line per load: seconds, rows/s,
# peak RSS, ratio to the baseline, check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA_DIR=$ROOT/target/bench-data
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
ETL=$TARGET_DIR/release/etl
VENVS=$TARGET_DIR/venvs
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}

ROWS=1000000
BUILD=1
WHAT=()
while [ $# -gt 0 ]; do
  case $1 in
    s3 | parquet) WHAT+=("$1"); shift ;;
    --rows) ROWS=${2//_/}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (valid: s3, parquet, --rows N, --no-build)" >&2; exit 2 ;;
  esac
done
[ ${#WHAT[@]} -gt 0 ] || WHAT=(s3 parquet)
wants() { [[ " ${WHAT[*]} " == *" $1 "* ]]; }

DB=etl_bench_files_$$
WORK=$DATA_DIR/files-$$
PG_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
MOTO_PID=""
say() { printf '==> %s\n' "$*" >&2; }
psql_on() { local db=$1; shift; PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" "$@"; }
pg() { psql_on "$DB" "$@"; }

cleanup() {
  set +e
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  psql_on postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$DATA_DIR/bin" "$WORK"

if [ "$BUILD" = 1 ]; then
  say "cargo build --release"
  (cd "$ROOT" && cargo build --release --bin etl) >"$WORK/build.log" 2>&1 || { tail -5 "$WORK/build.log" >&2; exit 2; }
fi

venv() { # NAME PACKAGES...: the venv tests/common/venv.rs makes, made here when missing
  local name=$1; shift
  local dir=$VENVS/$name want
  want=$(printf '%s\n' "$@"); want=${want%$'\n'}
  if [ "$(cat "$dir/.etl-ready" 2>/dev/null)" != "$want" ]; then
    say "creating the venv $name"
    rm -rf "$dir" && python3 -m venv "$dir" &&
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2 &&
      printf '%s' "$want" >"$dir/.etl-ready"
  fi
  echo "$dir"
}

GEN_SRC=$ROOT/benches/tools/gen_orders.rs
GEN=$DATA_DIR/bin/gen_orders
if [ ! -x "$GEN" ] || [ "$GEN_SRC" -nt "$GEN" ]; then
  rustc --edition 2021 -C opt-level=3 -o "$GEN" "$GEN_SRC"
fi
CSV=$DATA_DIR/orders-v$("$GEN" --version)-$ROWS.csv
[ -s "$CSV" ] || { say "generating $ROWS rows"; "$GEN" --rows "$ROWS" --out "$CSV"; }

psql_on postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
pg -c 'CREATE SCHEMA bench' >/dev/null
export ETL_CONN_WAREHOUSE=$PG_URL

BASE=""
# run NAME SRC: one timed load into bench.NAME; prints its line.
run() {
  local name=$1 src=$2 out=$WORK/$1.out
  local start end secs rss ratio check
  start=$(date +%s.%N)
  if ! /usr/bin/time -v -o "$WORK/$name.time" "$ETL" --config "$ROOT/benches/etl.toml" -q \
    exec "$ROOT/benches/projects/files_load/project.rhai" --param "src=$src" --param "into=bench.$name" >"$out" 2>&1; then
    echo "$name FAILED:"; tail -5 "$out"; return 1
  fi
  end=$(date +%s.%N)
  secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/$name.time")
  [ -n "$BASE" ] || BASE=$secs
  ratio=$(awk -v a="$secs" -v b="$BASE" 'BEGIN { printf "%.2f", a / b }')
  check=$(pg -Atc "SELECT count(*) || ' rows, sum ' || sum(amount) || ', ' || sum(id) FROM bench.$name")
  [ -n "${EXPECT:-}" ] || EXPECT=$check
  [ "$check" = "$EXPECT" ] && check="OK ($check)" || check="MISMATCH ($check, expected $EXPECT)"
  printf '%-14s %8s s %10s rows/s %7s MiB  %5s x  %s\n' "$name" "$secs" \
    "$(awk -v r="$ROWS" -v s="$secs" 'BEGIN { printf "%d", r / s }')" "$rss" "$ratio" "$check"
}

say "load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
run csv_local "$CSV"

if wants s3; then
  MOTO=$(venv moto "moto[server]")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$MOTO/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  MOTO_PID=$!
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.2; done
  gzip -c "$CSV" >"$WORK/orders.csv.gz"
  "$MOTO/bin/python" -c "
import boto3
s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1', aws_access_key_id='k', aws_secret_access_key='s')
s3.create_bucket(Bucket='bench')
s3.upload_file('$WORK/orders.csv.gz', 'bench', 'orders.csv.gz')
"
  AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ALLOW_HTTP=true \
    run s3_csv_gz "s3://bench/orders.csv.gz"
fi

if wants parquet; then
  PYARROW=$(venv pyarrow pyarrow)
  "$PYARROW/bin/python" -c "
import pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
types = {'id': pa.int64(), 'customer_id': pa.int32(), 'status': pa.string(), 'amount': pa.decimal128(12, 2),
         'quantity': pa.int32(), 'note': pa.string(), 'is_paid': pa.bool_(), 'created_at': pa.timestamp('us'),
         'updated_at': pa.timestamp('us'), 'order_date': pa.date32()}
# The notes hold quoted line breaks; an unquoted empty field is NULL, a quoted one '' (as etl reads CSV).
t = pc.read_csv('$CSV', parse_options=pc.ParseOptions(newlines_in_values=True),
                convert_options=pc.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False))
pq.write_table(t, '$WORK/orders.parquet', compression='zstd', row_group_size=131072)
"
  run parquet_local "$WORK/orders.parquet"
fi

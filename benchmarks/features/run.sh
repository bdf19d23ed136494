#!/usr/bin/env bash
# Feature-store benchmark: Ferry's feature store (`ferry serve` + `ferry features`) vs Feast on
# the same synthetic data: materialization into the online store, online reads (in-process and
# over HTTP), and a point-in-time training set, in one run. See benchmarks/README.md.
#
#   bash benchmarks/features/run.sh            # full: 100k cards online; 1M entity rows x 10M feature rows
#   bash benchmarks/features/run.sh --small    # quick: 10k cards online; 10k entity rows x 100k feature rows
#
# Env knobs (all optional):
#   FERRY_BIN=path              ferry binary (default .build-release/release/ferry; nothing is built)
#   FERRY_BENCH_FEATURES=path   in-process online-read benchmark binary, run as `BIN --data SIZE_DIR`;
#                               prints {"p50_us":..,"p99_us":..}. Unset: no in-process Ferry figure
#   FEATURES_WORK=path          data and results (default benchmarks/.work/features)
#   SKIP_FEAST=1                keep the existing feast.json of this size (no Python benchmark)
#   SKIP_FERRY=1                no Ferry side: the report shows Feast only
#   SKIP_FEAST_COMPAT=1         no /get-online-features latency loop
#   FEAST_OFFLINE_STORES="file duckdb"   Feast offline stores to try
#   ONLINE_CALLS=5000 ONLINE_WARMUP=200  online-read loop sizes (Feast in-process and Ferry HTTP)
#   TRAINING_REPEATS=1          training sets per side (Ferry: CLI calls on one server; Feast: children per
#                               store); the fastest counts
#   TRAINING_TIMEOUT_S=1800     longest Feast training-set child; a longer one is recorded as skipped
#   TRAINING_MEM_LIMIT_GB=16    a Feast training-set child whose RSS passes this is killed, recorded as skipped
#   READY_TIMEOUT=60            seconds to wait for `ferry serve` to answer /v2/health/ready
#   REGEN_DATA=1                regenerate the data even if it is current
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/features"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/features-venv"
OUT="${FEATURES_WORK:-$WORK/features}"
SKIP_FEAST="${SKIP_FEAST:-0}"
SKIP_FERRY="${SKIP_FERRY:-0}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
export REGEN_DATA="${REGEN_DATA:-0}" SKIP_FEAST_COMPAT="${SKIP_FEAST_COMPAT:-0}"

BENCH_TAG=features-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

SIZE=full
for arg in "$@"; do
  case "$arg" in
    --small) SIZE=small ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown argument '$arg' (only --small)" ;;
  esac
done
if [[ "$SIZE" == small ]]; then
  DATA_ARGS=(--entities 10000 --rows-per-entity 2 --feature-rows 100000 --cards 1000 --entity-rows 10000)
else
  DATA_ARGS=(--entities 100000 --rows-per-entity 2 --feature-rows 10000000 --cards 100000 --entity-rows 1000000)
fi

# ---------------------------------------------------------------- tools
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"
command -v sha256sum >/dev/null || die "sha256sum (coreutils) is required"

mkdir -p "$WORK" "$OUT"
OUT="$(cd "$OUT" && pwd)"
SIZE_DIR="$OUT/data-$SIZE"
RES="$OUT/results-$SIZE"
mkdir -p "$RES"

# ---------------------------------------------------------------- venv
# Rebuilt when requirements.txt changes (its sha256 is kept in the venv).
setup_venv "$VENV" "$HERE/requirements.txt" bin/feast
PY="$VENV/bin/python"

# ---------------------------------------------------------------- data
# make_data.py does nothing when manifest.json records the same generator hash and arguments.
log "data ($SIZE): make_data.py $SIZE_DIR ${DATA_ARGS[*]}"
"$PY" "$HERE/make_data.py" "$SIZE_DIR" "${DATA_ARGS[@]}" || die "make_data.py failed"
[[ -f "$SIZE_DIR/manifest.json" ]] || die "make_data.py wrote no $SIZE_DIR/manifest.json"

# ---------------------------------------------------------------- Feast
if [[ "$SKIP_FEAST" == 1 ]]; then
  [[ -f "$RES/feast.json" ]] || die "SKIP_FEAST=1 but $RES/feast.json does not exist"
  log "SKIP_FEAST=1: keeping $RES/feast.json"
else
  log "measuring Feast (bench_feast.py; --small takes about a minute, the full size several)"
  sync
  FEAST_WORK="$RES/feast-scratch" "$PY" "$HERE/bench_feast.py" "$SIZE_DIR" "$RES/feast.json" ||
    die "bench_feast.py failed"
fi

# ---------------------------------------------------------------- Ferry
RC=0
if [[ "$SKIP_FERRY" == 1 ]]; then
  log "SKIP_FERRY=1: no Ferry side"
  rm -f "$RES/ferry-online.json" "$RES/ferry-training.json" "$RES/ferry-inprocess.json"
else
  FERRY_BIN="${FERRY_BIN:-$ROOT/.build-release/release/ferry}"
  [[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN (build it with \`swift build -c release --product ferry --build-path .build-release\`, or set FERRY_BIN)"
  case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac
  FERRY_BIN="$(cd "$(dirname "$FERRY_BIN")" && pwd)/$(basename "$FERRY_BIN")"
  export FERRY_BIN

  RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferry-features-bench.XXXXXX")"
  SERVER_PID=""
  SERVER_LOG=""
  stop_server() {
    local pid=$SERVER_PID i
    [[ -n "$pid" ]] || return 0
    SERVER_PID=""
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "ferry (session $pid) did not stop on SIGTERM; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  }
  cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    rm -rf "$RUN_TMP"
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  fail_server() {
    {
      echo
      echo "[$BENCH_TAG] ---- last 40 lines of $SERVER_LOG ----"
      tail -n 40 "$SERVER_LOG" 2>/dev/null || true
      echo "[$BENCH_TAG] ----"
    } >&2
    die "ferry serve failed: $1"
  }

  # Authentication stays on (the default): `ferry serve` takes its admin key from FERRY_ADMIN_KEY
  # (24+ characters; there is no --admin-key flag), and the CLI and the Python client send it.
  export FERRY_ADMIN_KEY="fry_featbench_$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
  export FERRY_API_KEY="$FERRY_ADMIN_KEY"

  # start_server PHASE: a fresh `ferry serve` (own --data-dir, own session) on a free port.
  start_server() {
    local phase=$1 port deadline code
    port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    SERVER_LOG="$RES/ferry-serve-$phase.log"
    log "starting ferry serve ($phase) on 127.0.0.1:$port"
    setsid "$FERRY_BIN" serve --host 127.0.0.1 --port "$port" --grpc-port 0 --data-dir "$RUN_TMP/data-$phase" \
      --feature-source-dir "$SIZE_DIR" --log-sample-rate 0 >"$SERVER_LOG" 2>&1 </dev/null &
    SERVER_PID=$!
    export FERRY_PID=$SERVER_PID FERRY_URL="http://127.0.0.1:$port" FERRY_SERVER="http://127.0.0.1:$port"
    deadline=$((SECONDS + READY_TIMEOUT))
    while :; do
      kill -0 "$SERVER_PID" 2>/dev/null || fail_server "process exited before becoming ready"
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$FERRY_URL/v2/health/ready" 2>/dev/null || true)"
      [[ "$code" == 200 ]] && break
      ((SECONDS < deadline)) || fail_server "not ready after ${READY_TIMEOUT}s (GET /v2/health/ready -> ${code:-none})"
      sleep 0.2
    done
    # The key must work, and the feature-store API must be there (404 here means no feature store in this build).
    code="$(curl -s -o "$RUN_TMP/views.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $FERRY_API_KEY" \
      "$FERRY_URL/api/v1/features/views" || true)"
    [[ "$code" == 200 ]] || fail_server "GET /api/v1/features/views -> HTTP ${code:-none}: $(head -c 300 "$RUN_TMP/views.json" 2>/dev/null)"
  }

  # One fresh server per phase, so each phase's server memory is its own.
  for phase in online training; do
    # What ran before (Feast's outputs, the last phase's) is written back first, not during this phase.
    sync
    start_server "$phase"
    export FERRY_WORK_DIR="$RES/ferry-$phase"
    rc=0
    "$PY" "$HERE/bench_ferry.py" "$phase" "$SIZE_DIR" "$RES/feast.json" "$RES/ferry-$phase.json" || rc=$?
    if ((rc == 3)); then
      log "WARNING: Ferry's $phase answers differ from the reference (see checks in $RES/ferry-$phase.json)"
      RC=3
    elif ((rc != 0)); then
      fail_server "bench_ferry.py $phase failed (exit $rc)"
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || fail_server "the server died during the $phase phase"
    stop_server
  done

  rm -f "$RES/ferry-inprocess.json"
  if [[ -n "${FERRY_BENCH_FEATURES:-}" ]]; then
    [[ -x "$FERRY_BENCH_FEATURES" ]] || die "FERRY_BENCH_FEATURES is not executable: $FERRY_BENCH_FEATURES"
    log "in-process online read: $FERRY_BENCH_FEATURES --data $SIZE_DIR"
    "$FERRY_BENCH_FEATURES" --data "$SIZE_DIR" >"$RES/ferry-inprocess.json.tmp" ||
      die "$FERRY_BENCH_FEATURES failed (output kept in $RES/ferry-inprocess.json.tmp)"
    "$PY" - "$RES/ferry-inprocess.json.tmp" <<'EOF' || die "$FERRY_BENCH_FEATURES did not print JSON with numeric p50_us and p99_us (kept in $RES/ferry-inprocess.json.tmp)"
import json, sys
d = json.load(open(sys.argv[1]))
assert all(isinstance(d.get(k), (int, float)) for k in ("p50_us", "p99_us")), d
EOF
    mv "$RES/ferry-inprocess.json.tmp" "$RES/ferry-inprocess.json"
  else
    log "FERRY_BENCH_FEATURES is not set: no in-process Ferry figure"
  fi
fi

# ---------------------------------------------------------------- report
"$PY" "$HERE/report.py" "$RES" || die "report.py failed"
exit "$RC"

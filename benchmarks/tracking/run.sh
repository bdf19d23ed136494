#!/usr/bin/env bash
# Experiment-run search: Ferry's MLflow REST API vs MLflow's own tracking server (mlflow server,
# SQLite backend), on the same runs, in one run. The issue's target: 100k runs with 50 metrics
# each, search_runs with a metric filter and an order by a metric under 200 ms. See README.md here.
#
#   FERRY_BIN=.build-release/release/ferry bash benchmarks/tracking/run.sh
#   RUNS=2000 REPEATS=5 bash benchmarks/tracking/run.sh      # quick
#
# Both databases are filled directly (populate.py: Python sqlite3, one transaction) with the same
# generated runs (tracking_data.py, fixed seed), after each server created its own schema on a
# first start; then both servers start again and bench_search.py times the same
# POST /api/2.0/mlflow/runs/search requests on each (keep-alive, sequential).
#
# Env knobs (all optional):
#   FERRY_BIN=path      ferry binary (default .build-release/release/ferry; nothing is built)
#   RUNS=100000         runs in experiment 1
#   METRICS=50          metrics per run (m0..; at least 8: the cases use m3 and m7), one value each
#   REPEATS=20          timed requests per case and server (after WARMUPS untimed ones)
#   WARMUPS=2
#   SEED=42             data generator seed
#   CASE_BUDGET_S=300   when a case's first request shows that the planned requests would take longer
#                       (MLflow at 100k runs: minutes per request), that request is timed, there are no
#                       warm-ups, and only as many timed requests as fit in this follow ("capped"; 0: never)
#   SERVER_BUDGET_S=600 a server with a capped case gets no case whose lower bound would take its time so far
#                       past this, and no more capped requests than fit (0: no limit). At the full size this
#                       skips MLflow's 1000-per-page case, which is the 100-per-page query with a bigger page;
#                       the report gives its lower bound instead
#   TIMEOUT_S=1200      longest single request; a longer one ends that case for that server
#   MLFLOW_WORKERS=1    mlflow server --workers (MLflow's default is 4; requests are sequential on one
#                       keep-alive connection, so one worker serves them all either way)
#   READY_TIMEOUT=300   seconds to wait for a server to answer its health check
#   TRACKING_WORK=path  data and results (default benchmarks/.work/tracking)
#   KEEP_DATA=1         keep the two populated databases (about 3 GB at the full size) after the run
#   SKIP_MLFLOW=1       no MLflow side;  SKIP_FERRY=1: no Ferry side
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/tracking"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/tracking-venv"
OUT="${TRACKING_WORK:-$WORK/tracking}"
RUNS="${RUNS:-100000}"
METRICS="${METRICS:-50}"
REPEATS="${REPEATS:-20}"
WARMUPS="${WARMUPS:-2}"
SEED="${SEED:-42}"
CASE_BUDGET_S="${CASE_BUDGET_S:-300}"
SERVER_BUDGET_S="${SERVER_BUDGET_S:-600}"
TIMEOUT_S="${TIMEOUT_S:-1200}"
MLFLOW_WORKERS="${MLFLOW_WORKERS:-1}"
READY_TIMEOUT="${READY_TIMEOUT:-300}"
KEEP_DATA="${KEEP_DATA:-0}"
SKIP_MLFLOW="${SKIP_MLFLOW:-0}"
SKIP_FERRY="${SKIP_FERRY:-0}"

BENCH_TAG=tracking-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

case "${1:-}" in
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *) die "unknown argument '$1' (settings are env variables; see --help)" ;;
esac
for v in RUNS METRICS REPEATS WARMUPS SEED MLFLOW_WORKERS READY_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
for v in CASE_BUDGET_S SERVER_BUDGET_S TIMEOUT_S; do
  [[ "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number of seconds (got '${!v}')"
done
((RUNS >= 1)) || die "RUNS must be at least 1"
((METRICS >= 8)) || die "METRICS must be at least 8 (the cases filter on m3 and order by m7)"
((REPEATS >= 1)) || die "REPEATS must be at least 1"
((WARMUPS >= 1)) || die "WARMUPS must be at least 1 (the first warm-up's answer is the one checked)"
[[ "$SKIP_MLFLOW" == 1 && "$SKIP_FERRY" == 1 ]] && die "SKIP_MLFLOW=1 and SKIP_FERRY=1: nothing to measure"

# ---------------------------------------------------------------- tools
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"
command -v sha256sum >/dev/null || die "sha256sum (coreutils) is required"

if [[ "$SKIP_FERRY" != 1 ]]; then
  FERRY_BIN="${FERRY_BIN:-$ROOT/.build-release/release/ferry}"
  [[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN (build it with \`swift build -c release --product ferry --build-path .build-release\`, or set FERRY_BIN)"
  case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac
  FERRY_BIN="$(cd "$(dirname "$FERRY_BIN")" && pwd)/$(basename "$FERRY_BIN")"
fi

mkdir -p "$WORK" "$OUT"
OUT="$(cd "$OUT" && pwd)"
TAG="runs${RUNS}-m${METRICS}-s${SEED}"
RES="$OUT/results-$TAG"
DATA="$OUT/data-$TAG"
rm -rf "$DATA"
mkdir -p "$RES" "$DATA"
rm -f "$RES"/*.json "$RES"/*.log "$RES/report.md"
T_START=$SECONDS

# ---------------------------------------------------------------- venv
# Rebuilt when requirements.txt changes (its sha256 is kept in the venv).
setup_venv "$VENV" "$HERE/requirements.txt" bin/mlflow
PY="$VENV/bin/python"

# ---------------------------------------------------------------- servers
# Each server runs in its own session (setsid), whose id is its pid; stop_server sends SIGTERM to the
# session's process group (MLflow's has uvicorn and huey workers) and SIGKILL after 20 s, and waits until
# none of its processes is left.
declare -A PIDS=()
declare -A LOGS=()
stop_server() {
  local name=$1 pid i
  pid="${PIDS[$name]:-}"
  [[ -n "$pid" ]] || return 0
  PIDS[$name]=""
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "$name (session $pid) did not stop on SIGTERM within 20 s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server ferry
  stop_server mlflow
  if [[ "$KEEP_DATA" != 1 ]]; then rm -rf "$DATA"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_server() {
  local name=$1
  {
    echo
    echo "[$BENCH_TAG] ---- last 40 lines of ${LOGS[$name]} ----"
    tail -n 40 "${LOGS[$name]}" 2>/dev/null || true
    echo "[$BENCH_TAG] ----"
  } >&2
  die "$name failed: $2"
}

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_ready NAME URL: until GET URL answers 200; prints the seconds it took.
wait_ready() {
  local name=$1 url=$2 t0=$SECONDS code
  while :; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || fail_server "$name" "process exited before becoming ready"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null || true)"
    [[ "$code" == 200 ]] && break
    ((SECONDS - t0 < READY_TIMEOUT)) || fail_server "$name" "not ready after ${READY_TIMEOUT}s (GET $url -> ${code:-none})"
    sleep 0.3
  done
  echo $((SECONDS - t0))
}

# Ferry: authentication stays on; the admin key comes from FERRY_ADMIN_KEY (24+ characters).
FERRY_KEY="fry_trackbench_$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')"
start_ferry() {
  local phase=$1
  FERRY_PORT="$(free_port)"
  LOGS[ferry]="$RES/ferry-serve-$phase.log"
  log "starting ferry serve ($phase) on 127.0.0.1:$FERRY_PORT"
  FERRY_ADMIN_KEY="$FERRY_KEY" setsid "$FERRY_BIN" serve --host 127.0.0.1 --port "$FERRY_PORT" --grpc-port 0 \
    --data-dir "$DATA/ferry" --log-sample-rate 0 >"${LOGS[ferry]}" 2>&1 </dev/null &
  PIDS[ferry]=$!
  FERRY_URL="http://127.0.0.1:$FERRY_PORT"
  FERRY_READY_S="$(wait_ready ferry "$FERRY_URL/v2/health/ready")"
  # The key must work and the MLflow tracking API must be there (a 404 means a build without it).
  local code
  code="$(curl -s -o "$RES/ferry-probe.json" -w '%{http_code}' --max-time 30 -X POST \
    -H "Authorization: Bearer $FERRY_KEY" -H 'Content-Type: application/json' -d '{}' \
    "$FERRY_URL/api/2.0/mlflow/runs/search" || true)"
  [[ "$code" == 200 ]] && "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$RES/ferry-probe.json" 2>/dev/null ||
    fail_server ferry "POST /api/2.0/mlflow/runs/search -> HTTP ${code:-none}: $(head -c 300 "$RES/ferry-probe.json" 2>/dev/null) (a 404 means this ferry has no MLflow tracking API: use a newer build)"
}

start_mlflow() {
  local phase=$1
  MLFLOW_PORT="$(free_port)"
  LOGS[mlflow]="$RES/mlflow-server-$phase.log"
  log "starting mlflow server ($phase, --workers $MLFLOW_WORKERS) on 127.0.0.1:$MLFLOW_PORT"
  (cd "$DATA/mlflow" && exec setsid "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$DATA/mlflow/mlflow.db" \
    --artifacts-destination "$DATA/mlflow/mlartifacts" --host 127.0.0.1 --port "$MLFLOW_PORT" \
    --workers "$MLFLOW_WORKERS" >"${LOGS[mlflow]}" 2>&1 </dev/null) &
  PIDS[mlflow]=$!
  MLFLOW_URL="http://127.0.0.1:$MLFLOW_PORT"
  MLFLOW_READY_S="$(wait_ready mlflow "$MLFLOW_URL/health")"
}

POP_ARGS=(--runs "$RUNS" --metrics "$METRICS" --seed "$SEED")
BENCH_ARGS=()
if [[ "$SKIP_FERRY" != 1 ]]; then
  mkdir -p "$DATA/ferry"
  start_ferry schema
  stop_server ferry
  log "populating Ferry's database ($RUNS runs x $METRICS metrics)"
  "$PY" "$HERE/populate.py" ferry "$DATA/ferry/ferry.sqlite" "${POP_ARGS[@]}" --out "$RES/populate-ferry.json" ||
    die "populate.py ferry failed"
  start_ferry bench
  BENCH_ARGS+=(--ferry "$FERRY_URL" --ferry-key "$FERRY_KEY")
fi
if [[ "$SKIP_MLFLOW" != 1 ]]; then
  mkdir -p "$DATA/mlflow"
  start_mlflow schema
  stop_server mlflow
  log "populating MLflow's database ($RUNS runs x $METRICS metrics)"
  "$PY" "$HERE/populate.py" mlflow "$DATA/mlflow/mlflow.db" "${POP_ARGS[@]}" --out "$RES/populate-mlflow.json" ||
    die "populate.py mlflow failed"
  start_mlflow bench
  BENCH_ARGS+=(--mlflow "$MLFLOW_URL")
fi

# ---------------------------------------------------------------- measure
log "timing runs/search (REPEATS=$REPEATS after $WARMUPS warm-ups per case and server)"
RC=0
"$PY" "$HERE/bench_search.py" "${POP_ARGS[@]}" --out "$RES/search.json" --repeats "$REPEATS" --warmups "$WARMUPS" \
  --case-budget-s "$CASE_BUDGET_S" --server-budget-s "$SERVER_BUDGET_S" --timeout-s "$TIMEOUT_S" --samples "$RES" "${BENCH_ARGS[@]}" || RC=$?
if ((RC == 3)); then
  log "WARNING: MISMATCH: a server's first page differs from the expected one or from the other server's (see $RES/search.json)"
elif ((RC != 0)); then
  die "bench_search.py failed (exit $RC)"
fi
for name in ferry mlflow; do
  if [[ -n "${PIDS[$name]:-}" ]]; then kill -0 "${PIDS[$name]}" 2>/dev/null || fail_server "$name" "the server died during the measurement"; fi
done

# ---------------------------------------------------------------- metadata + report
FERRY_VERSION=""
[[ "$SKIP_FERRY" != 1 ]] && FERRY_VERSION="$("$FERRY_BIN" --version 2>/dev/null || true)"
"$PY" - "$RES/meta.json" <<EOF
import json, os, platform, sys
from importlib.metadata import version
cpu = "?"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
json.dump({
    "ferry_bin": "${FERRY_BIN:-}", "ferry_version": "$FERRY_VERSION",
    "ferry_ready_s": "${FERRY_READY_S:-}", "mlflow_ready_s": "${MLFLOW_READY_S:-}",
    "mlflow_version": version("mlflow"), "mlflow_workers": $MLFLOW_WORKERS,
    "python": platform.python_version(), "cpu_model": cpu, "cpus": os.cpu_count(),
    "wall_s_before_report": $((SECONDS - T_START)),
}, open(sys.argv[1], "w"), indent=1)
EOF
"$PY" "$HERE/report.py" "$RES" || die "report.py failed"
log "done in $((SECONDS - T_START)) s; results in $RES"
exit "$RC"

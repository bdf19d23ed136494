#!/usr/bin/env bash
# Many-models benchmark: thousands of models per replica. One `ferry serve` with a model memory budget gets MODELS
# models x VERSIONS versions (small XGBoost models, DISTINCT different files assigned round-robin), then: registry
# and router calls at that scale, a Zipf-distributed inference load over the MODELS names (wrk), the hit ratio of the
# loaded set, memory against the budget, and cold-load latency. See benchmarks/README.md.
#
#   bash benchmarks/models/run.sh                                    # 10,000 models, builds ferry
#   MODELS=500 DURATION=5s FERRY_BIN=.build-release/release/ferry bash benchmarks/models/run.sh   # quick run
#
# Env knobs (all optional):
#   MODELS=10000         model names (m00000, m00001, ...)
#   VERSIONS=1           versions per model (requests go to the newest)
#   DISTINCT=20          different model files (TREES trees of depth DEPTH, 12 features), made once in .work/models
#   TREES=100 DEPTH=4
#   CONCURRENCY=4        parallel registration clients
#   BUDGET_MB=auto       --model-memory-budget in MiB; auto: FIT_SHARE of the MODELS names fit, from the memory
#                        Ferry accounts for each distinct model on a probe server; 0: no budget
#   FIT_SHARE=0.25
#   COLD_LOAD_WAIT=5     --cold-load-wait seconds
#   ZIPF_S=1.0           Zipf exponent
#   DURATION=30s         measured wrk run
#   WARMUP=10s           wrk warm-up with the same load before it (0: none)
#   CONNECTIONS=8        wrk connections (-t2)
#   SAMPLE_EVERY=2       seconds between samples of RSS (and at least between scrapes of /metrics) during
#                        registration and the wrk runs
#   METRICS_SHARE=0.2    largest share of the time spent scraping /metrics then (a scrape of 10,000 versions
#                        takes seconds of the server's CPU, so the scrapes are spaced out further)
#   REGISTRY_CALLS=200   timed calls per registry route; LIST_CALLS=3 for the full list and /metrics
#   COLD_PROBES=200      rarely requested, unloaded models requested twice each after the Zipf run
#   COLD_TARGET_MS=20    cold-load p99 target
#   SEED=1               seed of the Zipf draws and of the registry calls' names
#   FERRY_BIN=path       ferry binary; unset: swift build -c release --scratch-path .build-release --product ferry
#   READY_TIMEOUT=120    seconds to wait for ferry serve
#   FERRY_ARGS="..."     extra flags for ferry serve
#   RESULTS_JSON=path    default benchmarks/.work/models-results.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/models"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/models-venv"
MODELS_DIR="$WORK/models"
RUN="$WORK/models-run"    # step results, wrk output, server logs (kept)
DATA="$RUN/ferry-data"    # the server's --data-dir (deleted at the end)

MODELS="${MODELS:-10000}"
VERSIONS="${VERSIONS:-1}"
DISTINCT="${DISTINCT:-20}"
TREES="${TREES:-100}"
DEPTH="${DEPTH:-4}"
CONCURRENCY="${CONCURRENCY:-4}"
BUDGET_MB="${BUDGET_MB:-auto}"
FIT_SHARE="${FIT_SHARE:-0.25}"
COLD_LOAD_WAIT="${COLD_LOAD_WAIT:-5}"
ZIPF_S="${ZIPF_S:-1.0}"
DURATION="${DURATION:-30s}"
WARMUP="${WARMUP:-10s}"
CONNECTIONS="${CONNECTIONS:-8}"
SAMPLE_EVERY="${SAMPLE_EVERY:-2}"
METRICS_SHARE="${METRICS_SHARE:-0.2}"
REGISTRY_CALLS="${REGISTRY_CALLS:-200}"
LIST_CALLS="${LIST_CALLS:-3}"
COLD_PROBES="${COLD_PROBES:-200}"
COLD_TARGET_MS="${COLD_TARGET_MS:-20}"
SEED="${SEED:-1}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
RESULTS_JSON="${RESULTS_JSON:-$WORK/models-results.json}"
BODY="$ROOT/examples/fraud/request.json"
LUA="$HERE/zipf.lua"
PREFIX=m

BENCH_TAG=models-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

for v in MODELS VERSIONS DISTINCT TREES DEPTH CONCURRENCY CONNECTIONS REGISTRY_CALLS LIST_CALLS COLD_PROBES SEED; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1 ]] || die "$v must be a whole number >= 1 (it is '${!v}')"
done
[[ "$BUDGET_MB" == auto || "$BUDGET_MB" =~ ^[0-9]+$ ]] || die "BUDGET_MB must be auto or a whole number of MiB (it is '$BUDGET_MB')"
for f in "$BODY" "$LUA"; do [[ -f "$f" ]] || die "missing $f"; done
WIDTH=$(( ${#MODELS} > 5 ? ${#MODELS} : 5 ))
NAMING=(--prefix "$PREFIX" --width "$WIDTH")

# ---------------------------------------------------------------- tools, binary, venv, models
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"
resolve_ferry_bin
setup_venv "$VENV" "$HERE/requirements.txt" bin/python
PY="$VENV/bin/python"
log "model files: $DISTINCT x $TREES trees of depth $DEPTH in ${MODELS_DIR#"$ROOT/"}"
"$PY" "$HERE/make_models.py" "$MODELS_DIR" "$DISTINCT" "$TREES" "$DEPTH" >"$WORK/models-files.json" ||
  die "could not generate the model files"

rm -rf "$RUN"
mkdir -p "$RUN"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$FERRY_PID" ]]; then log "stopping ferry"; ferry_stop; fi
  rm -rf "$DATA" "$RUN/probe-data"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME OUT ARGS...: runs client.py ARGS into OUT; a failure names the step and shows the server log's tail.
step() {
  local name=$1 out=$2; shift 2
  "$PY" "$HERE/client.py" "$@" >"$out" || {
    ferry_alive || ferry_fail "the server exited during $name"
    ferry_fail "$name failed (see above)"
  }
  ferry_alive || ferry_fail "the server exited during $name"
}

PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
# Authentication stays on (Ferry's default); serve has no key flag, so the admin key is preset in the environment.
export FERRY_ADMIN_KEY="fry_bench_$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export FERRY_API_KEY="$FERRY_ADMIN_KEY"
SERVE=(--host 127.0.0.1 --port "$PORT" --grpc-port 0)

# ---------------------------------------------------------------- budget
if [[ "$BUDGET_MB" == auto ]]; then
  log "probe server: how much memory Ferry accounts for each of the $DISTINCT model files"
  ferry_start "$URL" "$RUN/ferry-probe.log" "${SERVE[@]}" --data-dir "$RUN/probe-data"
  step "the memory probe" "$RUN/probe.json" probe --url "$URL" --models-dir "$MODELS_DIR"
  ferry_stop
  rm -rf "$RUN/probe-data"
  BUDGET_MB="$("$PY" -c 'import json, math, sys
p = json.load(open(sys.argv[1])); print(math.ceil(p["mean_bytes"] * int(sys.argv[2]) * float(sys.argv[3]) / 2**20))' \
    "$RUN/probe.json" "$MODELS" "$FIT_SHARE")"
  log "budget: $BUDGET_MB MiB ($FIT_SHARE of $MODELS models at $("$PY" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["mean_bytes"] / 1024))' "$RUN/probe.json") KiB each)"
fi

# ---------------------------------------------------------------- server
log "starting ferry on $URL (--model-memory-budget $BUDGET_MB --cold-load-wait $COLD_LOAD_WAIT)"
# shellcheck disable=SC2086
ferry_start "$URL" "$RUN/ferry-serve.log" "${SERVE[@]}" --data-dir "$DATA" \
  --model-memory-budget "$BUDGET_MB" --cold-load-wait "$COLD_LOAD_WAIT" ${FERRY_ARGS:-}
RSS_EMPTY_MB="$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$FERRY_PID/status")"
log "ferry ready (pid $FERRY_PID, $RSS_EMPTY_MB MB RSS with no models)"
sync
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
BUSY_AT_START="$(cpu_busy_pct)"
if ((BUSY_AT_START > 10)); then
  log "WARNING: the CPUs were ${BUSY_AT_START}% busy over 2 s before the run (load average $LOAD_AT_START): other work is running and the numbers will be noisy"
fi

# ---------------------------------------------------------------- 1. registration
log "registering $MODELS models x $VERSIONS versions with $CONCURRENCY clients"
step registration "$RUN/register.json" register --url "$URL" "${NAMING[@]}" --pid "$FERRY_PID" --models-dir "$MODELS_DIR" \
  --models "$MODELS" --versions "$VERSIONS" --concurrency "$CONCURRENCY" --interval "$SAMPLE_EVERY" --metrics-share "$METRICS_SHARE"

# ---------------------------------------------------------------- 2. registry and router at this scale
log "registry: $REGISTRY_CALLS sequential calls per route (full list and /metrics: $LIST_CALLS)"
step "the registry calls" "$RUN/registry.json" registry --url "$URL" "${NAMING[@]}" --models "$MODELS" \
  --versions "$VERSIONS" --calls "$REGISTRY_CALLS" --list-calls "$LIST_CALLS" --seed "$SEED"

# ---------------------------------------------------------------- 3. Zipf load
zipf_run() { # name duration seed
  local name=$1 duration=$2 seed=$3
  step "the $name wrk run" "$RUN/$name.json" zipf --url "$URL" --pid "$FERRY_PID" --interval "$SAMPLE_EVERY" --metrics-share "$METRICS_SHARE" \
    --budget-mb "$BUDGET_MB" --wrk-out "$RUN/wrk-$name.txt" -- \
    wrk -t2 -c"$CONNECTIONS" -d"$duration" --timeout 10s --latency -s "$LUA" "$URL" -- \
    "$BODY" "$MODELS" "$ZIPF_S" "$PREFIX" "$WIDTH" "$seed"
}
code="$(curl -s -o "$RUN/smoke.json" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $FERRY_API_KEY" --data-binary "@$BODY" "$URL/v2/models/$PREFIX$(printf "%0${WIDTH}d" 0)/infer" || true)"
[[ "$code" == 200 ]] || ferry_fail "the first inference request answered HTTP ${code:-none}: $(head -c 300 "$RUN/smoke.json")"
if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
  log "Zipf warm-up: wrk -t2 -c$CONNECTIONS -d$WARMUP (s=$ZIPF_S over $MODELS names)"
  zipf_run warmup "$WARMUP" "$((SEED + 1000))"
fi
log "Zipf run: wrk -t2 -c$CONNECTIONS -d$DURATION (s=$ZIPF_S over $MODELS names), RSS every ${SAMPLE_EVERY}s"
zipf_run zipf "$DURATION" "$SEED"

# ---------------------------------------------------------------- 4. cold loads
log "cold loads: $COLD_PROBES rarely requested models that are not loaded, twice each"
step "the cold-load probe" "$RUN/cold.json" cold --url "$URL" "${NAMING[@]}" --pid "$FERRY_PID" --models "$MODELS" --versions "$VERSIONS" \
  --probes "$COLD_PROBES" --body "$BODY"

# ---------------------------------------------------------------- report
RSS_END_MB="$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$FERRY_PID/status")"
HWM_MB="$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$FERRY_PID/status")"
ferry_stop
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null)" || GIT_REV=unknown
MODELS="$MODELS" VERSIONS="$VERSIONS" DISTINCT="$DISTINCT" TREES="$TREES" DEPTH="$DEPTH" CONCURRENCY="$CONCURRENCY" \
BUDGET_MB="$BUDGET_MB" FIT_SHARE="$FIT_SHARE" COLD_LOAD_WAIT="$COLD_LOAD_WAIT" ZIPF_S="$ZIPF_S" DURATION="$DURATION" \
WARMUP="$WARMUP" CONNECTIONS="$CONNECTIONS" SAMPLE_EVERY="$SAMPLE_EVERY" METRICS_SHARE="$METRICS_SHARE" COLD_TARGET_MS="$COLD_TARGET_MS" SEED="$SEED" \
RSS_EMPTY_MB="$RSS_EMPTY_MB" RSS_END_MB="$RSS_END_MB" HWM_MB="$HWM_MB" GIT_REV="$GIT_REV" \
FERRY_BIN="$FERRY_BIN" FERRY_VERSION="$FERRY_VERSION" FERRY_SHA256="$FERRY_SHA256" FERRY_MTIME="$FERRY_MTIME" \
FERRY_ARGS="${FERRY_ARGS:-}" WRK_VERSION="$(wrk -v 2>&1 | head -n1 || true)" \
CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
LOAD_AT_START="$LOAD_AT_START" BUSY_AT_START="$BUSY_AT_START" LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$PY" "$HERE/report.py" "$RUN" "$WORK/models-files.json" "$RESULTS_JSON" || rc=$?
log "results: ${RESULTS_JSON#"$ROOT/"} (step files and server log in ${RUN#"$ROOT/"}/)"
grep -iE '"level":"(error|critical)"|\berror\b' "$FERRY_LOG" | head -n 5 | sed "s/^/[$BENCH_TAG] server log: /" >&2 || true
exit "${rc:-0}"

#!/usr/bin/env bash
# gRPC serving benchmark: 1-row Open Inference Protocol inference on the examples/fraud XGBoost model, in one run:
#   ferry-grpc     Ferry's gRPC service, inference.GRPCInferenceService/ModelInfer (h2load)
#   ferry-rest     the same Ferry server's POST /v2/models/fraud/infer (wrk + serve/infer.lua)
#   mlserver-grpc  MLServer + mlserver-xgboost's gRPC ModelInfer on the same model file (h2load)
# req/s, p50, p99 and the ratio to Ferry's gRPC at each connection count. See benchmarks/README.md.
#
#   bash benchmarks/grpc/run.sh
#   DURATION=5s FERRY_BIN=path/to/ferry bash benchmarks/grpc/run.sh
#
# Env knobs (all optional):
#   DURATION=10s          duration of each measured run (h2load -D, wrk -d)
#   CONNECTIONS="1 8"     connection counts; one stream per connection at a time (h2load -m 1); 1 -> 1 thread, else 2
#   WARMUP=2s             warm-up per target (8 connections) before measuring
#   READY_TIMEOUT=120     seconds to wait for each server to become ready
#   GRPC_INPUT=contents   how the gRPC request carries the row: contents (FP32 typed contents) or raw (raw_input_contents)
#   MLSERVER_WORKERS=N    MLServer parallel_workers (default: MLServer's default, 1)
#   SKIP_MLSERVER=1       Ferry only (the venv is still built: its grpcio and protobuf build and check the request)
#   FERRY_BIN=path        use this binary instead of `swift build -c release --build-path .build-release --product ferry`
#   SERVER_CPUS, LOAD_CPUS  taskset CPU lists for the servers / for h2load and wrk (default: unpinned)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/grpc"
WORK="$ROOT/benchmarks/.work"
OUT="$WORK/grpc"
LOGS="$OUT/logs"
VENV="$WORK/venv"   # the serve benchmark's venv (benchmarks/serve/requirements.txt): MLServer, grpcio, protobuf

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-1 8}"
WARMUP="${WARMUP:-2s}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
GRPC_INPUT="${GRPC_INPUT:-contents}"
MLSERVER_WORKERS="${MLSERVER_WORKERS:-}"
SKIP_MLSERVER="${SKIP_MLSERVER:-0}"
MODEL_NAME="fraud"
INFER_PATH="/v2/models/$MODEL_NAME/infer"
GRPC_PATH="/inference.GRPCInferenceService/ModelInfer"
LUA="$ROOT/benchmarks/serve/infer.lua"
BODY="$ROOT/examples/$MODEL_NAME/request.json"
EXPECTED="$ROOT/examples/$MODEL_NAME/expected.json"
MODEL_JSON="$ROOT/examples/$MODEL_NAME/model.json"

BENCH_TAG=grpc-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

[[ "$GRPC_INPUT" == contents || "$GRPC_INPUT" == raw ]] || die "GRPC_INPUT must be 'contents' or 'raw', not '$GRPC_INPUT'"
for f in "$MODEL_JSON" "$BODY" "$EXPECTED" "$LUA"; do [[ -f "$f" ]] || die "missing $f"; done

# ---------------------------------------------------------------- tools
command -v h2load >/dev/null || { log "installing h2load (apt: nghttp2-client)"; apt_install nghttp2-client; }
command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"
CLK_TCK="$(getconf CLK_TCK)"
LOAD_PREFIX=(); SERVER_PREFIX=()
[[ -n "${LOAD_CPUS:-}" ]] && LOAD_PREFIX=(taskset -c "$LOAD_CPUS")
[[ -n "${SERVER_CPUS:-}" ]] && SERVER_PREFIX=(taskset -c "$SERVER_CPUS")

# Ferry runs with --auth none: neither wrk (infer.lua) nor h2load sends a key.
unset FERRY_API_KEY FERRY_ADMIN_KEY

mkdir -p "$OUT"
rm -rf "$LOGS"; mkdir -p "$LOGS"
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferry-grpc-bench.XXXXXX")"

# ---------------------------------------------------------------- binary
if [[ -z "${FERRY_BIN:-}" ]]; then
  log "building: swift build -c release --build-path .build-release --product ferry"
  swift build -c release --build-path .build-release --product ferry
  FERRY_BIN="$ROOT/.build-release/release/ferry"
fi
[[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN"

# ---------------------------------------------------------------- venv (MLServer, and grpcio + protobuf for the request)
setup_venv "$VENV" "$ROOT/benchmarks/serve/requirements.txt" bin/mlserver
PY="$VENV/bin/python"
MLSERVER_VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("mlserver"))')"

# ---------------------------------------------------------------- ports (all picked at once so they are distinct)
read -r -a PORTS <<<"$(python3 -c '
import socket
socks = []
for _ in range(5):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
')"
FERRY_PORT=${PORTS[0]}; FERRY_GRPC_PORT=${PORTS[1]}
MLS_HTTP_PORT=${PORTS[2]}; MLS_GRPC_PORT=${PORTS[3]}; MLS_METRICS_PORT=${PORTS[4]}

# ---------------------------------------------------------------- process helpers (as in serve/run.sh)
declare -A PID=() SLOG=()
SERVERS=()
# A process that exits between the glob and the read makes cat fail; with pipefail that would end the script (or
# call a live session dead), so cat's status is ignored.
proc_stats() { cat /proc/[0-9]*/stat 2>/dev/null || true; }
session_ticks() { # utime+stime+cutime+cstime (clock ticks) of every process in a session
  proc_stats | sed 's/^.*) //' |
    awk -v sid="$1" '$4 == sid { t += $12 + $13 + $14 + $15 } END { printf "%d\n", t }'
}
session_alive() {
  proc_stats | sed 's/^.*) //' |
    awk -v sid="$1" '$4 == sid && $1 != "Z" { n++ } END { exit (n > 0 ? 0 : 1) }'
}
pid_running() { local s; s="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1; [[ -n "$s" && "$s" != Z ]]; }

stop_all() {
  local name pid i
  for name in "${SERVERS[@]}"; do kill -TERM -- "-${PID[$name]}" 2>/dev/null || true; done
  for name in "${SERVERS[@]}"; do
    pid=${PID[$name]}
    for ((i = 0; i < 50; i++)); do session_alive "$pid" || break; sleep 0.2; done
    if session_alive "$pid"; then
      log "$name (session $pid) did not stop on SIGTERM; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#SERVERS[@]})); then log "stopping servers"; stop_all; fi
  rm -rf "$RUN_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

fail_server() { # name message
  {
    echo
    echo "[$BENCH_TAG] ---- last 40 lines of ${SLOG[$1]} ----"
    tail -n 40 "${SLOG[$1]}" 2>/dev/null || true
    echo "[$BENCH_TAG] ----"
  } >&2
  die "server '$1' failed: $2"
}
start_server() { # name cmd... — own session, so its whole process tree is measured (CPU) and stopped as a group
  local name=$1; shift
  SLOG[$name]="$LOGS/$name.log"
  log "starting $name: $*"
  setsid "${SERVER_PREFIX[@]}" "$@" >"${SLOG[$name]}" 2>&1 </dev/null &
  PID[$name]=$!
  SERVERS+=("$name")
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null || true; }
port_open() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }
wait_ready() { # name grpc_port url...: every URL answers 200 and the gRPC port accepts connections
  local name=$1 gport=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT)) ok u code=""
  while :; do
    pid_running "${PID[$name]}" || fail_server "$name" "process exited before becoming ready"
    ok=1
    for u in "$@"; do
      code="$(http_code "$u")"
      if [[ "$code" != 200 ]]; then ok=0; break; fi
    done
    if ((ok)) && ! port_open "$gport"; then ok=0; u="gRPC port $gport"; code="closed"; fi
    if ((ok)); then log "$name ready after $((SECONDS + READY_TIMEOUT - deadline))s"; return 0; fi
    ((SECONDS < deadline)) || fail_server "$name" "not ready after ${READY_TIMEOUT}s ($u -> ${code:-none})"
    sleep 0.25
  done
}

# ---------------------------------------------------------------- MLServer config
if [[ "$SKIP_MLSERVER" != 1 ]]; then
  MLS_DIR="$OUT/mlserver"
  rm -rf "$MLS_DIR"
  mkdir -p "$MLS_DIR/models/$MODEL_NAME"
  cp "$MODEL_JSON" "$MLS_DIR/models/$MODEL_NAME/model.json"
  MLS_DIR="$MLS_DIR" MODEL_NAME="$MODEL_NAME" MLS_HTTP_PORT="$MLS_HTTP_PORT" MLS_GRPC_PORT="$MLS_GRPC_PORT" \
  MLS_METRICS_PORT="$MLS_METRICS_PORT" MLSERVER_WORKERS="$MLSERVER_WORKERS" python3 - <<'EOF'
import json, os
d, name = os.environ["MLS_DIR"], os.environ["MODEL_NAME"]
settings = {
    "debug": False,  # debug=true (MLServer's default) turns on a per-request access log
    "host": "127.0.0.1",
    "http_port": int(os.environ["MLS_HTTP_PORT"]),
    "grpc_port": int(os.environ["MLS_GRPC_PORT"]),
    "metrics_port": int(os.environ["MLS_METRICS_PORT"]),
}
if os.environ["MLSERVER_WORKERS"]:
    settings["parallel_workers"] = int(os.environ["MLSERVER_WORKERS"])
json.dump(settings, open(os.path.join(d, "settings.json"), "w"), indent=2)
model_dir = os.path.join(d, "models", name)
json.dump(
    {"name": name, "implementation": "mlserver_xgboost.XGBoostModel", "parameters": {"uri": os.path.join(model_dir, "model.json")}},
    open(os.path.join(model_dir, "model-settings.json"), "w"),
    indent=2,
)
EOF
fi

# ---------------------------------------------------------------- start servers
start_server ferry "$FERRY_BIN" serve --host 127.0.0.1 --port "$FERRY_PORT" --grpc-port "$FERRY_GRPC_PORT" \
  --data-dir "$RUN_TMP/ferry-data" --example "examples/$MODEL_NAME" --auth none
[[ "$SKIP_MLSERVER" == 1 ]] || start_server mlserver "$VENV/bin/mlserver" start "$MLS_DIR"
wait_ready ferry "$FERRY_GRPC_PORT" "http://127.0.0.1:$FERRY_PORT/v2/health/ready" "http://127.0.0.1:$FERRY_PORT/v2/models/$MODEL_NAME/ready"
[[ "$SKIP_MLSERVER" == 1 ]] || wait_ready mlserver "$MLS_GRPC_PORT" "http://127.0.0.1:$MLS_HTTP_PORT/v2/models/$MODEL_NAME/ready"

# ---------------------------------------------------------------- the request, and one checked answer per target
GRPC_BODY="$OUT/request.grpc.bin"
raw_flag=(); [[ "$GRPC_INPUT" == raw ]] && raw_flag=(--raw)
"$PY" "$HERE/grpc_client.py" body "$BODY" "$GRPC_BODY" "${raw_flag[@]}" >"$RUN_TMP/body.json" \
  || die "could not build the gRPC request from $BODY"
log "gRPC request: $(cat "$RUN_TMP/body.json")"
EXPECTED_P="$("$PY" "$HERE/grpc_client.py" expected "$BODY" "$EXPECTED")" || die "no expected answer for $BODY in $EXPECTED"
log "expected predict: $EXPECTED_P (examples/$MODEL_NAME/expected.json, the row of request.json)"

TARGETS=(ferry-grpc ferry-rest)
[[ "$SKIP_MLSERVER" == 1 ]] || TARGETS+=(mlserver-grpc)
declare -A SERVER_OF=([ferry-grpc]=ferry [ferry-rest]=ferry [mlserver-grpc]=mlserver)
declare -A GRPC_PORT_OF=([ferry-grpc]=$FERRY_GRPC_PORT [mlserver-grpc]=$MLS_GRPC_PORT)
declare -A ANSWER_BYTES=()

check_grpc() { # target — one real gRPC call with grpcio: grpc-status 0 and the expected probability
  local t=$1 out
  out="$("$PY" "$HERE/grpc_client.py" check "127.0.0.1:${GRPC_PORT_OF[$t]}" "$GRPC_BODY" "$BODY" "$EXPECTED" 2>&1)" \
    || fail_server "${SERVER_OF[$t]}" "$t: gRPC check failed: $out"
  ANSWER_BYTES[$t]="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1].splitlines()[-1])["response_bytes"])' "$out")"
  log "$t OK: $(tail -n1 <<<"$out")"
}
check_rest() { # one real REST call: 200 and the expected probability
  local out="$RUN_TMP/rest.json" code
  code="$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
    --data-binary "@$BODY" "http://127.0.0.1:$FERRY_PORT$INFER_PATH" 2>/dev/null || true)"
  [[ "$code" == 200 ]] || fail_server ferry "ferry-rest: POST $INFER_PATH -> HTTP ${code:-none}: $(head -c 500 "$out" 2>/dev/null)"
  python3 -c '
import json, sys
got = {o["name"]: o["data"] for o in json.load(open(sys.argv[1]))["outputs"]}.get("predict")
want = float(sys.argv[2])
sys.exit(0 if got and len(got) == 1 and abs(got[0] - want) <= 1e-5 else f"predict {got}, expected [{want}]")
' "$out" "$EXPECTED_P" || fail_server ferry "ferry-rest: wrong answer: $(head -c 500 "$out")"
  log "ferry-rest OK: $(head -c 200 "$out" | tr -d '\n')"
}
check_all() {
  check_grpc ferry-grpc
  check_rest
  [[ "$SKIP_MLSERVER" == 1 ]] || check_grpc mlserver-grpc
}
check_all

# ---------------------------------------------------------------- load runs
run_load() { # target threads conns duration outfile [logfile]
  local t=$1 th=$2 c=$3 d=$4 out=$5 lf=${6:-}
  if [[ $t == ferry-rest ]]; then
    "${LOAD_PREFIX[@]}" wrk -t"$th" -c"$c" -d"$d" --latency -s "$LUA" "http://127.0.0.1:$FERRY_PORT$INFER_PATH" -- "$BODY" >"$out" 2>&1
  else
    local logarg=(); [[ -n "$lf" ]] && logarg=(--log-file="$lf")
    "${LOAD_PREFIX[@]}" h2load -D "$d" -t"$th" -c"$c" -m 1 -d "$GRPC_BODY" \
      -H 'content-type: application/grpc' -H 'te: trailers' "${logarg[@]}" \
      "http://127.0.0.1:${GRPC_PORT_OF[$t]}$GRPC_PATH" >"$out" 2>&1
  fi
}

for t in "${TARGETS[@]}"; do
  log "warming up $t ($WARMUP, 8 connections)"
  run_load "$t" 2 8 "$WARMUP" "$LOGS/$t-warmup.txt" || { cat "$LOGS/$t-warmup.txt" >&2; die "warm-up of $t failed"; }
done

TSV="$OUT/runs.tsv"
: >"$TSV"
for c in $CONNECTIONS; do
  th=2; ((c < 2)) && th=1
  for t in "${TARGETS[@]}"; do
    out="$LOGS/$t-c$c.txt"
    lf="$LOGS/$t-c$c.h2load.log"
    pid=${PID[${SERVER_OF[$t]}]}
    cpu0="$(session_ticks "$pid")"
    run_load "$t" "$th" "$c" "$DURATION" "$out" "$lf" || { cat "$out" >&2; die "load run against $t (-c$c) failed"; }
    cpu1="$(session_ticks "$pid")"
    pid_running "$pid" || fail_server "${SERVER_OF[$t]}" "process died during the $t -c$c run"
    if [[ $t == ferry-rest ]]; then
      line="$(grep '^FERRY_BENCH ' "$out")" || { cat "$out" >&2; die "no FERRY_BENCH line in wrk output for $t -c$c"; }
      log "$t -c$c: $(grep -E 'Requests/sec' "$out" | tr -s ' ')"
    else
      line="H2LOAD out=$out log=$lf answer_bytes=${ANSWER_BYTES[$t]}"
      log "$t -c$c: $(grep -E '^finished in' "$out")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$c" "$th" "$((cpu1 - cpu0))" "$line" >>"$TSV"
  done
done

# The answers after the load are still right (h2load counts HTTP 200 even when grpc-status != 0).
check_all

# ---------------------------------------------------------------- report
H2LOAD_VERSION="$(h2load --version 2>&1 | head -n1 || true)"
WRK_VERSION="$(wrk -v 2>&1 | head -n1 || true)"
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null)" || GIT_REV=unknown
python3 "$HERE/report.py" "$TSV" "$OUT" "$CLK_TCK" "$DURATION" "$GRPC_INPUT" "$H2LOAD_VERSION" "$WRK_VERSION" \
  "$MLSERVER_VERSION" "$GIT_REV" "$FERRY_BIN" "$RUN_TMP/body.json"

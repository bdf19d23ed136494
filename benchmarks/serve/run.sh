#!/usr/bin/env bash
# Serving benchmark: Ferry vs a constant-response Hummingbird baseline vs
# MLServer (+ mlserver-xgboost), all answering the same 1-row Open Inference
# Protocol V2 request for the examples/fraud XGBoost model, measured with wrk
# in one run. See benchmarks/README.md.
#
#   bash benchmarks/serve/run.sh
#
# Env knobs (all optional):
#   DURATION=10s          wrk duration of each measured run
#   CONNECTIONS="1 8 64"  connection counts (1 -> -t1 -c1, else -t2 -cN)
#   WARMUP=2s             wrk warm-up per server before measuring
#   READY_TIMEOUT=120     seconds to wait for each server to become ready
#   SKIP_MLSERVER=1       do not install/start/measure MLServer
#   SKIP_BARE=1           do not measure Ferry with metrics and the prediction log off
#   SKIP_ROUTED=1         do not measure Ferry with --direct-inference off (every request through the router)
#   SKIP_BATCHED=1        do not measure Ferry with dynamic batching on (BATCH_ARGS, default --batch-max-rows 32,
#                         greedy; add --batch-max-delay-ms 1 for the timed batcher)
#   SKIP_NGINX=1          do not measure nginx returning the baseline's constant body (the machine's HTTP ceiling)
#   SKIP_CACHED=1         do not measure an endpoint with the answer cache on (the body never changes, so this is
#                         the cache's best case: every request after the first is a hit)
#   SKIP_REMOTE=1         do not measure Ferry serving the model through MLServer as its remote backend
#                         (ferry-remote: Ferry's auth, validation, metrics and log around MLServer's answer; needs MLServer)
#   FERRY_ARGS="..."      extra flags for the measured Ferry
#   MLSERVER_METRICS=0    disable MLServer's metrics server/middleware (default: on, own port)
#   MLSERVER_WORKERS=N    MLServer parallel_workers (default: MLServer's default, 1)
#   FERRY_BIN, BASELINE_BIN  use these binaries instead of `swift build -c release`
#   REQUEST_BODY=path     request body (default examples/fraud/request.json)
#   SERVER_CPUS, WRK_CPUS taskset CPU lists for servers / wrk (default: unpinned)
#   RESULTS_JSON=path     default benchmarks/.work/serve-results.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/serve"
WORK="$ROOT/benchmarks/.work"
LOGS="$WORK/serve-logs"
VENV="$WORK/venv"

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-1 8 64}"
WARMUP="${WARMUP:-2s}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
SKIP_MLSERVER="${SKIP_MLSERVER:-0}"
MLSERVER_METRICS="${MLSERVER_METRICS:-1}"
MLSERVER_WORKERS="${MLSERVER_WORKERS:-}"
RESULTS_JSON="${RESULTS_JSON:-$WORK/serve-results.json}"
MODEL_NAME="fraud"
INFER_PATH="/v2/models/$MODEL_NAME/infer"
LUA="$HERE/infer.lua"

BENCH_TAG=serve-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

# ---------------------------------------------------------------- tools
command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"
NGINX="${NGINX:-/usr/sbin/nginx}"
if [[ "${SKIP_NGINX:-0}" != 1 && ! -x "$NGINX" ]]; then log "installing nginx (apt)"; apt_install nginx; fi
CLK_TCK="$(getconf CLK_TCK)"

WRK_PREFIX=(); SERVER_PREFIX=()
[[ -n "${WRK_CPUS:-}" ]] && WRK_PREFIX=(taskset -c "$WRK_CPUS")
[[ -n "${SERVER_CPUS:-}" ]] && SERVER_PREFIX=(taskset -c "$SERVER_CPUS")

mkdir -p "$WORK" "$LOGS"
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferry-serve-bench.XXXXXX")"

# ---------------------------------------------------------------- inputs
MODEL_JSON="$ROOT/examples/$MODEL_NAME/model.json"
[[ -f "$MODEL_JSON" ]] || die "missing $MODEL_JSON (generate it with examples/fraud/train.py)"
if [[ -n "${REQUEST_BODY:-}" ]]; then
  BODY="$REQUEST_BODY"
elif [[ -f "$ROOT/examples/$MODEL_NAME/request.json" ]]; then
  BODY="$ROOT/examples/$MODEL_NAME/request.json"
elif [[ -f "$WORK/request.json" ]]; then
  BODY="$WORK/request.json"
  log "WARNING: examples/$MODEL_NAME/request.json missing; using $BODY"
else
  die "no request body: examples/$MODEL_NAME/request.json (or REQUEST_BODY) is missing"
fi
BODY="$(cd "$(dirname "$BODY")" && pwd)/$(basename "$BODY")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$BODY" || die "request body $BODY is not valid JSON"

# ---------------------------------------------------------------- binaries
if [[ -z "${FERRY_BIN:-}" || -z "${BASELINE_BIN:-}" ]]; then
  log "building release binaries: swift build -c release"
  swift build -c release
  FERRY_BIN="${FERRY_BIN:-$ROOT/.build/release/ferry}"
  BASELINE_BIN="${BASELINE_BIN:-$ROOT/.build/release/ferry-bench-baseline}"
fi
[[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN"
[[ -x "$BASELINE_BIN" ]] || die "baseline binary not executable: $BASELINE_BIN"

# ---------------------------------------------------------------- ports
# All ports are chosen at once (sockets held until all are picked) so they are distinct.
read -r -a PORTS <<<"$(python3 -c '
import socket
socks = []
for _ in range(11):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
')"
FERRY_PORT=${PORTS[0]}; BASELINE_PORT=${PORTS[1]}
MLS_HTTP_PORT=${PORTS[2]}; MLS_GRPC_PORT=${PORTS[3]}; MLS_METRICS_PORT=${PORTS[4]}; BARE_PORT=${PORTS[5]}
BATCHED_PORT=${PORTS[6]}; CACHED_PORT=${PORTS[7]}; NGINX_PORT=${PORTS[8]}; ROUTED_PORT=${PORTS[9]}; REMOTE_PORT=${PORTS[10]}
SKIP_REMOTE="${SKIP_REMOTE:-$SKIP_MLSERVER}"

# ---------------------------------------------------------------- process helpers
declare -A PID=() PORT=() SLOG=()
SERVERS=()

# Sum utime+stime+cutime+cstime (clock ticks) of every process in a session.
session_ticks() {
  local sid=$1
  # Field layout after "comm) ": state ppid pgrp session ... utime(12) stime(13) cutime(14) cstime(15)
  cat /proc/[0-9]*/stat 2>/dev/null | sed 's/^.*) //' |
    awk -v sid="$sid" '$4 == sid { t += $12 + $13 + $14 + $15 } END { printf "%d\n", t }'
}
session_alive() { # any non-zombie process left in the session?
  local sid=$1
  cat /proc/[0-9]*/stat 2>/dev/null | sed 's/^.*) //' |
    awk -v sid="$sid" '$4 == sid && $1 != "Z" { n++ } END { exit (n > 0 ? 0 : 1) }'
}
pid_running() { local s; s="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1; [[ -n "$s" && "$s" != Z ]]; }

stop_all() {
  local name pid i
  for name in "${SERVERS[@]}"; do
    pid=${PID[$name]:-}; [[ -n "$pid" ]] || continue
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for name in "${SERVERS[@]}"; do
    pid=${PID[$name]:-}; [[ -n "$pid" ]] || continue
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
trap 'exit 130' INT
trap 'exit 143' TERM

fail_server() { # name message
  local name=$1 msg=$2
  {
    echo
    echo "[serve-bench] ---- last 40 lines of ${SLOG[$name]} ----"
    tail -n 40 "${SLOG[$name]}" 2>/dev/null || true
    echo "[serve-bench] ----"
  } >&2
  die "server '$name' failed: $msg"
}

# start_server NAME PORT CMD... — own session (setsid) so the whole process tree can be
# measured (CPU) and stopped as a group.
start_server() {
  local name=$1 port=$2; shift 2
  SLOG[$name]="$LOGS/$name.log"
  PORT[$name]=$port
  log "starting $name on 127.0.0.1:$port: $*"
  setsid "${SERVER_PREFIX[@]}" "$@" >"${SLOG[$name]}" 2>&1 </dev/null &
  PID[$name]=$!
  SERVERS+=("$name")
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer $FERRY_API_KEY" "$@" 2>/dev/null || true; }
declare -A INFER=()   # per-server inference path (default INFER_PATH)
infer_path() { echo "${INFER[$1]:-$INFER_PATH}"; }

wait_ready() { # name path...
  local name=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT)) ok p code=""
  while :; do
    pid_running "${PID[$name]}" || fail_server "$name" "process exited before becoming ready"
    ok=1
    for p in "$@"; do
      code="$(http_code "http://127.0.0.1:${PORT[$name]}$p")"
      if [[ "$code" != 200 ]]; then ok=0; break; fi
    done
    if ((ok)); then log "$name ready after $((SECONDS + READY_TIMEOUT - deadline))s"; return 0; fi
    ((SECONDS < deadline)) || fail_server "$name" "not ready after ${READY_TIMEOUT}s (GET $p -> ${code:-none})"
    sleep 0.25
  done
}

smoke_infer() { # name — one real request must answer 200
  local name=$1 out code
  out="$RUN_TMP/smoke-$name.json"
  code="$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -X POST \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $FERRY_API_KEY" --data-binary "@$BODY" \
    "http://127.0.0.1:${PORT[$name]}$(infer_path "$name")" 2>/dev/null || true)"
  if [[ "$code" != 200 ]]; then
    fail_server "$name" "POST $INFER_PATH -> HTTP ${code:-none}: $(head -c 500 "$out" 2>/dev/null)"
  fi
  log "$name infer OK: $(head -c 200 "$out" | tr -d '\n')"
}

run_wrk() { # name threads conns duration outfile
  "${WRK_PREFIX[@]}" wrk -t"$2" -c"$3" -d"$4" --latency -s "$LUA" \
    "http://127.0.0.1:${PORT[$1]}$(infer_path "$1")" -- "$BODY" >"$5" 2>&1
}

# ---------------------------------------------------------------- MLServer config
MLSERVER_VERSION=""
if [[ "$SKIP_MLSERVER" != 1 ]]; then
  setup_venv "$VENV" "$HERE/requirements.txt" bin/mlserver
  MLSERVER_VERSION="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mlserver"))')"
  MLS_DIR="$WORK/mlserver"
  rm -rf "$MLS_DIR"
  mkdir -p "$MLS_DIR/models/$MODEL_NAME"
  cp "$MODEL_JSON" "$MLS_DIR/models/$MODEL_NAME/model.json"
  MLS_DIR="$MLS_DIR" MODEL_NAME="$MODEL_NAME" MLS_HTTP_PORT="$MLS_HTTP_PORT" MLS_GRPC_PORT="$MLS_GRPC_PORT" \
  MLS_METRICS_PORT="$MLS_METRICS_PORT" MLSERVER_METRICS="$MLSERVER_METRICS" MLSERVER_WORKERS="$MLSERVER_WORKERS" \
  python3 - <<'EOF'
import json, os
d, name = os.environ["MLS_DIR"], os.environ["MODEL_NAME"]
settings = {
    "debug": False,  # debug=true (MLServer's default) turns on a per-request access log
    "host": "127.0.0.1",
    "http_port": int(os.environ["MLS_HTTP_PORT"]),
    "grpc_port": int(os.environ["MLS_GRPC_PORT"]),
    "metrics_port": int(os.environ["MLS_METRICS_PORT"]),
}
if os.environ["MLSERVER_METRICS"] == "0":
    settings["metrics_endpoint"] = None
if os.environ["MLSERVER_WORKERS"]:
    settings["parallel_workers"] = int(os.environ["MLSERVER_WORKERS"])
json.dump(settings, open(os.path.join(d, "settings.json"), "w"), indent=2)
model_dir = os.path.join(d, "models", name)
json.dump(
    {
        "name": name,
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": os.path.join(model_dir, "model.json")},
        # Declared so that V2 metadata describes them: Ferry reads a remote backend's inputs and outputs from it.
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 12]}],
        "outputs": [{"name": "predict", "datatype": "FP32", "shape": [-1]}],
    },
    open(os.path.join(model_dir, "model-settings.json"), "w"),
    indent=2,
)
EOF
fi

# ---------------------------------------------------------------- start servers
# Ferry runs with authentication on (its default): every request carries this key, as a real client's would.
export FERRY_ADMIN_KEY="fry_benchmrk_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_API_KEY="$FERRY_ADMIN_KEY"
# FERRY_ARGS adds flags to the measured Ferry, e.g. FERRY_ARGS="--log-sample-rate 0" to cost the metrics alone.
# shellcheck disable=SC2086
start_server ferry "$FERRY_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$FERRY_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-data" --example "examples/$MODEL_NAME" ${FERRY_ARGS:-}
# The same Ferry with per-request metrics and the prediction log off: the difference is what monitoring costs.
[[ "${SKIP_BARE:-0}" == 1 ]] || start_server ferry-bare "$BARE_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$BARE_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-bare-data" --example "examples/$MODEL_NAME" --request-metrics off --log-sample-rate 0
# The same Ferry with every request through the router: the difference is what answering on the event loop saves.
[[ "${SKIP_ROUTED:-0}" == 1 ]] || start_server ferry-routed "$ROUTED_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$ROUTED_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-routed-data" --example "examples/$MODEL_NAME" --direct-inference off
# Dynamic batching, and an endpoint with the answer cache: what each changes against the defaults above.
# shellcheck disable=SC2086
[[ "${SKIP_BATCHED:-0}" == 1 ]] || start_server ferry-batched "$BATCHED_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$BATCHED_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-batched-data" --example "examples/$MODEL_NAME" ${BATCH_ARGS:---batch-max-rows 32}
[[ "${SKIP_CACHED:-0}" == 1 ]] || start_server ferry-cached "$CACHED_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$CACHED_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-cached-data" --example "examples/$MODEL_NAME"
start_server baseline "$BASELINE_PORT" "$BASELINE_BIN" --host 127.0.0.1 --port "$BASELINE_PORT"
# nginx answering the baseline's constant body with as many workers as cores: the HTTP ceiling of this machine.
if [[ "${SKIP_NGINX:-0}" != 1 ]]; then
  mkdir -p "$RUN_TMP/nginx"
  cat >"$RUN_TMP/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $RUN_TMP/nginx/nginx.pid;
error_log $RUN_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $RUN_TMP/nginx/body;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /v2/health/ready { default_type application/json; return 200 '{"ready":true}'; }
    location / { default_type application/json; return 200 '{"model_name":"fraud","model_version":"1","outputs":[{"name":"predict","datatype":"FP32","shape":[1],"data":[0.5]}]}'; }
  }
}
EOF
  start_server nginx "$NGINX_PORT" "$NGINX" -c "$RUN_TMP/nginx/nginx.conf" -e "$RUN_TMP/nginx/error.log"
fi
[[ "$SKIP_MLSERVER" == 1 ]] || start_server mlserver "$MLS_HTTP_PORT" "$VENV/bin/mlserver" start "$MLS_DIR"
# Ferry with the model served by MLServer as its remote backend (registered once MLServer is ready, below).
[[ "$SKIP_REMOTE" == 1 ]] || start_server ferry-remote "$REMOTE_PORT" "$FERRY_BIN" serve --host 127.0.0.1 --port "$REMOTE_PORT" --grpc-port 0 \
  --data-dir "$RUN_TMP/ferry-remote-data"

wait_ready ferry /v2/health/ready "/v2/models/$MODEL_NAME/ready"
[[ "${SKIP_BARE:-0}" == 1 ]] || wait_ready ferry-bare /v2/health/ready "/v2/models/$MODEL_NAME/ready"
[[ "${SKIP_ROUTED:-0}" == 1 ]] || wait_ready ferry-routed /v2/health/ready "/v2/models/$MODEL_NAME/ready"
[[ "${SKIP_BATCHED:-0}" == 1 ]] || wait_ready ferry-batched /v2/health/ready "/v2/models/$MODEL_NAME/ready"
if [[ "${SKIP_CACHED:-0}" != 1 ]]; then
  wait_ready ferry-cached /v2/health/ready "/v2/models/$MODEL_NAME/ready"
  code="$(curl -s -o "$RUN_TMP/endpoint.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $FERRY_API_KEY" \
    -H 'Content-Type: application/json' "http://127.0.0.1:$CACHED_PORT/api/v1/endpoints/$MODEL_NAME-cached" \
    -d '{"variants": [{"model": "'"$MODEL_NAME"'", "version": 1, "weight": 1}], "cache": {"max_entries": 10000, "ttl_seconds": 3600}}')"
  [[ "$code" == 200 ]] || fail_server ferry-cached "could not create the cached endpoint: HTTP $code $(cat "$RUN_TMP/endpoint.json")"
  INFER[ferry-cached]="/v2/models/$MODEL_NAME-cached/infer"
fi
wait_ready baseline /v2/health/ready
[[ "${SKIP_NGINX:-0}" == 1 ]] || wait_ready nginx /v2/health/ready
[[ "$SKIP_MLSERVER" == 1 ]] || wait_ready mlserver "/v2/models/$MODEL_NAME/ready"
if [[ "$SKIP_REMOTE" != 1 ]]; then
  wait_ready ferry-remote /v2/health/ready
  FERRY_SERVER="http://127.0.0.1:$REMOTE_PORT" "$FERRY_BIN" models register "$MODEL_NAME" \
    --remote "http://127.0.0.1:$MLS_HTTP_PORT" --remote-model "$MODEL_NAME" >"$LOGS/ferry-remote-register.txt" 2>&1 \
    || fail_server ferry-remote "could not register MLServer as the remote backend: $(cat "$LOGS/ferry-remote-register.txt")"
  FERRY_SERVER="http://127.0.0.1:$REMOTE_PORT" "$FERRY_BIN" alias set "$MODEL_NAME" production 1 >/dev/null 2>&1 \
    || fail_server ferry-remote "could not set the production alias"
  wait_ready ferry-remote "/v2/models/$MODEL_NAME/ready"
fi

for name in "${SERVERS[@]}"; do smoke_infer "$name"; done
for name in "${SERVERS[@]}"; do
  log "warming up $name ($WARMUP)"
  run_wrk "$name" 2 8 "$WARMUP" "$LOGS/wrk-$name-warmup.txt" || die "wrk warm-up against $name failed (see $LOGS/wrk-$name-warmup.txt)"
done

# ---------------------------------------------------------------- measure
TSV="$RUN_TMP/results.tsv"
: >"$TSV"
for c in $CONNECTIONS; do
  t=2; ((c < 2)) && t=1
  for name in "${SERVERS[@]}"; do
    out="$LOGS/wrk-$name-c$c.txt"
    cpu0="$(session_ticks "${PID[$name]}")"
    run_wrk "$name" "$t" "$c" "$DURATION" "$out" || { cat "$out" >&2; die "wrk against $name (-c$c) failed"; }
    cpu1="$(session_ticks "${PID[$name]}")"
    pid_running "${PID[$name]}" || fail_server "$name" "process died during the -c$c run"
    line="$(grep '^FERRY_BENCH ' "$out")" || { cat "$out" >&2; die "no FERRY_BENCH line in wrk output for $name -c$c"; }
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$t" "$((cpu1 - cpu0))" "$line" >>"$TSV"
    log "$name -c$c: $(grep -E 'Requests/sec' "$out" | tr -s ' ')"
  done
done

# ---------------------------------------------------------------- report
WRK_VERSION="$(wrk -v 2>&1 | head -n1 || true)"
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null)" || GIT_REV=unknown
python3 - "$TSV" "$RESULTS_JSON" "$CLK_TCK" "$DURATION" "$BODY" "$WRK_VERSION" "$MLSERVER_VERSION" "$GIT_REV" "$FERRY_BIN" "$BASELINE_BIN" <<'EOF'
import json, os, platform, sys, time

tsv, out_path, clk_tck, duration, body, wrk_version, mls_version, git_rev, ferry_bin, baseline_bin = sys.argv[1:11]
clk_tck = int(clk_tck)
rows = []
for raw in open(tsv):
    name, conns, threads, ticks, line = raw.rstrip("\n").split("\t")
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    n = {k: float(v) for k, v in kv.items()}
    reqs = int(n["requests"])
    secs = n["duration_us"] / 1e6
    socket_errors = {k: int(n[k]) for k in ("connect", "read", "write", "timeout")}
    rows.append({
        "server": name,
        "connections": int(conns),
        "threads": int(threads),
        "requests": reqs,
        "duration_s": round(secs, 3),
        "rps": round(reqs / secs, 1) if secs > 0 else 0.0,
        "latency_ms": {k: round(n[f"{k}_us"] / 1000.0, 3) for k in ("mean", "p50", "p90", "p99", "max")},
        "non_2xx": int(n["status"]),
        "socket_errors": socket_errors,
        "server_cpu_s": round(int(ticks) / clk_tck, 2),
        "cpu_us_per_request": round(int(ticks) / clk_tck * 1e6 / reqs, 1) if reqs else None,
    })

by = {(r["server"], r["connections"]): r for r in rows}
conn_list = sorted({r["connections"] for r in rows})
ratios = []
for c in conn_list:
    f, b, m = by.get(("ferry", c)), by.get(("baseline", c)), by.get(("mlserver", c))
    bare = by.get(("ferry-bare", c))
    nginx = by.get(("nginx", c))
    routed = by.get(("ferry-routed", c))
    batched, cached = by.get(("ferry-batched", c)), by.get(("ferry-cached", c))
    remote = by.get(("ferry-remote", c))
    ratios.append({
        "remote_over_mlserver": round(remote["rps"] / m["rps"], 3) if remote and m and m["rps"] else None,
        "remote_added_p50_ms": round(remote["latency_ms"]["p50"] - m["latency_ms"]["p50"], 3) if remote and m else None,
        "batched_over_ferry": round(batched["rps"] / f["rps"], 3) if f and batched and f["rps"] else None,
        "batched_p50_p99_ms": [batched["latency_ms"]["p50"], batched["latency_ms"]["p99"]] if batched else None,
        "cached_over_ferry": round(cached["rps"] / f["rps"], 3) if f and cached and f["rps"] else None,
        "connections": c,
        "ferry_over_ferry_bare": round(f["rps"] / bare["rps"], 3) if f and bare and bare["rps"] else None,
        "monitoring_cpu_us_per_request": round(f["cpu_us_per_request"] - bare["cpu_us_per_request"], 1)
            if f and bare and f["cpu_us_per_request"] is not None and bare["cpu_us_per_request"] is not None else None,
        "ferry_over_baseline": round(f["rps"] / b["rps"], 3) if f and b and b["rps"] else None,
        "ferry_over_mlserver": round(f["rps"] / m["rps"], 3) if f and m and m["rps"] else None,
        "ferry_over_ferry_routed": round(f["rps"] / routed["rps"], 3) if f and routed and routed["rps"] else None,
        "ferry_over_nginx": round(f["rps"] / nginx["rps"], 3) if f and nginx and nginx["rps"] else None,
    })

result = {
    "benchmark": "serve",
    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "git_rev": git_rev,
    "duration": duration,
    "request_body": os.path.relpath(body),
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()},
    "tools": {"wrk": wrk_version, "mlserver": mls_version or None},
    "binaries": {"ferry": ferry_bin, "baseline": baseline_bin},
    "cpu_note": "server CPU = utime+stime of every process in the server's session, delta over the run, / requests",
    "results": rows,
    "ratios_rps": ratios,
}
os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
with open(out_path, "w") as fh:
    json.dump(result, fh, indent=2)
    fh.write("\n")

hdr = f"{'server':<13} {'conns':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non2xx/sock':>12} {'CPU us/req':>11}"
print()
print(f"Serving benchmark: 1-row V2 infer, model '{os.path.basename(os.path.dirname(body))}', wrk {duration} per run")
print(hdr)
print("-" * len(hdr))
for c in conn_list:
    for r in rows:
        if r["connections"] != c:
            continue
        errs = f"{r['non_2xx']}/{sum(r['socket_errors'].values())}"
        cpu = "-" if r["cpu_us_per_request"] is None else f"{r['cpu_us_per_request']:.1f}"
        print(f"{r['server']:<13} {c:>5} {r['rps']:>10.1f} {r['latency_ms']['p50']:>8.3f} "
              f"{r['latency_ms']['p99']:>8.3f} {errs:>12} {cpu:>11}")
print()
fmt = lambda v: "-" if v is None else f"{v:.2f}x"
print(f"{'conns':>5} {'ferry/baseline':>15} {'ferry/mlserver':>15} {'ferry/nginx':>12} {'ferry/routed':>13} {'ferry/bare':>11} {'batched/ferry':>14} {'cached/ferry':>13} {'remote/mlserver':>16} {'remote +p50 ms':>15}   (req/s ratios; routed = --direct-inference off; bare = metrics and prediction log off; remote = Ferry in front of MLServer as its remote backend)")
for r in ratios:
    added = "-" if r["remote_added_p50_ms"] is None else f"{r['remote_added_p50_ms']:.3f}"
    print(f"{r['connections']:>5} {fmt(r['ferry_over_baseline']):>15} {fmt(r['ferry_over_mlserver']):>15} {fmt(r['ferry_over_nginx']):>12} {fmt(r['ferry_over_ferry_routed']):>13} {fmt(r['ferry_over_ferry_bare']):>11} "
          f"{fmt(r['batched_over_ferry']):>14} {fmt(r['cached_over_ferry']):>13} {fmt(r['remote_over_mlserver']):>16} {added:>15}")
print()
print(f"results written to {os.path.relpath(out_path)}")

bad_status = [r for r in rows if r["non_2xx"]]
bad_sock = [r for r in rows if sum(r["socket_errors"].values())]
for r in bad_sock:
    print(f"WARNING: {r['server']} -c{r['connections']}: socket errors {r['socket_errors']}", file=sys.stderr)
for r in bad_status:
    print(f"ERROR: {r['server']} -c{r['connections']}: {r['non_2xx']} non-2xx responses", file=sys.stderr)
sys.exit(3 if bad_status else 0)
EOF

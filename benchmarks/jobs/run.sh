#!/usr/bin/env bash
# Batch-scoring benchmark: Ferry's asynchronous batch jobs vs pandas + xgboost vs polars + xgboost, scoring the
# same CSV file (ROWS rows of the examples/fraud model's 12 features plus an id) end to end in one run, plus
# Ferry's online p99 latency while a job runs. See benchmarks/README.md.
#
#   bash benchmarks/jobs/run.sh                                    # 10,000,000 rows, builds ferry
#   ROWS=1000000 FERRY_BIN=/path/to/ferry bash benchmarks/jobs/run.sh
#
# Env knobs (all optional):
#   ROWS=10000000        input rows (the file is generated once per size into benchmarks/.work/jobs/)
#   ORDER=shuffled       which example row each input row repeats: shuffled (a fixed hash of the row number) or
#                        cycle (row r is example (r-1) % 20, the input before 2026-11-28; see make_input.py)
#   FERRY_BIN=path       ferry binary; unset: swift build -c release --build-path .build-release --product ferry
#   REPEATS=1            end-to-end runs per tool (the fastest counts)
#   PEERS="pandas polars"  peers to run
#   PANDAS_ENGINE=c      pandas read_csv engine: c (pandas' default) or pyarrow
#   SKIP_ONLINE=1        do not measure online latency during / without a job
#   WARMUP=2s            wrk warm-up before the online measurements
#   TOLERANCE=1e-5       largest |difference| allowed between predictions (and vs expected.json)
#   SAMPLE=10000         rows of the cross-tool sample shown in the report (every row is checked anyway)
#   POLL=0.1             seconds between Ferry job polls
#   JOB_TIMEOUT=3600     longest Ferry job, seconds
#   READY_TIMEOUT=120    seconds to wait for ferry serve
#   FERRY_ARGS="..."     extra flags for ferry serve
#   KEEP_OUTPUTS=1       keep the three output CSVs in benchmarks/.work/jobs/out/ (default: deleted at the end)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/jobs"
WORK="$ROOT/benchmarks/.work"
JW="$WORK/jobs"
VENV="$WORK/jobs-venv"

ROWS="${ROWS:-10000000}"
ORDER="${ORDER:-shuffled}"
REPEATS="${REPEATS:-1}"
PEERS="${PEERS:-pandas polars}"
PANDAS_ENGINE="${PANDAS_ENGINE:-c}"
SKIP_ONLINE="${SKIP_ONLINE:-0}"
WARMUP="${WARMUP:-2s}"
TOLERANCE="${TOLERANCE:-1e-5}"
SAMPLE="${SAMPLE:-10000}"
POLL="${POLL:-0.1}"
JOB_TIMEOUT="${JOB_TIMEOUT:-3600}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
KEEP_OUTPUTS="${KEEP_OUTPUTS:-0}"
MODEL_NAME=fraud
EXAMPLE="$ROOT/examples/$MODEL_NAME"
MODEL_JSON="$EXAMPLE/model.json"
EXPECTED="$EXAMPLE/expected.json"
BODY="$EXAMPLE/request.json"
LUA="$ROOT/benchmarks/serve/infer.lua"

BENCH_TAG=jobs-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

[[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -ge 1 ]] || die "ROWS must be a whole number >= 1 (it is '$ROWS')"
[[ "$REPEATS" =~ ^[0-9]+$ && "$REPEATS" -ge 1 ]] || die "REPEATS must be a whole number >= 1 (it is '$REPEATS')"
for p in $PEERS; do [[ "$p" == pandas || "$p" == polars ]] || die "PEERS may name pandas and polars only (got '$p')"; done
[[ "$PANDAS_ENGINE" == c || "$PANDAS_ENGINE" == pyarrow ]] || die "PANDAS_ENGINE must be c or pyarrow (it is '$PANDAS_ENGINE')"
for f in "$MODEL_JSON" "$EXPECTED" "$BODY" "$LUA"; do [[ -f "$f" ]] || die "missing $f"; done

# ---------------------------------------------------------------- tools
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
if [[ "$SKIP_ONLINE" != 1 ]]; then command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }; fi
command -v setsid >/dev/null || die "setsid (util-linux) is required"

# ---------------------------------------------------------------- ferry binary
if [[ -z "${FERRY_BIN:-}" ]]; then
  log "building: swift build -c release --build-path .build-release --product ferry"
  swift build -c release --build-path .build-release --product ferry || die "swift build of ferry failed"
  FERRY_BIN="$ROOT/.build-release/release/ferry"
fi
[[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN (build it with \`swift build -c release --product ferry --build-path .build-release\`, or set FERRY_BIN)"
case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac
FERRY_BIN="$(cd "$(dirname "$FERRY_BIN")" && pwd)/$(basename "$FERRY_BIN")"
FERRY_VERSION="$("$FERRY_BIN" --version 2>/dev/null | head -n1 || true)"
# Which build was measured: the binary's sha256 and mtime go into the results (a rebuilt binary changes both).
FERRY_SHA256="$(sha256sum "$FERRY_BIN" | cut -c1-16)"
FERRY_MTIME="$(date -u -r "$FERRY_BIN" +%Y-%m-%dT%H:%M:%SZ)"

# ---------------------------------------------------------------- venv, input
setup_venv "$VENV" "$HERE/requirements.txt" bin/python
PY="$VENV/bin/python"
mkdir -p "$JW"
INPUT="$JW/rows-$ROWS$([ "$ORDER" = shuffled ] || echo "-$ORDER").csv"
"$PY" "$HERE/make_input.py" "$EXPECTED" "$INPUT" "$ROWS" "$ORDER" || die "could not generate $INPUT"
INPUT="$(cd "$(dirname "$INPUT")" && pwd -P)/$(basename "$INPUT")"
INPUT_BYTES="$(stat -c %s "$INPUT")"

RUN="$JW/run-$ROWS"   # this run's JSON, logs and wrk output (kept)
OUT="$JW/out"         # output CSVs (deleted at the end unless KEEP_OUTPUTS=1)
DATA="$JW/ferry-data" # the server's --data-dir (deleted at the end)
rm -rf "$RUN" "$OUT" "$DATA"
mkdir -p "$RUN" "$OUT"
SLOG="$RUN/ferry-serve.log"

# ---------------------------------------------------------------- server lifecycle
FERRY_PID=""
stop_server() {
  [[ -n "$FERRY_PID" ]] || return 0
  local i
  kill -TERM -- "-$FERRY_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$FERRY_PID" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$FERRY_PID" 2>/dev/null; then
    log "ferry (pid $FERRY_PID) did not stop on SIGTERM; sending SIGKILL"
    kill -KILL -- "-$FERRY_PID" 2>/dev/null || true
  fi
  wait "$FERRY_PID" 2>/dev/null || true
  FERRY_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$FERRY_PID" ]]; then log "stopping ferry"; stop_server; fi
  rm -rf "$DATA"
  [[ "$KEEP_OUTPUTS" == 1 ]] || rm -rf "$OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_server() {
  {
    echo
    echo "[$BENCH_TAG] ---- last 40 lines of $SLOG ----"
    tail -n 40 "$SLOG" 2>/dev/null || true
    echo "[$BENCH_TAG] ----"
  } >&2
  die "ferry: $*"
}
alive() { [[ -n "$FERRY_PID" ]] && kill -0 "$FERRY_PID" 2>/dev/null && [[ "$(sed 's/^.*) //' "/proc/$FERRY_PID/stat" | cut -d' ' -f1)" != Z ]]; }

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
# Authentication stays on (Ferry's default); serve has no key flag, so the admin key is preset in the environment.
export FERRY_ADMIN_KEY="fry_bench_$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export FERRY_API_KEY="$FERRY_ADMIN_KEY"
log "starting ferry on $URL (--job-input-dir ${JW#"$ROOT/"})"
# shellcheck disable=SC2086
setsid "$FERRY_BIN" serve --host 127.0.0.1 --port "$PORT" --grpc-port 0 --data-dir "$DATA" \
  --example "examples/$MODEL_NAME" --job-input-dir "$JW" ${FERRY_ARGS:-} >"$SLOG" 2>&1 </dev/null &
FERRY_PID=$!
code=""
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
  alive || fail_server "exited before becoming ready"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer $FERRY_API_KEY" "$URL/v2/health/ready" || true)"
  if [[ "$code" == 200 ]]; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer $FERRY_API_KEY" "$URL/v2/models/$MODEL_NAME/ready" || true)"
    [[ "$code" == 200 ]] && break
  fi
  ((SECONDS < deadline)) || fail_server "not ready after ${READY_TIMEOUT}s (last answer: HTTP ${code:-none})"
  sleep 0.25
done
# setsid execs ferry in the background child (not a group leader), so $! is ferry itself: its /proc is the server's.
[[ "$(readlink -f "/proc/$FERRY_PID/exe")" == "$(readlink -f "$FERRY_BIN")" ]] ||
  die "pid $FERRY_PID is $(readlink -f "/proc/$FERRY_PID/exe"), not $FERRY_BIN: cannot read the server's RSS and CPU"
code="$(curl -s -o "$RUN/smoke.json" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $FERRY_API_KEY" --data-binary "@$BODY" "$URL/v2/models/$MODEL_NAME/infer" || true)"
[[ "$code" == 200 ]] || fail_server "POST /v2/models/$MODEL_NAME/infer -> HTTP ${code:-none}: $(head -c 300 "$RUN/smoke.json" 2>/dev/null)"
log "ferry ready (pid $FERRY_PID, $(awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$FERRY_PID/status") RSS)"

# Other work on the machine skews every figure: measure how busy the CPUs are over 2 s before starting.
cpu_busy_pct() {
  local a b
  a="$(head -n1 /proc/stat)"; sleep 2; b="$(head -n1 /proc/stat)"
  printf '%s\n%s\n' "$a" "$b" | awk '{ idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i
    if (NR == 1) { i0 = idle; t0 = total } else { printf "%.0f\n", 100 * (1 - (idle - i0) / (total - t0)) } }'
}
sync # the kernel writing back a just-generated input would count as busy
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
BUSY_AT_START="$(cpu_busy_pct)"
if ((BUSY_AT_START > 10)); then
  log "WARNING: the CPUs were ${BUSY_AT_START}% busy over 2 s before the run (load average $LOAD_AT_START): other work is running and the numbers will be noisy"
fi

# CPU time (s) the whole machine spent busy (user, nice, system, irq, softirq, steal; not idle or iowait).
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" 'NR == 1 { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# add_machine_cpu result.json before after: records machine_cpu_seconds, and other_cpu_seconds = what the rest of the
# machine used during the run (the tool's own CPU subtracted; for Ferry that leaves the polling client and curl).
add_machine_cpu() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
path, before, after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r = json.load(open(path))
r["machine_cpu_seconds"] = round(after - before, 2)
own = r.get("server_cpu_seconds", r.get("cpu_seconds")) or 0.0
r["other_cpu_seconds"] = round(max(0.0, after - before - own), 2)
json.dump(r, open(path, "w"))
EOF
}

warm_input() { cat "$INPUT" >/dev/null; sync; } # same page-cache state for every tool; earlier outputs flushed
now() { date +%s.%N; }

run_ferry() { # out.json out.csv [wrk args...]
  local json=$1 csv=$2 c0; shift 2
  rm -f "$csv"
  c0="$(machine_cpu)"
  "$PY" "$HERE/ferry_job.py" --url "$URL" --pid "$FERRY_PID" --input "$INPUT" --out "$csv" --model "$MODEL_NAME" \
    --key id --poll "$POLL" --timeout "$JOB_TIMEOUT" "$@" >"$json" || {
      alive || fail_server "the server died during the job"
      fail_server "the batch job failed (see above)"
    }
  alive || fail_server "the server died during the job"
  add_machine_cpu "$json" "$c0" "$(machine_cpu)"
}

run_peer() { # tool out.json out.csv
  local tool=$1 json=$2 csv=$3 t0 t1 c0
  rm -f "$csv"
  c0="$(machine_cpu)"
  t0="$(now)"
  PANDAS_ENGINE="$PANDAS_ENGINE" "$PY" "$HERE/peer.py" "$tool" "$MODEL_JSON" "$EXPECTED" "$INPUT" "$csv" >"$json.tmp" ||
    die "peer $tool failed"
  t1="$(now)"
  "$PY" - "$json.tmp" "$json" "$t0" "$t1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["process_seconds"] = round(float(sys.argv[4]) - float(sys.argv[3]), 3)
json.dump(r, open(sys.argv[2], "w"))
EOF
  rm -f "$json.tmp"
  add_machine_cpu "$json" "$c0" "$(machine_cpu)"
}

summary() { # result.json -> one line
  "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
if r["tool"] == "ferry":
    print("%.2f s end to end, job %s s, %s rows/s reported, server RSS %s MB before, peak %s MB, after %s MB" % (
        r["seconds"], r["job_seconds"], r["rows_per_second_reported"], r["server_rss_before_mb"], r["server_rss_peak_mb"],
        r["server_rss_after_mb"]))
else:
    print("%.2f s end to end (%s), peak RSS %s MB" % (r["seconds"], r["phases"], r["peak_rss_mb"]))
' "$1"
}

# ---------------------------------------------------------------- end to end, one tool at a time
for ((rep = 1; rep <= REPEATS; rep++)); do
  warm_input
  log "ferry: batch job over $ROWS rows (run $rep/$REPEATS)"
  run_ferry "$RUN/ferry-$rep.json" "$OUT/ferry.csv"
  log "ferry: $(summary "$RUN/ferry-$rep.json")"
  for tool in $PEERS; do
    warm_input
    log "$tool: scoring $ROWS rows (run $rep/$REPEATS)"
    run_peer "$tool" "$RUN/$tool-$rep.json" "$OUT/$tool.csv"
    log "$tool: $(summary "$RUN/$tool-$rep.json")"
  done
done

# ---------------------------------------------------------------- online latency during a job / idle
ONLINE=false
if [[ "$SKIP_ONLINE" != 1 ]]; then
  ONLINE=true
  WRK=(wrk -t1 -c1 --latency -s "$LUA" "$URL/v2/models/$MODEL_NAME/infer" -- "$BODY")
  log "online: wrk warm-up ($WARMUP)"
  wrk -t1 -c1 -d"$WARMUP" -s "$LUA" "$URL/v2/models/$MODEL_NAME/infer" -- "$BODY" >"$RUN/wrk-warmup.txt" 2>&1 ||
    { cat "$RUN/wrk-warmup.txt" >&2; die "wrk warm-up failed"; }
  warm_input
  log "online: wrk -t1 -c1 for the whole of a second batch job"
  run_ferry "$RUN/ferry-online.json" "$OUT/ferry-online.csv" --wrk-out "$RUN/wrk-during.txt" -- "${WRK[@]:0:1}" -d3600s "${WRK[@]:1}"
  secs="$("$PY" -c 'import json,math,sys; print(max(1, math.ceil(json.load(open(sys.argv[1]))["wrk_seconds"])))' "$RUN/ferry-online.json")"
  sleep 2
  log "online: wrk -t1 -c1 for ${secs}s with no job running"
  "${WRK[0]}" -d"${secs}s" "${WRK[@]:1}" >"$RUN/wrk-idle.txt" 2>&1 || { cat "$RUN/wrk-idle.txt" >&2; die "wrk (idle) failed"; }
  alive || fail_server "the server died during the idle wrk run"
fi

# ---------------------------------------------------------------- check the outputs agree
OUTPUTS=("ferry=$OUT/ferry.csv")
for tool in $PEERS; do OUTPUTS+=("$tool=$OUT/$tool.csv"); done
[[ "$ONLINE" == true ]] && OUTPUTS+=("ferry_under_load=$OUT/ferry-online.csv")
log "checking ${#OUTPUTS[@]} outputs on all $ROWS rows"
"$PY" "$HERE/check.py" "$EXPECTED" "$ROWS" "$TOLERANCE" "$SAMPLE" "$ORDER" "${OUTPUTS[@]}" >"$RUN/check.json" ||
  die "the outputs do not agree (see the MISMATCH lines above; $RUN/check.json)"
log "outputs agree: $(cut -c1-300 "$RUN/check.json")"

# ---------------------------------------------------------------- report
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null)" || GIT_REV=unknown
CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
ROWS="$ROWS" REPEATS="$REPEATS" PEERS="$PEERS" ONLINE="$ONLINE" INPUT="$INPUT" ROOT="$ROOT" INPUT_BYTES="$INPUT_BYTES" \
CPU_MODEL="$CPU_MODEL" GIT_REV="$GIT_REV" FERRY_BIN="$FERRY_BIN" FERRY_VERSION="$FERRY_VERSION" FERRY_ARGS="${FERRY_ARGS:-}" \
FERRY_SHA256="$FERRY_SHA256" FERRY_MTIME="$FERRY_MTIME" \
PANDAS_ENGINE="$PANDAS_ENGINE" POLL="$POLL" TOLERANCE="$TOLERANCE" LOAD_AT_START="$LOAD_AT_START" BUSY_AT_START="$BUSY_AT_START" \
LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg)" "$PY" - "$RUN/meta.json" <<'EOF'
import importlib.metadata as m, json, os, sys
e = os.environ
json.dump({
    "rows": int(e["ROWS"]), "repeats": int(e["REPEATS"]), "peers": e["PEERS"].split(), "online": e["ONLINE"] == "true",
    "input": e["INPUT"], "input_rel": os.path.relpath(e["INPUT"], e["ROOT"]), "input_bytes": int(e["INPUT_BYTES"]),
    "cpus": os.cpu_count(), "cpu_model": e["CPU_MODEL"], "git_rev": e["GIT_REV"],
    "ferry_bin": e["FERRY_BIN"], "ferry_version": e["FERRY_VERSION"] or "unknown", "ferry_args": e["FERRY_ARGS"],
    "ferry_sha256_16": e["FERRY_SHA256"], "ferry_mtime": e["FERRY_MTIME"],
    "pandas_engine": e["PANDAS_ENGINE"], "poll_s": float(e["POLL"]), "tolerance": float(e["TOLERANCE"]),
    "load_average_at_start": e["LOAD_AT_START"], "load_average_at_end": e["LOAD_AT_END"],
    "cpu_busy_pct_before_start": int(e["BUSY_AT_START"]),
    "versions": {p: m.version(p) for p in ("xgboost-cpu", "pandas", "polars", "numpy", "pyarrow")},
}, open(sys.argv[1], "w"), indent=2)
EOF
"$PY" "$HERE/report.py" "$RUN" "$JW/results-$ROWS.json" "$JW/results-$ROWS.txt" || rc=$?
cp "$JW/results-$ROWS.txt" "$JW/results.txt" 2>/dev/null || true
log "results: ${JW#"$ROOT/"}/results.txt (also results-$ROWS.txt, results-$ROWS.json; raw files in ${RUN#"$ROOT/"}/)"
grep -iE '"level":"(error|critical)"|\berror\b' "$SLOG" | head -n 5 | sed "s/^/[$BENCH_TAG] server log: /" >&2 || true
exit "${rc:-0}"

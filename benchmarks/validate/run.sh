#!/usr/bin/env bash
# Data-validation benchmark: `ferry data validate` vs Great Expectations (pandas engine), checking the same CSV
# file (ROWS rows of the examples/fraud model's 12 features plus an id) against the same expectations in one run,
# then checking that both found the same failing rows. See benchmarks/README.md.
#
#   FERRY_BIN=.build-release/release/ferry bash benchmarks/validate/run.sh      # 10,000,000 rows
#   ROWS=1000000 bash benchmarks/validate/run.sh                                # quick run, about a minute
#
# Env knobs (all optional):
#   ROWS=10000000          input rows (the file is generated once per size into benchmarks/.work/validate/)
#   FERRY_BIN=path         ferry binary (default .build-release/release/ferry); BUILD=1 builds it first with
#                          swift build -c release --build-path .build-release --product ferry
#   GE_FORMATS="COMPLETE SUMMARY"  GE result formats to run, one run each (COMPLETE lists every unexpected row's
#                          index, as a quarantine needs: the headline ratio uses it; SUMMARY only counts)
#   REPEATS=1              runs per tool (the fastest counts)
#   FERRY_MODES="path upload"  how Ferry gets the file: `--path` (the server reads it from a --job-input-dir
#                          folder) and/or uploaded by the CLI
#   READY_TIMEOUT=120      seconds to wait for ferry serve
#   FERRY_ARGS="..."       extra flags for ferry serve
#   KEEP_OUTPUTS=1         keep Ferry's quarantine CSV and GE's result JSON in benchmarks/.work/validate/run-ROWS/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/validate"
WORK="$ROOT/benchmarks/.work"
VW="$WORK/validate"
VENV="$WORK/validate-venv"

ROWS="${ROWS:-10000000}"
REPEATS="${REPEATS:-1}"
GE_FORMATS="${GE_FORMATS:-COMPLETE SUMMARY}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
KEEP_OUTPUTS="${KEEP_OUTPUTS:-0}"
FERRY_MODES="${FERRY_MODES:-path upload}"
BUILD="${BUILD:-0}"
MODEL_NAME=fraud
MODEL_VERSION=1
EXAMPLE="$ROOT/examples/$MODEL_NAME"
EXPECTED="$EXAMPLE/expected.json"
EXPECTATIONS="$HERE/expectations.json"

BENCH_TAG=validate-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

[[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -ge 1 && "$ROWS" -lt 1000000000 ]] || die "ROWS must be a whole number from 1 to 999,999,999 (it is '$ROWS')"
[[ "$REPEATS" =~ ^[0-9]+$ && "$REPEATS" -ge 1 ]] || die "REPEATS must be a whole number >= 1 (it is '$REPEATS')"
[[ -n "${GE_FORMATS// /}" ]] || die "GE_FORMATS is empty"
for f in $GE_FORMATS; do [[ "$f" == COMPLETE || "$f" == SUMMARY ]] || die "GE_FORMATS may name COMPLETE and SUMMARY only (got '$f')"; done
for f in "$EXPECTED" "$EXPECTATIONS"; do [[ -f "$f" ]] || die "missing $f"; done

# ---------------------------------------------------------------- tools
command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v setsid >/dev/null || die "setsid (util-linux) is required"

# ---------------------------------------------------------------- ferry binary
FERRY_BIN="${FERRY_BIN:-$ROOT/.build-release/release/ferry}"
if [[ "$BUILD" == 1 ]]; then
  log "building: swift build -c release --build-path .build-release --product ferry"
  swift build -c release --build-path .build-release --product ferry || die "swift build of ferry failed"
  FERRY_BIN="$ROOT/.build-release/release/ferry"
fi
[[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN (build it with \`swift build -c release --product ferry --build-path .build-release\`, set BUILD=1, or set FERRY_BIN)"
case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac
FERRY_BIN="$(cd "$(dirname "$FERRY_BIN")" && pwd)/$(basename "$FERRY_BIN")"
FERRY_VERSION="$("$FERRY_BIN" --version 2>/dev/null | head -n1 || true)"
FERRY_SHA256="$(sha256sum "$FERRY_BIN" | cut -c1-16)"
FERRY_MTIME="$(date -u -r "$FERRY_BIN" +%Y-%m-%dT%H:%M:%SZ)"

# ---------------------------------------------------------------- venv, input
setup_venv "$VENV" "$HERE/requirements.txt" bin/python
PY="$VENV/bin/python"
mkdir -p "$VW"
INPUT="$VW/rows-$ROWS.csv"
"$PY" "$HERE/make_data.py" "$EXPECTED" "$INPUT" "$ROWS" || die "could not generate $INPUT"
INPUT="$(cd "$(dirname "$INPUT")" && pwd -P)/$(basename "$INPUT")"
INPUT_BYTES="$(stat -c %s "$INPUT")"

RUN="$VW/run-$ROWS"   # this run's JSON, logs, comparison (kept); the quarantine and GE's full results unless KEEP_OUTPUTS=1
DATA="$VW/ferry-data" # the server's --data-dir (deleted at the end)
rm -rf "$RUN" "$DATA"
mkdir -p "$RUN"
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
  if [[ "$KEEP_OUTPUTS" != 1 ]]; then rm -f "$RUN"/quarantine-*.csv "$RUN"/ge-full-*.json; fi
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
export FERRY_SERVER="$URL"
log "starting ferry on $URL"
# shellcheck disable=SC2086
setsid "$FERRY_BIN" serve --host 127.0.0.1 --port "$PORT" --grpc-port 0 --data-dir "$DATA" \
  --example "examples/$MODEL_NAME" --job-input-dir "$(dirname "$INPUT")" ${FERRY_ARGS:-} >"$SLOG" 2>&1 </dev/null &
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
log "ferry ready (pid $FERRY_PID, $(awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$FERRY_PID/status") RSS)"

log "setting $MODEL_NAME version $MODEL_VERSION's expectations from ${EXPECTATIONS#"$ROOT/"}"
"$FERRY_BIN" data expectations "$MODEL_NAME" --version "$MODEL_VERSION" --set "$EXPECTATIONS" >"$RUN/expectations-set.json" ||
  fail_server "ferry data expectations --set failed: $(head -c 500 "$RUN/expectations-set.json")"
grep -q '"edited"' "$RUN/expectations-set.json" || fail_server "the server did not keep the expectations: $(head -c 500 "$RUN/expectations-set.json")"

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
# machine used during the run (the tool's own CPU subtracted): the check that nothing else was running.
add_machine_cpu() {
  "$PY" - "$1" "$2" "$3" <<'EOF2'
import json, sys
path, before, after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r = json.load(open(path))
own = r["server_cpu_seconds"] + r["cli_cpu_seconds"] if r["tool"] == "ferry" else r["cpu_seconds"]
r["machine_cpu_seconds"] = round(after - before, 2)
r["other_cpu_seconds"] = round(max(0.0, after - before - own), 2)
json.dump(r, open(path, "w"))
EOF2
}

warm_input() { cat "$INPUT" >/dev/null; sync; } # same page-cache state for every tool; earlier outputs flushed
now() { date +%s.%N; }

run_ferry() { # mode rep
  local mode=$1 rep=$2 c0
  rm -f "$RUN/quarantine-$mode-$rep.csv"
  c0="$(machine_cpu)"
  "$PY" "$HERE/ferry_validate.py" --ferry "$FERRY_BIN" --pid "$FERRY_PID" --input "$INPUT" --mode "$mode" --quarantine "$RUN/quarantine-$mode-$rep.csv" \
    --answer "$RUN/ferry-answer-$mode-$rep.json" --model "$MODEL_NAME" --version "$MODEL_VERSION" >"$RUN/ferry-$mode-$rep.json" || {
      alive || fail_server "the server died during the validation"
      fail_server "ferry data validate ($mode) failed (see above)"
    }
  alive || fail_server "the server died during the validation"
  add_machine_cpu "$RUN/ferry-$mode-$rep.json" "$c0" "$(machine_cpu)"
}

run_ge() { # format rep
  local fmt=$1 rep=$2 t0 t1 c0
  c0="$(machine_cpu)"
  t0="$(now)"
  # GE's progress bars and warnings go to ge-FORMAT-N.log.
  GX_ANALYTICS_ENABLED=false TQDM_DISABLE=1 "$PY" "$HERE/bench_ge.py" "$EXPECTATIONS" "$INPUT" "$fmt" "$RUN/ge-full-$fmt-$rep.json" \
    >"$RUN/ge-$fmt-$rep.stdout" 2>"$RUN/ge-$fmt-$rep.log" || { tail -n 20 "$RUN/ge-$fmt-$rep.log" >&2; die "great_expectations ($fmt) failed"; }
  t1="$(now)"
  # GE's figure: from the interpreter's start (t0) to the validation result (validated_at); the translation of its
  # results for compare.py afterwards is not counted. process_seconds is the whole process.
  "$PY" - "$RUN/ge-$fmt-$rep.stdout" "$RUN/ge-$fmt-$rep.json" "$t0" "$t1" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
r["seconds"] = round(r["validated_at"] - t0, 3)
r["startup_seconds"] = round(r["started_at"] - t0 + r["phases"]["import"], 3)
r["process_seconds"] = round(t1 - t0, 3)
json.dump(r, open(sys.argv[2], "w"))
EOF
  rm -f "$RUN/ge-$fmt-$rep.stdout"
  add_machine_cpu "$RUN/ge-$fmt-$rep.json" "$c0" "$(machine_cpu)"
}

summary() { # result.json -> one line
  "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
if r["tool"] == "ferry":
    print("%.2f s (exit status %d), server CPU %.1f s, CLI CPU %.1f s, other CPU %.1f s, server RSS %s MB before, peak %s MB" % (
        r["seconds"], r["exit_status"], r["server_cpu_seconds"], r["cli_cpu_seconds"], r["other_cpu_seconds"], r["server_rss_before_mb"],
        r["server_rss_peak_mb"]))
else:
    print("%.2f s from python start to result (%s), process %.2f s, CPU %.1f s, other CPU %.1f s, peak RSS %s MB" % (
        r["seconds"], r["phases"], r["process_seconds"], r["cpu_seconds"], r["other_cpu_seconds"], r["peak_rss_mb"]))
' "$1"
}

# ---------------------------------------------------------------- one tool at a time
for ((rep = 1; rep <= REPEATS; rep++)); do
  for mode in $FERRY_MODES; do
    warm_input
    log "ferry ($mode): data validate of $ROWS rows (run $rep/$REPEATS)"
    run_ferry "$mode" "$rep"
    log "ferry ($mode): $(summary "$RUN/ferry-$mode-$rep.json")"
  done
  for fmt in $GE_FORMATS; do
    warm_input
    log "great_expectations ($fmt): validating $ROWS rows (run $rep/$REPEATS)"
    run_ge "$fmt" "$rep"
    log "great_expectations ($fmt): $(summary "$RUN/ge-$fmt-$rep.json")"
  done
done

# ---------------------------------------------------------------- agreement
GE_FULL=()
for fmt in $GE_FORMATS; do GE_FULL+=("$RUN/ge-full-$fmt-1.json"); done
log "comparing the failures each tool found (and both against the input's layout)"
agree=0
FIRST_MODE="${FERRY_MODES%% *}"
"$PY" "$HERE/compare.py" "$INPUT.meta.json" "$EXPECTATIONS" "$RUN/ferry-answer-$FIRST_MODE-1.json" "$RUN/quarantine-$FIRST_MODE-1.csv" \
  "$RUN/check.json" "$RUN/check.txt" "${GE_FULL[@]}" || agree=$?
# Every Ferry run, whichever way it got the file, must have quarantined the very same bytes.
for q in "$RUN"/quarantine-*.csv; do
  cmp -s "$q" "$RUN/quarantine-$FIRST_MODE-1.csv" || { log "MISMATCH: $(basename "$q") differs from quarantine-$FIRST_MODE-1.csv"; agree=1; }
done

# ---------------------------------------------------------------- report
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null)" || GIT_REV=unknown
CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
GE_EXPECTATIONS="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["expectations"])' "${GE_FULL[0]}")"
ROWS="$ROWS" REPEATS="$REPEATS" GE_FORMATS="$GE_FORMATS" FERRY_MODES="$FERRY_MODES" INPUT="$INPUT" ROOT="$ROOT" INPUT_BYTES="$INPUT_BYTES" \
CPU_MODEL="$CPU_MODEL" GIT_REV="$GIT_REV" FERRY_BIN="$FERRY_BIN" FERRY_VERSION="$FERRY_VERSION" FERRY_ARGS="${FERRY_ARGS:-}" \
FERRY_SHA256="$FERRY_SHA256" FERRY_MTIME="$FERRY_MTIME" EXPECTATIONS="$EXPECTATIONS" GE_EXPECTATIONS="$GE_EXPECTATIONS" \
LOAD_AT_START="$LOAD_AT_START" BUSY_AT_START="$BUSY_AT_START" LOAD_AT_END="$(cut -d' ' -f1-3 /proc/loadavg)" \
"$PY" - "$RUN/meta.json" "$INPUT.meta.json" <<'EOF'
import importlib.metadata as m, json, os, sys
e = os.environ
data = json.load(open(sys.argv[2]))
spec = json.load(open(e["EXPECTATIONS"]))
json.dump({
    "rows": int(e["ROWS"]), "repeats": int(e["REPEATS"]), "ge_formats": e["GE_FORMATS"].split(), "ferry_modes": e["FERRY_MODES"].split(),
    "input": e["INPUT"], "input_rel": os.path.relpath(e["INPUT"], e["ROOT"]), "input_bytes": int(e["INPUT_BYTES"]),
    "columns": data["columns"], "repeated_keys": data["repeated_keys"], "repeated_rows": data["repeated_rows"],
    "expectations_rel": os.path.relpath(e["EXPECTATIONS"], e["ROOT"]), "expectation_columns": len(spec["columns"]),
    "ge_expectations": int(e["GE_EXPECTATIONS"]),
    "cpus": os.cpu_count(), "cpu_model": e["CPU_MODEL"], "git_rev": e["GIT_REV"],
    "ferry_bin": e["FERRY_BIN"], "ferry_bin_rel": os.path.relpath(e["FERRY_BIN"], e["ROOT"]), "ferry_version": e["FERRY_VERSION"] or "unknown",
    "ferry_args": e["FERRY_ARGS"], "ferry_sha256_16": e["FERRY_SHA256"], "ferry_mtime": e["FERRY_MTIME"],
    "load_average_at_start": e["LOAD_AT_START"], "load_average_at_end": e["LOAD_AT_END"],
    "cpu_busy_pct_before_start": int(e["BUSY_AT_START"]),
    "versions": {p: m.version(p) for p in ("great_expectations", "pandas", "numpy")},
}, open(sys.argv[1], "w"), indent=2)
EOF
"$PY" "$HERE/report.py" "$RUN" "$VW/results-$ROWS.json" "$VW/results-$ROWS.txt" || die "report.py failed"
cp "$VW/results-$ROWS.txt" "$VW/report.txt"
log "report: ${VW#"$ROOT/"}/report.txt (also results-$ROWS.txt, results-$ROWS.json; raw files in ${RUN#"$ROOT/"}/)"
grep -iE '"level":"(error|critical)"|\berror\b' "$SLOG" | head -n 5 | sed "s/^/[$BENCH_TAG] server log: /" >&2 || true
((agree == 0)) || die "Ferry and Great Expectations DISAGREE (see the MISMATCH lines above; ${RUN#"$ROOT/"}/check.json)"

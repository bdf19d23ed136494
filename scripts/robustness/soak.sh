#!/usr/bin/env bash
# Soak: sustained inference load with wrk (2 threads, 16 connections) against /v2/models/fraud/infer, with the
# prediction log and request metrics on (the defaults). Fails on any non-2xx answer, any socket error, a server
# that dies, a prediction log write failure, or resident memory growing more than RSS_LIMIT_MIB after warm-up.
#
#   scripts/robustness/soak.sh [FERRY_BINARY]          # default .build/debug/ferry; CI: DURATION=120s (default)
#   DURATION=600s scripts/robustness/soak.sh .build/release/ferry
#
# Env knobs: DURATION (wrk syntax, default 120s), WARMUP (default 15s), RSS_LIMIT_MIB (default 64),
#            THREADS (2), CONNECTIONS (16), SAMPLE_EVERY (seconds between RSS samples, 5),
#            FERRY_ARGS (extra `ferry serve` flags, e.g. "--log-sample-rate 0" to tell the log's memory from the rest).
#
# Why 64 MiB. RSS is measured (VmRSS in /proc/PID/status) after a warm-up run with the same load, so the model,
# the event-loop threads, the 16 connections' buffers, SQLite's page caches and the allocator's arenas have all
# reached their working size. What may still legitimately grow is bounded by construction: the prediction log
# queue holds at most 50,000 records (PredictionLogger capacity) of roughly 0.5 KiB each for this 12-feature
# request, about 25 MiB if the writer falls behind, and SQLite's caches are capped at a few MiB per connection.
# 64 MiB is that worst case with about 2x headroom for allocator fragmentation; it is small against the steady
# state of a leak: B bytes kept per request over N requests grows RSS by N*B, so the script prints the smallest
# per-request leak the bound catches (64 MiB / N; a few hundred bytes at 120 s on a debug build, a few dozen on
# a release build or at 600 s). A leak smaller than that needs a longer DURATION.
set -euo pipefail
DURATION=${DURATION:-120s}
WARMUP=${WARMUP:-15s}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-64}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
SAMPLE_EVERY=${SAMPLE_EVERY:-5}
[[ $DURATION =~ ^[0-9]+$ ]] && DURATION=${DURATION}s
[[ $WARMUP =~ ^[0-9]+$ ]] && WARMUP=${WARMUP}s
here=$(cd "$(dirname "$0")" && pwd)
FERRY=$(realpath "${1:-.build/debug/ferry}")
cd "$here/../.."    # examples/ and benchmarks/ are read relative to the repository root
work=$(mktemp -d)
pid=""
sampler=""
cleanup() {
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "SOAK FAILED: $*"; echo "--- server log"; tail -n 40 "$work/server.log" || true; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
    || fail "wrk is missing and apt-get could not install it"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server="http://127.0.0.1:$port"
FERRY_ADMIN_KEY="fry_soaktest_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_ADMIN_KEY
export FERRY_API_KEY=$FERRY_ADMIN_KEY   # infer.lua sends it as the bearer token
auth=(-H "Authorization: Bearer $FERRY_API_KEY")

# shellcheck disable=SC2086  # FERRY_ARGS is a list of flags
"$FERRY" serve --port "$port" --data-dir "$work/data" --example examples/fraud ${FERRY_ARGS:-} >>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "$server/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "server exited at start"
  sleep 0.1
done
curl -sf "$server/v2/health/ready" >/dev/null || fail "server not ready after 30 s"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
# VmRSS = RssAnon (heap: where a leak shows) + RssFile (mapped files) + RssShmem (e.g. SQLite's -shm WAL index).
rss_parts() { awk '/^Rss(Anon|File|Shmem):/ {printf "%s %.1f MiB  ", $1, $2 / 1024}' "/proc/$pid/status"; }
metric() { curl -sf "${auth[@]}" "$server/metrics" | awk -v m="$1" '$1 == m {print $2}' | head -n 1; }
# One wrk run: prints wrk's output and leaves its FERRY_BENCH line (see infer.lua) in $work/bench.txt.
run_wrk() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --timeout 10s --latency -s benchmarks/serve/infer.lua \
    "$server/v2/models/fraud/infer" -- examples/fraud/request.json > "$work/wrk.txt" 2>&1 || fail "wrk failed: $(cat "$work/wrk.txt")"
  grep '^FERRY_BENCH ' "$work/wrk.txt" > "$work/bench.txt" || fail "no FERRY_BENCH line from wrk: $(cat "$work/wrk.txt")"
  kill -0 "$pid" 2>/dev/null || fail "server died under load"
}
field() { tr ' ' '\n' < "$work/bench.txt" | awk -F= -v k="$1" '$1 == k {print $2}'; }
check_errors() {   # $1: run name
  local status socket
  status=$(field status)
  socket=$(( $(field connect) + $(field read) + $(field write) + $(field timeout) ))
  [ "$status" = 0 ] || fail "$1: $status non-2xx answers (wrk counts status >= 400): $(cat "$work/wrk.txt")"
  [ "$socket" = 0 ] || fail "$1: socket errors connect=$(field connect) read=$(field read) write=$(field write) timeout=$(field timeout)"
  [ "$(field requests)" -gt 0 ] || fail "$1: no requests completed"
}

echo "warm-up: $WARMUP, $THREADS threads, $CONNECTIONS connections"
run_wrk "$WARMUP"
check_errors "warm-up"
sleep 1   # let the prediction log drain the warm-up's queue
rss_before=$(rss_kib)
parts_before=$(rss_parts)

# Sample RSS and the prediction log queue while the soak runs.
( while sleep "$SAMPLE_EVERY"; do
    echo "$(date +%s) $(rss_kib) $(metric ferry_prediction_log_queued)"
  done ) > "$work/samples.txt" 2>/dev/null &
sampler=$!
start=$(date +%s)
echo "soak: $DURATION, RSS after warm-up $(awk -v k="$rss_before" 'BEGIN {printf "%.1f", k / 1024}') MiB"
run_wrk "$DURATION"
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""
sleep 1
rss_after=$(rss_kib)
parts_after=$(rss_parts)
check_errors "soak"
curl -sf "$server/v2/health/ready" >/dev/null || fail "server not ready after the soak"
curl -sf "${auth[@]}" "$server/v2/models/fraud/infer" -H 'Content-Type: application/json' -d @examples/fraud/request.json >/dev/null \
  || fail "inference fails after the soak"

requests=$(field requests)
duration_us=$(field duration_us)
written=$(metric ferry_prediction_log_written_total)
dropped=$(metric ferry_prediction_log_dropped_total)
write_failures=$(metric ferry_prediction_log_write_failures_total)
inference_errors=$(curl -sf "${auth[@]}" "$server/metrics" | awk '$1 ~ /^ferry_inference_errors_total/ {s += $2} END {print s + 0}')
peak_rss=$(awk -v r="$rss_after" 'BEGIN {m = r} $2 > m {m = $2} END {print m}' "$work/samples.txt")
peak_queue=$(awk '$3 > m {m = $3} END {print m + 0}' "$work/samples.txt")
growth_kib=$((rss_after - rss_before))
python3 - "$requests" "$duration_us" "$rss_before" "$rss_after" "$peak_rss" "$RSS_LIMIT_MIB" "$work/samples.txt" "$start" <<'PY'
import sys
requests, duration_us, before, after, peak, limit = (float(x) for x in sys.argv[1:7])
print(f"requests: {int(requests)} in {duration_us / 1e6:.1f} s = {requests / (duration_us / 1e6):.0f} req/s")
print(f"RSS: {before / 1024:.1f} MiB after warm-up -> {after / 1024:.1f} MiB after the soak "
      f"(growth {(after - before) / 1024:+.1f} MiB, peak {peak / 1024:.1f} MiB, limit +{limit:.0f} MiB)")
print(f"smallest per-request leak this run would catch: {limit * 1048576 / requests:.0f} bytes/request")
samples = [line.split() for line in open(sys.argv[7]) if len(line.split()) >= 2]
if samples:
    t0 = int(sys.argv[8])
    print("RSS samples (s: MiB): " + ", ".join(f"{int(s[0]) - t0}: {int(s[1]) / 1024:.0f}" for s in samples))
PY
awk -v mean="$(field mean_us)" -v p50="$(field p50_us)" -v p99="$(field p99_us)" -v max="$(field max_us)" \
  'BEGIN {printf "latency: mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.1f ms\n", mean / 1000, p50 / 1000, p99 / 1000, max / 1000}'
echo "errors: 0 non-2xx, 0 socket errors; inference errors in /metrics: $inference_errors"
echo "RSS parts before: $parts_before"
echo "RSS parts after:  $parts_after"
if [ -n "$written" ]; then
  echo "prediction log: $written written, $dropped dropped (queue full; best effort by design), peak queue $peak_queue, $write_failures write failures"
else
  echo "prediction log: off"
fi

[ "${inference_errors:-0}" = 0 ] || fail "/metrics counts $inference_errors inference errors"
[ "${write_failures:-0}" = 0 ] || fail "the prediction log failed $write_failures writes"
[ "$growth_kib" -lt $((RSS_LIMIT_MIB * 1024)) ] \
  || fail "RSS grew by $((growth_kib / 1024)) MiB during the soak (limit $RSS_LIMIT_MIB MiB): a leak, see the samples above"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "server did not exit on SIGTERM after the soak"
status=0; wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || fail "server exited with status $status on SIGTERM after the soak"
echo "soak passed"

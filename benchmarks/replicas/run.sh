#!/usr/bin/env bash
# Replicas benchmark: what PostgreSQL and replicas cost or buy. In one run, wrk sends the 1-row Open Inference
# Protocol V2 request for examples/fraud (64 connections, after a warm-up) to Ferry alone on SQLite, to one replica
# on PostgreSQL (directly, then behind nginx) and to three replicas on one PostgreSQL behind nginx; then a small
# Python loop times store operations through the HTTP API (alias read, registration, alias move; median and p99 of
# N each) on SQLite and on PostgreSQL. See benchmarks/README.md.
#
#   bash benchmarks/replicas/run.sh
#
# Env knobs (all optional):
#   DURATION=10s          wrk duration of each measured run
#   WARMUP=2s             wrk warm-up (8 connections) before each measured run
#   CONNECTIONS=64        wrk connections (-t2)
#   OPS=200               store operations timed per kind and store
#   SKIP_OPS=1            serving only, no store operations
#   PG_FSYNC=on           PostgreSQL fsync (on, as deployed; off shows the store without the disk)
#   FERRY_BIN=path        use this binary instead of `swift build -c release --product ferry`
#   FERRY_TEST_DATABASE_URL=postgres://...   use that PostgreSQL (a fresh database) instead of a throwaway one
#   RESULTS_JSON=path     default benchmarks/.work/replicas-results.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/replicas"
WORK="$ROOT/benchmarks/.work"
LOGS="$WORK/replicas-logs"

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
OPS="${OPS:-200}"
PG_FSYNC="${PG_FSYNC:-on}"
RESULTS_JSON="${RESULTS_JSON:-$WORK/replicas-results.json}"

BENCH_TAG=replicas-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

# ---------------------------------------------------------------- tools
command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
[[ -x "${NGINX:-/usr/sbin/nginx}" ]] || { log "installing nginx (apt)"; apt_install nginx; }
if [[ -z "${FERRY_TEST_DATABASE_URL:-}" ]]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ||
    die "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install the Debian package postgresql (apt-get install -y postgresql), or set FERRY_TEST_DATABASE_URL"
fi

# ---------------------------------------------------------------- binary
if [[ -z "${FERRY_BIN:-}" ]]; then
  log "building: swift build -c release --product ferry"
  swift build -c release --product ferry
  FERRY_BIN="$ROOT/.build/release/ferry"
fi
[[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN"
case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac

mkdir -p "$WORK" "$LOGS"
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferry-replicas-bench.XXXXXX")"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # bench.py stops what it started; PostgreSQL is stopped here too in case it was killed itself.
  if [[ -f "$RUN_TMP/pg/data/postmaster.pid" ]]; then
    local pgbin
    pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    if [[ $(id -u) -eq 0 ]]; then
      runuser -u postgres -- "$pgbin/pg_ctl" -D "$RUN_TMP/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    else
      "$pgbin/pg_ctl" -D "$RUN_TMP/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$RUN_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The measured servers all run this copy, even if the build tree is relinked meanwhile.
cp "$FERRY_BIN" "$RUN_TMP/ferry"
log "ferry $("$RUN_TMP/ferry" --version) from $FERRY_BIN; logs in ${LOGS#"$ROOT/"}"
args=(--binary "$RUN_TMP/ferry" --work "$RUN_TMP" --logs "$LOGS" --results "$RESULTS_JSON" --duration "$DURATION"
      --warmup "$WARMUP" --connections "$CONNECTIONS" --ops "$OPS" --pg-fsync "$PG_FSYNC")
[[ "${SKIP_OPS:-0}" == 1 ]] && args+=(--skip-ops)
python3 "$HERE/bench.py" "${args[@]}"

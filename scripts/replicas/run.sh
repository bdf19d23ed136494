#!/usr/bin/env bash
# Multi-replica proof: three `ferry serve` replicas on one throwaway PostgreSQL, nginx in front, and four scenarios
# (see scenario.py for the exact assertions):
#   A  an alias move, an endpoint change and a key revocation made through one replica are in force on the others
#      (the time is reported against the issue's 1 s target; the run fails only if a change never arrives);
#   B  a canary to a bad candidate under load through nginx rolls back exactly once, judged on the traffic of all
#      replicas (the gate's request count is more than any single replica had served);
#   C  the leader (GET /api/v1/cluster) is SIGKILLed mid-canary: another replica leads (time reported against the
#      5 s target), and the rollout
#      is promoted with every step taken once (10 -> 50 -> 100);
#   D  a follower is SIGKILLed under concurrent registrations, alias moves, predictions and feedback: every
#      acknowledged write is read back through the survivors and the audit chain verifies.
#
#   scripts/replicas/run.sh [FERRY_BINARY]      # from anywhere; default .build/debug/ferry (copied first)
#   SCENARIOS=AD ...        run a subset (default ABCD)
#   SHARED_DATA_DIR=1 ...   all replicas on one --data-dir (for binaries that do not keep artifacts in PostgreSQL)
#   LOAD_RPS=200 ...        inference rate through nginx in B and C
#   FERRY_TEST_DATABASE_URL=postgres://user@host:port/db ...   use that PostgreSQL (a fresh database is created in
#                           it and dropped at the end) instead of starting one from /usr/lib/postgresql/*/bin
#   KEEP_WORK=1 ...         keep the work folder (logs, data folders, PostgreSQL data, nginx config, ledger)
#
# Needs python3, nginx (Debian package nginx, /usr/sbin/nginx) and PostgreSQL's server binaries (Debian package
# postgresql) unless FERRY_TEST_DATABASE_URL is set; a missing one fails the run (exit 1), it never skips.
# Ports come from 18000-18999. Runs in about 1-3 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=$(realpath "${1:-$root/.build/debug/ferry}" 2>/dev/null || true)

fail() { echo "REPLICA SCENARIOS FAILED: $*" >&2; exit 1; }
[ -n "$binary" ] && [ -x "$binary" ] || fail "ferry binary not found or not executable: ${1:-.build/debug/ferry} (build it first)"
command -v python3 >/dev/null || fail "python3 is required (apt-get install -y python3)"
[ -x "${NGINX:-/usr/sbin/nginx}" ] || fail "nginx not found at ${NGINX:-/usr/sbin/nginx}: install the Debian package nginx (apt-get install -y nginx)"
if [ -z "${FERRY_TEST_DATABASE_URL:-}" ]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    || fail "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install the Debian package postgresql (apt-get install -y postgresql), or set FERRY_TEST_DATABASE_URL"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-replicas.XXXXXX")
status=0
cleanup() {
  # scenario.py stops everything it started; this is the backstop if it was killed itself: the processes it recorded
  # (only while their command line still names this work folder) and the PostgreSQL it started.
  if [ -f "$work/pids" ]; then
    while read -r _ pid; do
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$work"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$work/pids"
  fi
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    else
      "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work folder kept: $work (replica logs, nginx/, pg/, ledger-D.json)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
py=""
# scenario.py runs in the background so that a signal to this script reaches it at once (bash defers traps while
# a foreground child runs); it stops its servers on SIGTERM, then the backstop above runs.
stop_py() { if [ -n "$py" ]; then kill -TERM "$py" 2>/dev/null || true; wait "$py" 2>/dev/null || true; fi; exit "$1"; }
trap 'stop_py 130' INT
trap 'stop_py 143' TERM

# Every replica runs the same binary even if the build tree is relinked meanwhile (the path names the work folder,
# which is how the cleanup above recognizes the processes).
cp "$binary" "$work/ferry"
echo "ferry $("$work/ferry" --version) from $binary; work folder $work"
python3 "$here/scenario.py" --binary "$work/ferry" --work "$work" &
py=$!
wait "$py" || status=$?
py=""
if [ "$status" != 0 ]; then
  echo "REPLICA SCENARIOS FAILED (exit $status): see the scenario messages and server log tails above${KEEP_WORK:+; logs in $work}" >&2
  exit "$status"
fi
echo "replica scenarios passed"

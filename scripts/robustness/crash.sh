#!/usr/bin/env bash
# Crash consistency: concurrent clients register versions, move aliases, predict and send feedback; the server is
# SIGKILLed while writes are in flight, restarted on the same data folder, and everything it acknowledged must
# still be there (see crash.py for the exact assertions). Repeated ROUNDS times (default 3) on one data folder.
#
#   scripts/robustness/crash.sh [FERRY_BINARY]        # from the repository root; default .build/debug/ferry
#   ROUNDS=5 KILL_AFTER=1-4 scripts/robustness/crash.sh
#   STRICT_AUDIT= ...    do not fail when a committed but unacknowledged change has no audit entry (default: fail;
#                        stores append the entry in the change's transaction, see crash.py)
#   KEEP_WORK=1 ...      keep the data folder, ledger and server log for inspection
set -euo pipefail
ROUNDS=${ROUNDS:-3}
STRICT_AUDIT=${STRICT_AUDIT-1}
KILL_AFTER=${KILL_AFTER:-1.5-3.5}     # seconds of load before the SIGKILL, drawn uniformly from this range
here=$(cd "$(dirname "$0")" && pwd)
binary=$(realpath "${1:-.build/debug/ferry}")
cd "$here/../.."    # examples/fraud is read relative to the repository root
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
# Every round runs the same binary, even if the build tree is relinked meanwhile.
cp "$binary" "$work/ferry"
FERRY=$work/ferry
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server="http://127.0.0.1:$port"
fail() {
  echo "CRASH TEST FAILED: $*"; echo "--- server log"; tail -n 40 "$work/server.log" || true
  [ -n "${KEEP_WORK:-}" ] && echo "--- data folder and ledger kept in $work"
  exit 1
}

start() {
  local t0
  t0=$(date +%s%N)
  "$FERRY" serve --port "$port" --data-dir "$work/data" --example examples/fraud >>"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -sf "$server/v2/health/ready" >/dev/null 2>&1; then
      echo "server ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.1
  done
  fail "server not ready after 30 s"
}
verify_offline() {
  "$FERRY" audit verify --data-dir "$work/data" >"$work/verify.txt" 2>&1 || fail "ferry audit verify --data-dir failed ($1): $(cat "$work/verify.txt")"
  grep -q "audit trail intact" "$work/verify.txt" || fail "unexpected audit verify output ($1): $(cat "$work/verify.txt")"
}

FERRY_ADMIN_KEY="fry_crashtst_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_ADMIN_KEY
export FERRY_API_KEY=$FERRY_ADMIN_KEY
ledger=$work/ledger.json
begin=$(date +%s)
start
for round in $(seq 1 "$ROUNDS"); do
  echo "=== round $round/$ROUNDS"
  # crash.py SIGKILLs the server mid-load; bash's own "Killed" job notice (printed on its stderr as the load ends)
  # is silenced by pointing bash's stderr at /dev/null for this command, while crash.py keeps the real one (fd 3).
  { python3 "$here/crash.py" load --server "$server" --ledger "$ledger" --round "$round" --kill-pid "$pid" \
    --kill-after "$KILL_AFTER" 2>&3 || fail "round $round: the load got answers it should not have"; } 3>&2 2>/dev/null
  status=0; wait "$pid" 2>/dev/null || status=$?
  pid=""
  [ "$status" = 137 ] || fail "round $round: server exit status $status, expected 137 (SIGKILL)"
  verify_offline "right after the kill"
  echo "audit chain intact on disk after the kill"
  start
  python3 "$here/crash.py" check --server "$server" --ledger "$ledger" --data-dir "$work/data" \
    ${STRICT_AUDIT:+--strict-audit} || fail "round $round: the state after the kill and restart is wrong (above)"
  verify_offline "after the restart"
done
# After all that, a graceful stop still works and leaves an intact trail.
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "server did not exit on SIGTERM"
status=0; wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || fail "server exited with status $status on SIGTERM"
verify_offline "after SIGTERM"
# The log's level is its second field; anything at error or above is worth a look (not a failure by itself).
awk '$2 == "error" || $2 == "critical"' "$work/server.log" | head -n 5 | sed 's/^/server log: /'
echo "crash test passed: $ROUNDS SIGKILLs in $(( $(date +%s) - begin )) s"

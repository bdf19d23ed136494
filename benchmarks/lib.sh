# Helpers shared by the benchmark scripts. Set BENCH_TAG before sourcing; ROOT is the repository root.

log() { printf '[%s] %s\n' "$BENCH_TAG" "$*" >&2; }
die() { printf '\n[%s] ERROR: %s\n' "$BENCH_TAG" "$*" >&2; exit 1; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "need to install $* but apt-get is not available"
  if [[ $APT_UPDATED == 0 ]]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# setup_venv VENV REQUIREMENTS [MARKER]
# (Re)creates VENV from REQUIREMENTS when the file's sha256 changed or VENV/MARKER (default bin/python) is missing.
setup_venv() {
  local venv="$1" req="$2" marker="${3:-bin/python}" want have
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  have="$(cat "$venv/.requirements.sha256" 2>/dev/null || true)"
  if [[ -x "$venv/$marker" && "$want" == "$have" ]]; then return 0; fi
  log "creating venv at $venv (pip install -r ${req#"$ROOT/"})"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    log "python3 -m venv failed; installing python3-venv (apt)"
    apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip || die "pip upgrade failed in $venv"
  "$venv/bin/python" -m pip install -q -r "$req" || die "pip install -r $req failed"
  echo "$want" >"$venv/.requirements.sha256"
}

# free_port: prints a TCP port on 127.0.0.1 that is free right now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# cpu_busy_pct: how busy the machine's CPUs were (percent) over the next 2 s, from /proc/stat.
cpu_busy_pct() {
  local a b
  a="$(head -n1 /proc/stat)"; sleep 2; b="$(head -n1 /proc/stat)"
  printf '%s\n%s\n' "$a" "$b" | awk '{ idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i
    if (NR == 1) { i0 = idle; t0 = total } else { printf "%.0f\n", 100 * (1 - (idle - i0) / (total - t0)) } }'
}

# resolve_ferry_bin: uses $FERRY_BIN, else builds the release ferry into .build-release; sets FERRY_BIN (absolute),
# FERRY_VERSION, FERRY_SHA256 (first 16 hex digits) and FERRY_MTIME, which name the measured build in results.
resolve_ferry_bin() {
  if [[ -z "${FERRY_BIN:-}" ]]; then
    log "building: swift build -c release --scratch-path .build-release --product ferry"
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product ferry) || die "swift build of ferry failed"
    FERRY_BIN="$ROOT/.build-release/release/ferry"
  fi
  [[ -x "$FERRY_BIN" ]] || die "ferry binary not executable: $FERRY_BIN (build it with \`swift build -c release --scratch-path .build-release --product ferry\`, or set FERRY_BIN)"
  case "$FERRY_BIN" in */debug/*) log "WARNING: $FERRY_BIN looks like a debug build; its numbers say little about a release";; esac
  FERRY_BIN="$(cd "$(dirname "$FERRY_BIN")" && pwd)/$(basename "$FERRY_BIN")"
  FERRY_VERSION="$("$FERRY_BIN" --version 2>/dev/null | head -n1 || true)"
  FERRY_SHA256="$(sha256sum "$FERRY_BIN" | cut -c1-16)"
  FERRY_MTIME="$(date -u -r "$FERRY_BIN" +%Y-%m-%dT%H:%M:%SZ)"
}

# One `ferry serve` at a time, in its own session (setsid), so it can be stopped as a group. The functions share
# FERRY_PID (empty when none runs) and FERRY_LOG (its log file); FERRY_API_KEY authenticates the readiness probe.
#   ferry_start URL LOG ARGS...   starts `$FERRY_BIN serve ARGS...` and waits until GET URL/v2/health/ready is 200
#   ferry_alive                   true while it runs (and is not a zombie)
#   ferry_fail MESSAGE            prints the log's tail and dies
#   ferry_stop                    SIGTERM to the session, SIGKILL after 10 s; waits for it
FERRY_PID=""
FERRY_LOG=""
ferry_alive() { [[ -n "$FERRY_PID" ]] && kill -0 "$FERRY_PID" 2>/dev/null && [[ "$(sed 's/^.*) //' "/proc/$FERRY_PID/stat" | cut -d' ' -f1)" != Z ]]; }
ferry_fail() {
  {
    echo
    echo "[$BENCH_TAG] ---- last 40 lines of $FERRY_LOG ----"
    tail -n 40 "$FERRY_LOG" 2>/dev/null || true
    echo "[$BENCH_TAG] ----"
  } >&2
  die "ferry: $*"
}
ferry_stop() {
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
ferry_start() {
  local url=$1 code="" deadline=$((SECONDS + ${READY_TIMEOUT:-120}))
  FERRY_LOG=$2
  shift 2
  [[ -z "$FERRY_PID" ]] || die "ferry_start: a server (pid $FERRY_PID) is still running"
  setsid "$FERRY_BIN" serve "$@" >"$FERRY_LOG" 2>&1 </dev/null &
  FERRY_PID=$!
  while :; do
    ferry_alive || ferry_fail "exited before becoming ready"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer ${FERRY_API_KEY:-}" "$url/v2/health/ready" || true)"
    [[ "$code" == 200 ]] && break
    ((SECONDS < deadline)) || ferry_fail "not ready after ${READY_TIMEOUT:-120}s (last answer: HTTP ${code:-none})"
    sleep 0.25
  done
  # setsid execs ferry in the background child (not a group leader), so $! is ferry itself: its /proc is the server's.
  [[ "$(readlink -f "/proc/$FERRY_PID/exe")" == "$(readlink -f "$FERRY_BIN")" ]] ||
    die "pid $FERRY_PID is $(readlink -f "/proc/$FERRY_PID/exe"), not $FERRY_BIN: cannot read the server's RSS"
}

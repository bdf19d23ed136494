#!/usr/bin/env bash
# The web console (/ui) in a real browser: Debian's chromium, headless, driven over the DevTools protocol by
# check.py. Serves the example model on a free port with a fresh data folder, gives it a drift reference and some
# traffic, a second version, an endpoint with a running canary rollout, a batch job, two fired alerts and a viewer
# key, then signs in (a wrong key, the admin key, later the viewer key), opens every page and compares what it shows
# with the API's own numbers, clicks Pause, Resume and Roll back, checks keyboard focus, takes a full-page screenshot
# of each page and fails on any JavaScript error. Installs chromium (apt) when missing and makes the venv
# .venv-console. Usage, from the repository root:
#   bash scripts/console/run.sh [path/to/ferry]
# Screenshots go to $CONSOLE_ARTIFACTS (default scripts/console/.artifacts). CONSOLE_STRICT=1 makes the console bugs
# check.py knows of (KNOWN_BUGS) fail the run too.
set -euo pipefail
FERRY=$(realpath "${1:-.build/debug/ferry}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_TAG=console
source benchmarks/lib.sh
[[ -x $FERRY ]] || die "no ferry binary at $FERRY (build it first: swift build)"

if ! command -v chromium >/dev/null; then
  log "chromium is missing; installing it (apt-get install chromium)"
  apt_install chromium || die "could not install chromium with apt-get"
fi
CHROMIUM=$(command -v chromium) || die "chromium is still missing after apt-get install chromium"
# Screenshots need a font to be legible (a minimal image may have none; the checks themselves do not).
font=$(find /usr/share/fonts /usr/local/share/fonts -name '*.tt[fc]' -print -quit 2>/dev/null || true)
if [[ -z $font ]]; then
  log "no fonts found; installing fonts-dejavu-core (apt)"
  apt_install fonts-dejavu-core || die "could not install fonts-dejavu-core with apt-get"
fi
setup_venv "$ROOT/.venv-console" "$ROOT/scripts/console/requirements.txt" bin/python

ARTIFACTS=${CONSOLE_ARTIFACTS:-scripts/console/.artifacts}
mkdir -p "$ARTIFACTS"
ARTIFACTS=$(realpath "$ARTIFACTS")
rm -f "$ARTIFACTS"/[0-9][0-9]-*.png

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pid="" chrome_pid=""
cleanup() {
  # chromium runs in its own session (setsid), so its renderer and helper processes go with it.
  if [[ -n $chrome_pid ]]; then kill -TERM -- "-$chrome_pid" 2>/dev/null || true; wait "$chrome_pid" 2>/dev/null || true; fi
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "CONSOLE FAILED: $*"
  echo "--- last lines of the server log:"; tail -n 30 "$work/server.log" 2>/dev/null || true
  echo "--- last lines of chromium's log (without its D-Bus complaints):"; grep -v dbus "$work/chromium.log" 2>/dev/null | tail -n 15 || true
  exit 1
}

export FERRY_ADMIN_KEY="fry_consoletest_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_SERVER="http://127.0.0.1:$port" FERRY_API_KEY="$FERRY_ADMIN_KEY"
"$FERRY" serve --example examples/fraud --port "$port" --grpc-port 0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || fail "server exited"; sleep 0.1; done
curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null || fail "server not ready after 10 s"

# What the pages show: a drift reference and 30 requests with ground truth (drift, performance, fairness), version 2 and an endpoint with a canary
# rollout to it (traffic split, gates, timeline, actions), a finished batch job, two alert events, a viewer key.
"$FERRY" monitor reference fraud 1 --csv examples/fraud/rows.csv >/dev/null || fail "ferry monitor reference"
: >"$work/ids"
for _ in $(seq 1 30); do
  curl -sf -X POST "$FERRY_SERVER/v2/models/fraud/infer" -H "Authorization: Bearer $FERRY_ADMIN_KEY" \
    -H 'content-type: application/json' -d @examples/fraud/request.json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["parameters"]["prediction_id"])' >>"$work/ids" || fail "inference request"
done
# Ground truth for them (alternating labels), for performance and fairness over time.
python3 - "$work/ids" >"$work/feedback.json" <<'PY'
import json, sys
ids = open(sys.argv[1]).read().split()
print(json.dumps([{"prediction_id": p, "label": i % 2} for i, p in enumerate(ids)]))
PY
curl -sf -X POST "$FERRY_SERVER/api/v1/feedback" -H "Authorization: Bearer $FERRY_ADMIN_KEY" \
  -H 'content-type: application/json' -d @"$work/feedback.json" >/dev/null || fail "feedback"
"$FERRY" models register fraud examples/fraud/model.json --description v2 >/dev/null || fail "ferry models register"
"$FERRY" endpoints set fraud-ep --variant fraud:1=100 >/dev/null || fail "ferry endpoints set"
"$FERRY" rollout start fraud-ep --to 2 --steps 10,50,100 --bake 300 >/dev/null || fail "ferry rollout start"
# An endpoint with a shadow (version 2 gets a copy of every request) and 10 requests, for the shadow comparison.
"$FERRY" endpoints set shadow-ep --variant fraud:1=100 --shadow fraud:2=1 >/dev/null || fail "ferry endpoints set shadow-ep"
for _ in $(seq 1 10); do
  curl -sf -X POST "$FERRY_SERVER/v2/models/shadow-ep/infer" -H "Authorization: Bearer $FERRY_ADMIN_KEY" \
    -H 'content-type: application/json' -d @examples/fraud/request.json >/dev/null || fail "inference request to shadow-ep"
done
"$FERRY" jobs submit examples/fraud/rows.csv --model fraud --wait >/dev/null 2>&1 || fail "ferry jobs submit"
# Two alert events in a known order (the drift of amount fires first, then p99 latency above 1 µs).
"$FERRY" alerts set fraud amount-drift --metric drift_psi --feature amount --above 0.25 >/dev/null || fail "ferry alerts set"
"$FERRY" alerts evaluate >/dev/null || fail "ferry alerts evaluate"
"$FERRY" alerts set fraud p99-latency --metric latency_p99_seconds --above 0.000001 >/dev/null || fail "ferry alerts set"
"$FERRY" alerts evaluate >/dev/null || fail "ferry alerts evaluate"
# A data validation run (the example rows against version 1's derived expectations; it may fail, which is fine).
"$FERRY" data validate examples/fraud/rows.csv --model fraud --version 1 >/dev/null 2>&1 || true
viewer=$("$FERRY" keys create --name console-viewer --role viewer --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])') || fail "could not create a viewer key"

# --remote-debugging-port=0: chromium picks a free port and prints "DevTools listening on ws://..." (check.py reads it).
setsid "$CHROMIUM" --headless=new --remote-debugging-port=0 --user-data-dir="$work/chrome" --no-sandbox --disable-gpu \
  --window-size=1280,900 --no-first-run --no-default-browser-check --disable-extensions --disable-dev-shm-usage \
  --hide-scrollbars --mute-audio --disable-breakpad about:blank >"$work/chromium.log" 2>&1 &
chrome_pid=$!

# check.py's own waits are short; the timeout only stops a hung run.
timeout 150 "$ROOT/.venv-console/bin/python" scripts/console/check.py "$FERRY_SERVER" "$FERRY_ADMIN_KEY" "$viewer" \
  "$work/chromium.log" "$ARTIFACTS" || fail "check.py (see its message above)"
echo "Console passed"

#!/usr/bin/env bash
# Runs the README's tour exactly as written: starts the README's first command (`ferry serve --example
# examples/fraud`, on the built binary and a fresh data folder) on 127.0.0.1:8080, then runs every line of the
# tour's code block in one shell, in order. Any command that fails fails the tour.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=$(realpath "${1:-.build/debug/ferry}")
[ "$FERRY" = "$(realpath .build/debug/ferry)" ] || { echo "the tour calls .build/debug/ferry; build it (swift build)"; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; rm -f audit.jsonl train.csv window.csv; }
trap cleanup EXIT

if curl -s -o /dev/null http://127.0.0.1:8080/v2/health/live; then echo "TOUR FAILED: port 8080 is taken"; exit 1; fi
export FERRY_ADMIN_KEY="fry_tourtour_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
"$FERRY" serve --example examples/fraud --data-dir "$work/data" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:8080/v2/health/ready >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf http://127.0.0.1:8080/v2/health/ready >/dev/null || { echo "TOUR FAILED: server not ready"; cat "$work/server.log"; exit 1; }

# The tour's block, with the key the first start printed.
python3 - "$work/tour.sh" <<'PY'
import re, sys
text = open("README.md").read()
block = text.split("## A short tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
block = block.replace("export FERRY_API_KEY=fry_...", 'export FERRY_API_KEY="$FERRY_ADMIN_KEY"')
open(sys.argv[1], "w").write("set -euo pipefail\nshopt -s expand_aliases\nset -x\n" + block)
PY
if ! bash "$work/tour.sh" > "$work/tour.log" 2>&1; then
  echo "TOUR FAILED"; tail -n 30 "$work/tour.log"; echo "--- server log"; tail -n 20 "$work/server.log"; exit 1
fi
grep -q '"error"' "$work/tour.log" && grep -c '"error"' "$work/tour.log" | grep -qx 1 \
  || { echo "TOUR FAILED: expected exactly one error answer (the bad request)"; grep '"error"' "$work/tour.log"; exit 1; }
echo "tour passed ($(grep -c '^+ ' "$work/tour.log") commands)"

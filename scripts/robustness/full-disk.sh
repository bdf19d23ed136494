#!/usr/bin/env bash
# A full disk: the artifact folder of `ferry serve` is a small tmpfs (ARTIFACT_MB, default 4), and a batch job's
# results outgrow it. The job must end `failed` with the storage's own reason (No space left on device), its results
# must read back exactly the rows its progress counts (whole chunks, in order), a new artifact and a validation whose
# quarantine needs room are refused with 503 saying the disk is full, and the server must go on answering: health, a
# prediction, the job's status. Mounting the tmpfs needs root (CI runs as root); without it this fails.
#
#   scripts/robustness/full-disk.sh [FERRY_BINARY]     # from anywhere; default .build/debug/ferry
#   ROWS=200000 ARTIFACT_MB=4 KEEP_WORK=1 scripts/robustness/full-disk.sh
set -euo pipefail
ROWS=${ROWS:-200000}
ARTIFACT_MB=${ARTIFACT_MB:-4}
here=$(cd "$(dirname "$0")" && pwd)
binary=$(realpath "${1:-.build/debug/ferry}")
cd "$here/../.."    # examples/fraud is read relative to the repository root
work=$(mktemp -d)
pid=""
mounted=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$mounted" ]; then umount "$work/data/artifacts" || true; fi
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "FULL-DISK TEST FAILED: $*"; echo "--- server log"; tail -n 30 "$work/server.log" 2>/dev/null || true
  exit 1
}

mkdir -p "$work/data/artifacts" "$work/in"
mount -t tmpfs -o "size=${ARTIFACT_MB}m" tmpfs "$work/data/artifacts" 2>"$work/mount.txt" ||
  fail "cannot mount a ${ARTIFACT_MB} MiB tmpfs as the artifact folder (this check needs root): $(cat "$work/mount.txt")"
mounted=1

# ROWS rows of the example's features (cycling over expected.json's rows) with an id: about 40 bytes of results
# each, so the results outgrow the tmpfs part of the way through.
python3 - "$ROWS" "$work/in/rows.csv" <<'EOF'
import json, sys
rows, out = int(sys.argv[1]), sys.argv[2]
e = json.load(open("examples/fraud/expected.json"))
lines = [",".join(["id"] + e["feature_names"])]
for i in range(rows):
    r = e["rows"][i % len(e["rows"])]
    lines.append(",".join([f"tx{i}"] + ["" if v is None else repr(v) for v in r]))
open(out, "w").write("\n".join(lines) + "\n")
EOF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export FERRY_ADMIN_KEY="fry_fulldisk_$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export FERRY_API_KEY=$FERRY_ADMIN_KEY FERRY_SERVER="http://127.0.0.1:$port"
"$binary" serve --port "$port" --grpc-port 0 --data-dir "$work/data" --job-input-dir "$work/in" --example examples/fraud \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "server exited at start"
  sleep 0.1
done
curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null || fail "server not ready after 30 s"
echo "artifact folder: $(df -h "$work/data/artifacts" | awk 'NR == 2 {print $2 " tmpfs, " $3 " used"}')"

status=0
"$binary" jobs submit --path "$work/in/rows.csv" --model fraud --key id --wait --json >"$work/job.json" 2>"$work/submit.log" || status=$?
[ "$status" = 1 ] || fail "ferry jobs submit --wait exited with $status, expected 1 (the job failed): $(cat "$work/submit.log")"
read -r id state rows_done reason < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["id"], j["state"], j["progress"]["rows_done"], j["reason"].replace("\n", " "))' "$work/job.json")
echo "job $id: $state after $rows_done rows: $reason"
[ "$state" = failed ] || fail "the job is $state, expected failed"
case "$reason" in *"No space left on device"*) ;; *) fail "the reason does not say the disk is full: $reason" ;; esac
[ "$rows_done" -gt 0 ] && [ "$rows_done" -lt "$ROWS" ] || fail "rows_done $rows_done: expected some chunks stored before the disk filled"

"$binary" jobs results "$id" --out "$work/results.csv" >/dev/null || fail "ferry jobs results failed after the disk filled"
python3 - "$work/results.csv" "$rows_done" <<'EOF' || fail "the results do not read back the rows the job counted"
import sys
lines = open(sys.argv[1]).read().splitlines()
done = int(sys.argv[2])
rows = [int(l.split(",")[0]) for l in lines[1:]]
assert lines[0].startswith("row,id,"), lines[0]
assert rows == list(range(1, done + 1)), f"{len(rows)} rows, first {rows[:3]}, last {rows[-3:]}; expected 1..{done}"
assert all(l.split(",")[1] == f"tx{r - 1}" for l, r in zip(lines[1:], rows)), "a row's key is not its own"
print(f"results: {len(rows)} rows, 1..{done}, each once and in order")
EOF

# A new artifact on the full disk: refused as unavailable (503), saying the disk is full.
python3 -c 'import sys; sys.stdout.write(open("examples/fraud/model.json").read() + " " * (4 << 20))' >"$work/padded.json"
code=$(curl -s -o "$work/register.json" -w '%{http_code}' -H "Authorization: Bearer $FERRY_API_KEY" -H 'Content-Type: application/octet-stream' \
  --data-binary @"$work/padded.json" "$FERRY_SERVER/api/v1/models/fraud/versions")
[ "$code" = 503 ] && grep -q "is full" "$work/register.json" || fail "a version registered on the full disk got HTTP $code: $(head -c 300 "$work/register.json")"
echo "a registration on the full disk: HTTP 503, $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["error"])' "$work/register.json")"

# A validation whose quarantine cannot be stored: refused the same way, naming the full disk.
echo '{"columns": [{"name": "amount", "kind": "numeric", "max": 1}], "no_duplicate_rows": false}' >"$work/expectations.json"
"$binary" data expectations fraud --version 1 --set "$work/expectations.json" >/dev/null || fail "ferry data expectations --set failed"
status=0
"$binary" data validate --path "$work/in/rows.csv" --model fraud --version 1 >"$work/validate.out" 2>&1 || status=$?
[ "$status" != 0 ] && grep -q "is full" "$work/validate.out" && grep -q "HTTP 503" "$work/validate.out" ||
  fail "a validation on the full disk exited with $status: $(head -c 300 "$work/validate.out")"
echo "a validation on the full disk: $(head -c 200 "$work/validate.out")"

curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null || fail "the server is not ready after the disk filled"
code=$(curl -s -o "$work/predict.json" -w '%{http_code}' -H "Authorization: Bearer $FERRY_API_KEY" -H 'Content-Type: application/json' \
  --data @examples/fraud/request.json "$FERRY_SERVER/v2/models/fraud/infer")
[ "$code" = 200 ] || fail "a prediction after the disk filled got HTTP $code: $(head -c 300 "$work/predict.json")"
"$binary" jobs status "$id" >/dev/null || fail "ferry jobs status failed after the disk filled"
echo "full disk: the job failed with its reason, kept whole chunks, and the server went on answering"

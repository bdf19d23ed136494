#!/usr/bin/env bash
# End-to-end check of the README path: serve the example, call it with curl and the CLI, move an alias,
# stop with SIGTERM, restart and check that everything acknowledged is still there.
set -euo pipefail
FERRY=$(realpath "${1:-.build/debug/ferry}")
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server="http://127.0.0.1:$port"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "SMOKE FAILED: $*"; echo "--- server log"; tail -n 40 "$work/server.log" || true; exit 1; }

start() {
  "$FERRY" serve --port "$port" --data-dir "$work/data" "$@" >>"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf "$server/v2/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.1
  done
  fail "server not ready after 10 s"
}
stop() {
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "server did not exit on SIGTERM"
  wait "$pid" || fail "server exited with status $? on SIGTERM"
  pid=""
}

# The first start creates the admin key from FERRY_ADMIN_KEY (else it would print a random one once).
export FERRY_ADMIN_KEY="fry_smoketst_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_API_KEY=$FERRY_ADMIN_KEY
auth=(-H "Authorization: Bearer $FERRY_API_KEY")
start --example examples/fraud
# The banner's hints work from any folder against this port: absolute example paths, the server named.
grep -q "ferry predict fraud --csv $PWD/examples/fraud/rows.csv --server $server" "$work/server.log" \
  || fail "the start banner's CLI hint does not name this server and an absolute path"
grep -q -- "-d @$PWD/examples/fraud/request.json" "$work/server.log" || fail "the banner's curl hint uses a relative path"
# A second server on the same data folder refuses to start and names the holder.
if "$FERRY" serve --port 0 --data-dir "$work/data" > "$work/second.txt" 2>&1; then fail "a second server started on a held data folder"; fi
grep -q "is in use by another Ferry server (pid $pid)" "$work/second.txt" || fail "unclear refusal: $(cat "$work/second.txt")"
# One --version per command: the tool's own on the root only.
[ "$("$FERRY" --version)" = "$("$FERRY" --version | head -1)" ] && "$FERRY" --version | grep -Eq '^[0-9]+\.[0-9]+' || fail "ferry --version"
[ "$("$FERRY" models show --help | grep -c -- '--version')" = 2 ] || fail "models show --help lists --version more than once"
# A server that is not running is reported at once (the CLI used to try again for 90 s before saying anything).
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if timeout 20 "$FERRY" models list --server "http://127.0.0.1:$closed" > "$work/unreachable.txt" 2>&1; then fail "models list against a closed port succeeded"; fi
grep -q "could not reach Ferry at http://127.0.0.1:$closed" "$work/unreachable.txt" || fail "a closed port is not reported at once: $(cat "$work/unreachable.txt")"
# A server given without its scheme is named as such, not reported as unreachable.
if "$FERRY" models list --server "127.0.0.1:$port" > "$work/scheme.txt" 2>&1; then fail "a --server without a scheme was accepted"; fi
grep -q -- "--server must be an http or https URL" "$work/scheme.txt" || fail "unclear --server error: $(cat "$work/scheme.txt")"
status=$(curl -s -o /dev/null -w '%{http_code}' "$server/v2/models/fraud/infer" -d @examples/fraud/request.json)
[ "$status" = 401 ] || fail "inference without a key got $status, not 401"
got=$(curl -sf "${auth[@]}" "$server/v2/models/fraud/infer" -H 'Content-Type: application/json' -d @examples/fraud/request.json)
python3 - "$got" <<'PY' || fail "V2 prediction differs from xgboost"
import json, sys
got = json.loads(sys.argv[1])["outputs"][0]["data"][0]
want = json.load(open("examples/fraud/expected.json"))["probabilities"][17]
assert abs(got - want) <= 1e-6 * abs(want), (got, want)
print(f"V2 curl: {got} (xgboost {want})")
PY
status=$(curl -s -o "$work/bad.json" -w '%{http_code}' "${auth[@]}" "$server/v2/models/fraud/infer" -d '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1,2]}]}')
[ "$status" = 400 ] && grep -q '"error"' "$work/bad.json" || fail "bad request got $status"

# Fetched to a file first: `curl | grep -q` under pipefail fails whenever grep stops reading before curl has written all.
curl -sf "${auth[@]}" "$server/metrics" > "$work/metrics.txt" || fail "/metrics did not answer"
if command -v promtool >/dev/null 2>&1; then
  promtool check metrics < "$work/metrics.txt" || fail "promtool rejects /metrics"
  echo "promtool accepts /metrics"
fi
grep -q 'ferry_inference_requests_total{model="fraud",version="1"}' "$work/metrics.txt" || fail "/metrics does not count requests"

export FERRY_SERVER=$server
"$FERRY" models list
# An answer that fails leaves the file --out names as it was (it was emptied before the request).
echo keep > "$work/keep.csv"
if "$FERRY" jobs results job_nope --out "$work/keep.csv" 2> "$work/nope.txt"; then fail "results of an unknown job succeeded"; fi
[ "$(cat "$work/keep.csv")" = keep ] && [ -z "$(ls -A "$work" | grep partial)" ] || fail "a failed --out download changed or left files: $(ls -A "$work")"
"$FERRY" predict fraud --csv examples/fraud/rows.csv
"$FERRY" models register fraud examples/fraud/model.json --description "same bytes, second version" --alias staging
"$FERRY" alias set fraud production 2 --reason "smoke test"

# MLflow model folders: the xgboost, lightgbm and onnx flavors register with their signature as the schema and a
# logged model's run, params and metrics as lineage; pickles and external ONNX data are refused with the way out.
mlflow=Tests/FerryHTTPTests/Fixtures/mlflow
"$FERRY" models register mlflow-xgb "$mlflow/xgboost" --json > "$work/mlflow-xgb.json" || fail "MLflow xgboost folder refused"
"$FERRY" models register mlflow-lgb "$mlflow/lightgbm" --json > "$work/mlflow-lgb.json" || fail "MLflow lightgbm folder refused"
"$FERRY" models register mlflow-onnx "$mlflow/onnx" --json > "$work/mlflow-onnx.json" || fail "MLflow onnx folder refused"
logged="$work/mlruns/1/models/m-454ff7b2019047ef8e02e717142775ff"
mkdir -p "$logged" && cp -r "$mlflow/xgboost_logged" "$logged/artifacts" && cp -r "$mlflow/xgboost_logged_record/." "$logged/"
"$FERRY" models register mlflow-xgb "$logged/artifacts" --json > "$work/mlflow-logged.json" || fail "a logged MLflow model refused"
python3 - "$work" <<'PY' || fail "MLflow folders registered wrongly"
import json, sys
work = sys.argv[1]
xgb, lgb, onnx, logged = (json.load(open(f"{work}/mlflow-{n}.json")) for n in ("xgb", "lgb", "onnx", "logged"))
assert xgb["format"] == "xgboost-json", xgb["format"]
assert [f["name"] for f in xgb["input_schema"]["features"]] == ["amount", "distance_km", "hour", "velocity"], xgb["input_schema"]
assert [f["datatype"] for f in lgb["input_schema"]["features"]] == ["FP64", "FP64", "INT64", "FP64"], lgb["input_schema"]
assert lgb["format"] == "lightgbm-text" and onnx["format"] == "onnx"
assert logged["lineage"]["run"] == "mlflow:f7375845fe6c433eba31940bf1a36552", logged["lineage"]
assert logged["metrics"]["val_accuracy"] == 0.8 and logged["params"]["max_depth"] == "3", (logged["metrics"], logged["params"])
print("MLflow folders: xgboost, lightgbm, onnx and a logged model registered with schema and lineage")
PY
# A remote backend: this server's own fraud model called over HTTP as if it were a GPU node (its key from the
# server's environment), answering what the local version answers.
"$FERRY" models register fraud-remote --remote "$server" --remote-model fraud --remote-header 'Authorization: Bearer ${FERRY_API_KEY}' \
  || fail "remote version refused"
remote_answer=$(curl -sf "${auth[@]}" "$server/v2/models/fraud-remote/infer" -d @examples/fraud/request.json) || fail "remote version did not answer"
local_answer=$(curl -sf "${auth[@]}" "$server/v2/models/fraud/infer" -d @examples/fraud/request.json)
python3 - "$remote_answer" "$local_answer" <<'PY' || fail "remote and local answers differ"
import json, sys
remote, local = (json.loads(a)["outputs"][0]["data"] for a in sys.argv[1:3])
assert remote == local, (remote[:3], local[:3])
print(f"remote backend: {len(remote)} rows equal to the local version's")
PY
for refused in "sklearn:export it to ONNX" "lightgbm_pickled:log the Booster instead" "onnx_external:save_as_external_data=False"; do
  if "$FERRY" models register mlflow-bad "$mlflow/${refused%%:*}" > "$work/refused.txt" 2>&1; then fail "MLflow folder ${refused%%:*} was registered"; fi
  grep -q "${refused#*:}" "$work/refused.txt" || fail "unclear refusal of ${refused%%:*}: $(cat "$work/refused.txt")"
done
"$FERRY" alias history fraud
"$FERRY" models show fraud
"$FERRY" predict fraud --version staging --input examples/fraud/request-v1.json
"$FERRY" monitor reference fraud 2 --csv examples/fraud/rows.csv
"$FERRY" predict fraud --csv examples/fraud/rows.csv > /dev/null
sleep 0.5   # the prediction log writes every 50 ms
"$FERRY" monitor drift fraud --version 2
"$FERRY" monitor predictions fraud --limit 3
id=$("$FERRY" monitor predictions fraud --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
printf 'prediction_id,row,label\n%s,0,1\n%s,1,0\nnever-logged,0,1\n' "$id" "$id" > "$work/labels.csv"
"$FERRY" monitor feedback --input "$work/labels.csv" | tee "$work/feedback.txt"
grep -q "2 matched, 1 unmatched" "$work/feedback.txt" || fail "feedback was not matched"
"$FERRY" monitor performance fraud --version 2
"$FERRY" alerts set fraud slow --metric latency_p99_seconds --above 10 --window 3600
"$FERRY" alerts evaluate
"$FERRY" alerts list fraud > "$work/alerts.txt" && grep -q "slow" "$work/alerts.txt" || fail "alert rule not listed"
"$FERRY" alerts events fraud --alert slow > /dev/null || fail "alerts events MODEL does not work"
"$FERRY" models show fraud --version 2 --json | python3 -c 'import json,sys; v=json.load(sys.stdin); assert v["aliases"]==["production","staging"], v'
if "$FERRY" alias set fraud production 9 2>"$work/err.txt"; then fail "alias to a missing version succeeded"; fi
grep -q "no version 9" "$work/err.txt" || fail "unclear CLI error: $(cat "$work/err.txt")"

# Endpoints and rollouts: an endpoint over version 1 with version 2 as a shadow, then a blue-green switch and
# its instant rollback.
"$FERRY" endpoints set fraud-ep --variant fraud:1=100 --shadow fraud:2=1 --sticky-header X-Customer-Id
served=$(curl -s -D - -o /dev/null "${auth[@]}" "$server/v2/models/fraud-ep/infer" -d @examples/fraud/request.json | tr -d '\r' | sed -n 's/^Ferry-Served-By: //Ip')
[ "$served" = "fraud/1" ] || fail "endpoint answered from '$served', not fraud/1"
"$FERRY" endpoints list
"$FERRY" rollout start fraud-ep --to 2 --strategy blue-green --bake 3600
served=$(curl -s -D - -o /dev/null "${auth[@]}" "$server/v2/models/fraud-ep/infer" -d @examples/fraud/request.json | tr -d '\r' | sed -n 's/^Ferry-Served-By: //Ip')
[ "$served" = "fraud/2" ] || fail "blue-green did not switch to fraud/2 (got '$served')"
"$FERRY" rollout rollback fraud-ep
"$FERRY" rollout events fraud-ep
"$FERRY" endpoints shadow fraud-ep

# Keys and roles: a predictor key predicts but cannot move aliases; revoked, it stops working.
"$FERRY" keys create --name smoke-client --role predictor --model fraud --json > "$work/key.json"
client_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/key.json")
client_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"]["id"])' "$work/key.json")
FERRY_API_KEY=$client_key "$FERRY" predict fraud --csv examples/fraud/rows.csv > /dev/null || fail "predictor key cannot predict"
if FERRY_API_KEY=$client_key "$FERRY" alias set fraud production 1 2>"$work/err.txt"; then fail "a predictor key moved an alias"; fi
grep -q "lacks the 'deploy' permission" "$work/err.txt" || fail "unclear 403: $(cat "$work/err.txt")"
"$FERRY" keys revoke "$client_id"
if FERRY_API_KEY=$client_key "$FERRY" keys whoami 2>/dev/null; then fail "a revoked key still works"; fi
"$FERRY" keys list
"$FERRY" audit list --limit 5
"$FERRY" audit verify | tee "$work/verify.txt"
grep -q "audit trail intact" "$work/verify.txt" || fail "audit trail does not verify"
# Alone on SQLite, the server leads itself.
"$FERRY" cluster | tee "$work/cluster.txt"
grep -Eq "yes +sqlite" "$work/cluster.txt" || fail "ferry cluster: a server alone on SQLite should lead: $(cat "$work/cluster.txt")"
# The export has the API's shape: ISO-8601 times, snake_case keys.
"$FERRY" audit export --out "$work/audit.jsonl"
curl -sf "${auth[@]}" "$server/api/v1/audit?limit=1" > "$work/audit-api.json"
python3 - "$work/audit.jsonl" "$work/audit-api.json" <<'PY' || fail "audit export differs from the API's entry shape"
import json, sys
first = json.loads(open(sys.argv[1]).readline())
api = json.load(open(sys.argv[2]))["items"][0]
assert first == api, (first, api)
assert isinstance(first["at"], str) and "T" in first["at"] and "previous_hash" in first, first
PY
stop

# Signed models: a key pair, a signature; the restarted server trusts the public key and guards production.
(cd "$work" && "$FERRY" sign keygen release)
"$FERRY" sign examples/fraud/model.json --key "$work/release.key.json" --model fraud --out "$work/model.sig.json"
start --trusted-key "$work/release.pub.json" --require-signed-alias production
curl -sf "${auth[@]}" "$server/api/v1/models/fraud" | python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["aliases"]["production"]==2, m' \
  || fail "production alias did not survive a restart"
# production points at unsigned version 2, which the new policy forbids: not ready, 503 naming the policy, and said.
code=$(curl -s -o "$work/blocked.json" -w '%{http_code}' "${auth[@]}" "$server/v2/models/fraud/infer" -d @examples/fraud/request.json)
[ "$code" = 503 ] && grep -q "requires a trusted signature (--require-signed-alias)" "$work/blocked.json" \
  || fail "an unsigned production version was served under --require-signed-alias ($code: $(cat "$work/blocked.json"))"
"$FERRY" models show fraud | tee "$work/show.txt"
grep -q "blocked" "$work/show.txt" || fail "models show does not say that production is blocked"
# Predictions served before SIGTERM were written out during shutdown.
curl -sf "${auth[@]}" "$server/api/v1/models/fraud/predictions?limit=1000" \
  | python3 -c 'import json,sys; n=len(json.load(sys.stdin)["items"]); assert n >= 4, n; print(f"{n} logged predictions survived the restart")' \
  || fail "prediction log lost records across a graceful restart"
"$FERRY" models register fraud examples/fraud/model.json --signature "$work/model.sig.json" --description signed
"$FERRY" models show fraud --version 3 --json | python3 -c 'import json,sys; v=json.load(sys.stdin); assert v["signature"]["key_id"]=="release", v' \
  || fail "signature not kept on the version"
# Only the signed version may take production now.
if "$FERRY" alias set fraud production 1 2>"$work/err.txt"; then fail "an unsigned version took production"; fi
grep -q "is not signed; alias 'production' requires a trusted signature" "$work/err.txt" || fail "unclear signature error: $(cat "$work/err.txt")"
"$FERRY" alias set fraud production 3 --reason "signed release"
curl -sf "${auth[@]}" "$server/v2/models/fraud/infer" -d @examples/fraud/request.json >/dev/null || fail "signed production not served"
stop

# Secure by default: no unauthenticated server on a network address.
if "$FERRY" serve --auth none --host 0.0.0.0 --data-dir "$work/insecure" > "$work/insecure.txt" 2>&1; then fail "--auth none on 0.0.0.0 started"; fi
grep -q "refusing to serve without authentication" "$work/insecure.txt" || fail "unclear refusal: $(cat "$work/insecure.txt")"
if "$FERRY" serve --replica-id " " --data-dir "$work/blank" > "$work/blank.txt" 2>&1; then fail "a blank --replica-id started"; fi
grep -q -- "--replica-id (or FERRY_REPLICA_ID) must be 1 to 128 characters" "$work/blank.txt" || fail "unclear refusal: $(cat "$work/blank.txt")"

# HTTPS from a certificate and key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" -out "$work/tls.crt" \
  -days 1 -subj /CN=localhost 2>/dev/null
"$FERRY" serve --port "$port" --data-dir "$work/data" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" >>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf --cacert "$work/tls.crt" "https://localhost:$port/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf --cacert "$work/tls.crt" "${auth[@]}" "https://localhost:$port/v2/models/fraud/infer" -d @examples/fraud/request.json >/dev/null \
  || fail "HTTPS inference failed"
# TLS 1.2 at least (RFC 8996): a client offering only TLS 1.1 is refused, even one willing to use old ciphers.
echo | openssl s_client -connect "127.0.0.1:$port" -tls1_2 >/dev/null 2>&1 || fail "a TLS 1.2 handshake failed"
if echo | openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1; then
  fail "a TLS 1.1 handshake was accepted"
fi
echo "HTTPS serves with the configured certificate, TLS 1.2 or later"
# A remote backend over https whose certificate a private authority signed (here: the server itself, its own
# certificate as the authority); without the authority the certificate is refused and nothing is registered.
descriptor() { printf '{"remote": {"url": "https://localhost:%s", "model": "fraud", "headers": {"Authorization": "Bearer ${FERRY_API_KEY}"}%s}}' "$port" "$1" | base64 -w0; }
status=$(curl -s -o "$work/remote-tls.json" -w '%{http_code}' --cacert "$work/tls.crt" "${auth[@]}" "https://localhost:$port/api/v1/models/fraud-tls/versions" \
  -d "{\"format\": \"remote-v2\", \"artifact\": \"$(descriptor ", \"ca_file\": \"$work/tls.crt\"")\"}")
[ "$status" = 201 ] || fail "remote over https with its authority: $status $(cat "$work/remote-tls.json")"
curl -sf --cacert "$work/tls.crt" "${auth[@]}" "https://localhost:$port/v2/models/fraud-tls/infer" -d @examples/fraud/request.json >/dev/null \
  || fail "remote over https did not answer"
status=$(curl -s -o "$work/remote-untrusted.json" -w '%{http_code}' --cacert "$work/tls.crt" "${auth[@]}" "https://localhost:$port/api/v1/models/fraud-untrusted/versions" \
  -d "{\"format\": \"remote-v2\", \"artifact\": \"$(descriptor "")\"}")
[ "$status" = 503 ] && grep -q "cannot be reached" "$work/remote-untrusted.json" || fail "an untrusted remote certificate: $status $(cat "$work/remote-untrusted.json")"
echo "a remote backend over https is trusted through its authority's certificate only"
stop

# Tampering with the stored trail is caught offline.
"$FERRY" audit verify --data-dir "$work/data" > /dev/null || fail "audit trail does not verify offline"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE audit_log SET actor = ? WHERE seq = 3", ("mallory",)); c.commit()' "$work/data/ferry.sqlite"
if "$FERRY" audit verify --data-dir "$work/data" > "$work/tamper.txt"; then fail "audit verify missed an edited entry"; fi
grep -q "entry 3 .* was edited" "$work/tamper.txt" || fail "unclear tamper report: $(cat "$work/tamper.txt")"
echo "audit verify caught the edited entry"
echo "smoke passed"

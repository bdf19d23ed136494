#!/usr/bin/env bash
# The retraining loop end to end: Ferry serves the example fraud model behind an endpoint with a drift alert and a
# retraining policy; the world changes (prices rise, the fraud pattern moves); the alert fires, the job it starts
# retrains the model with examples/fraud/retrain.py on the labelled production rows, the candidate beats the champion
# on the held-out rows, and the canary it starts on the endpoint is promoted by its gates on live traffic. Usage, from
# the repository root:
#   bash scripts/retrain/run.sh [path/to/ferry]
# Needs python3 (a venv .venv-retrain with scripts/retrain/requirements.txt is made on the first run) and curl.
set -euo pipefail
FERRY=$(realpath "${1:-.build/debug/ferry}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_TAG=retrain
source benchmarks/lib.sh
setup_venv "$ROOT/.venv-retrain" "$ROOT/scripts/retrain/requirements.txt" bin/python
PYTHON="$ROOT/.venv-retrain/bin/python"

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pid=""
cleanup() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "RETRAIN FAILED: $*"; echo "--- last lines of the server log:"; tail -n 40 "$work/server.log" || true; exit 1; }
phase() { echo; echo "== $*"; }
started=$SECONDS

export FERRY_ADMIN_KEY="fry_retraintest_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export FERRY_API_KEY=$FERRY_ADMIN_KEY FERRY_SERVER="http://127.0.0.1:$port"
ferry() { "$FERRY" "$@"; }

phase "0. Ferry with the example model, allowing the venv's python as a trainer (alerts evaluated on demand here)"
# --alert-interval 3600: the scenario evaluates the alerts itself (POST /api/v1/alerts/evaluate) once the labels are in,
# so no scheduled evaluation can start a job on a half-sent window.
"$FERRY" serve --port "$port" --grpc-port 0 --data-dir "$work/data" --example examples/fraud --trainer "$PYTHON examples/fraud/retrain.py" \
  --alert-interval 3600 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || fail "server exited"; sleep 0.1; done
curl -sf "$FERRY_SERVER/v2/health/ready" >/dev/null || fail "server not ready after 10 s"
echo "   serving on $FERRY_SERVER (data in $work/data)"

phase "setup: drift reference, endpoint, alert rule, retraining policy"
# The reference: 2000 rows drawn as examples/fraud/train.py drew the model's training data.
(cd scripts/retrain && "$PYTHON" -c 'import sys, data; data.write_csv(sys.argv[1], data.reference(2000, seed=1))' "$work/reference.csv") \
  || fail "could not write the reference sample"
ferry monitor reference fraud 1 --csv "$work/reference.csv" || fail "ferry monitor reference"
ferry endpoints set fraud-ep --variant fraud:1=100 >/dev/null || fail "ferry endpoints set"
ferry endpoints list || fail "ferry endpoints list"
ferry alerts set fraud amount-drift --metric drift_psi --feature amount --above 0.2 --window 3600 >/dev/null || fail "ferry alerts set"
ferry retrain policy set fraud --alert amount-drift --metric roc_auc --min-improvement 0.01 --holdout 0.3 \
  --endpoint fraud-ep --rollout-steps 50,100 --rollout-bake 2 --rollout-gate max_output_psi=0.5 -- "$PYTHON" examples/fraud/retrain.py || fail "ferry retrain policy set"

(cd scripts/retrain && RETRAIN_WHY="$work/why" "$PYTHON" scenario.py "$FERRY_SERVER") \
  || fail "$(cat "$work/why" 2>/dev/null || echo "scenario.py exited with an error")"

phase "the record"
ferry retrain status fraud || fail "ferry retrain status"
echo
ferry rollout events fraud-ep || fail "ferry rollout events"
echo
echo "Retraining passed ($((SECONDS - started)) s)"

#!/usr/bin/env bash
# MLflow's own Python client (mlflow-skinny) against Ferry's MLflow tracking, artifact and model-registry API: start
# Ferry on free ports with a fresh data folder, make a viewer key, then run check.py: examples/mlflow/train.py, an unchanged training
# script (log a run, train XGBoost, log_model, register_model, set an alias) followed by checks of what Ferry made of
# it (Open Inference Protocol, pyfunc through models:/name@alias, search, errors, a viewer key). Usage, from the
# repository root:
#   bash scripts/mlflow/run.sh [path/to/ferry]
set -euo pipefail
FERRY=$(realpath "${1:-.build/debug/ferry}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_TAG=mlflow
source benchmarks/lib.sh
# Not .venv-mlflow: that name is the fixtures venv (scripts/fixtures/requirements-mlflow.txt, another set).
setup_venv "$ROOT/.venv-mlflow-client" "$ROOT/scripts/mlflow/requirements.txt" bin/python

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
pid=""
cleanup() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "MLFLOW FAILED: $*"; echo "--- last lines of the server log:"; tail -n 40 "$work/server.log" || true; exit 1; }

export FERRY_ADMIN_KEY="fry_mlflowtest_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
"$FERRY" serve --port "$port" --grpc-port 0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || fail "server exited"; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null || fail "server not ready after 10 s"

viewer=$(FERRY_API_KEY=$FERRY_ADMIN_KEY "$FERRY" keys create --name mlflow-viewer --role viewer --json --server "http://127.0.0.1:$port" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])') || fail "could not create a viewer key"

# The client retries 408/429/5xx for minutes by default: no retries and a short timeout make a server error fail now.
(cd "$work" && MLFLOW_TRACKING_URI="http://127.0.0.1:$port" MLFLOW_TRACKING_TOKEN="$FERRY_ADMIN_KEY" FERRY_VIEWER_KEY="$viewer" \
  MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOW_HTTP_REQUEST_TIMEOUT=30 PYTHONWARNINGS=ignore \
  "$ROOT/.venv-mlflow-client/bin/python" "$ROOT/scripts/mlflow/check.py") || fail "check.py"
echo "MLflow passed"

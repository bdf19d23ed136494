#!/usr/bin/env bash
# Ferry's gRPC service with the unchanged tritonclient and KServe's own Python client: serve the example model and the
# scikit-learn pipeline on a free HTTP and gRPC port, then run check_tritonclient.py and check_kserve.py (each client in
# its own venv, so neither pinned set constrains the other). Usage, from the repository root:
#   bash scripts/grpc/run.sh [path/to/ferry]
set -euo pipefail
FERRY=$(realpath "${1:-.build/debug/ferry}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_TAG=grpc
source benchmarks/lib.sh
setup_venv "$ROOT/.venv-grpc" "$ROOT/scripts/grpc/requirements.txt" bin/python
setup_venv "$ROOT/.venv-kserve" "$ROOT/scripts/grpc/requirements-kserve.txt" bin/python

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) grpc_port=$(free_port)
pid=""
cleanup() { if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "GRPC FAILED: $*"; tail -n 30 "$work/server.log" || true; exit 1; }

export FERRY_ADMIN_KEY="fry_grpctest_$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
# --max-rows 100000: a request of more than gRPC's default 4 MiB fits (the limit follows --max-body-mb).
"$FERRY" serve --port "$port" --grpc-port "$grpc_port" --data-dir "$work/data" --example examples/fraud --max-rows 100000 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || fail "server exited"; sleep 0.1; done
FERRY_API_KEY=$FERRY_ADMIN_KEY "$FERRY" models register shop examples/sklearn/pipeline.onnx --server "http://127.0.0.1:$port" >/dev/null \
  || fail "could not register the ONNX pipeline"
"$ROOT/.venv-grpc/bin/python" scripts/grpc/check_tritonclient.py "$grpc_port" "$FERRY_ADMIN_KEY" || fail "tritonclient check"
"$ROOT/.venv-kserve/bin/python" scripts/grpc/check_kserve.py "$grpc_port" "$FERRY_ADMIN_KEY" || fail "kserve client check"

# The same service over TLS with the HTTP server's certificate: a client trusting it is answered, a plaintext one
# is not.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" -out "$work/tls.crt" \
  -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
"$FERRY" serve --port "$port" --grpc-port "$grpc_port" --data-dir "$work/data" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" >>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf --cacert "$work/tls.crt" "https://localhost:$port/v2/health/ready" >/dev/null 2>&1 && break; kill -0 "$pid" 2>/dev/null || fail "TLS server exited"; sleep 0.1; done
"$ROOT/.venv-grpc/bin/python" - "$grpc_port" "$FERRY_ADMIN_KEY" "$work/tls.crt" <<'PY' || fail "gRPC over TLS"
import sys
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

port, key, ca = sys.argv[1:4]
secure = grpcclient.InferenceServerClient(url=f"localhost:{port}", ssl=True, root_certificates=ca)
rows = grpcclient.InferInput("input", [1, 12], "FP32")
rows.set_data_from_numpy(np.zeros((1, 12), dtype=np.float32))
answer = secure.infer("fraud", [rows], headers={"authorization": f"Bearer {key}"}).as_numpy("predict")
assert answer is not None and answer.shape == (1,), answer
try:
    grpcclient.InferenceServerClient(url=f"localhost:{port}").is_server_live()
    sys.exit("a plaintext client was answered by the TLS server")
except InferenceServerException:
    pass
print("tritonclient: gRPC over TLS with the server's certificate; plaintext refused")
PY
echo "gRPC passed"

"""Calls Ferry's Open Inference Protocol gRPC service with the unchanged tritonclient and checks every answer.

Usage: check_tritonclient.py GRPC_PORT API_KEY (a server started by scripts/grpc/run.sh, serving the example
fraud model as 'fraud' and the scikit-learn pipeline of examples/sklearn as 'shop').
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

port, key = sys.argv[1], sys.argv[2]
client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
auth = {"authorization": f"Bearer {key}"}


def fail(message):
    print(f"GRPC CHECK FAILED: {message}")
    sys.exit(1)


# Health and metadata.
if not (client.is_server_live(headers=auth) and client.is_server_ready(headers=auth)):
    fail("server not live and ready")
if not client.is_model_ready("fraud", headers=auth):
    fail("model fraud not ready")
meta = client.get_model_metadata("fraud", headers=auth, as_json=True)
if meta["inputs"][0]["name"] != "input" or meta["inputs"][0]["shape"] != ["-1", "12"]:
    fail(f"model metadata {meta['inputs']}")
server = client.get_server_metadata(headers=auth, as_json=True)
if "binary_tensor_data" not in server.get("extensions", []):
    fail(f"server metadata {server}")

# The example model: the answers xgboost gave for the same rows.
expected = json.load(open("examples/fraud/expected.json"))
rows = np.array([[np.nan if v is None else v for v in row] for row in expected["rows"]], dtype=np.float32)
tensor = grpcclient.InferInput("input", list(rows.shape), "FP32")
tensor.set_data_from_numpy(rows)
result = client.infer("fraud", [tensor], headers=auth, outputs=[grpcclient.InferRequestedOutput("predict")])
got = result.as_numpy("predict")
want = np.array(expected["probabilities"], dtype=np.float64)
if got is None or got.shape != (len(rows),) or not np.allclose(got, want, rtol=1e-6, atol=0):
    fail(f"predictions differ from xgboost's: {got[:3] if got is not None else None} vs {want[:3]}")
prediction_id = result.get_response(as_json=True)["parameters"]["prediction_id"]["string_param"]
print(f"tritonclient: {len(rows)} rows equal to xgboost's, prediction id {prediction_id}")

# Compressed requests (as Triton takes them), and one of 4.8 MB: past gRPC's default limit of 4 MiB, within
# --max-body-mb (32 MiB), as over REST.
for algorithm in ("gzip", "deflate"):
    got = client.infer("fraud", [tensor], headers=auth, compression_algorithm=algorithm).as_numpy("predict")
    if got is None or not np.allclose(got, want, rtol=1e-6, atol=0):
        fail(f"a {algorithm} request's predictions differ: {got[:3] if got is not None else None}")
copies = 100_000 // len(rows)
big = grpcclient.InferInput("input", [copies * len(rows), 12], "FP32")
big.set_data_from_numpy(np.tile(rows, (copies, 1)))
got = client.infer("fraud", [big], headers=auth).as_numpy("predict")
if got is None or not np.allclose(got, np.tile(want, copies), rtol=1e-6, atol=0):
    fail("the 4.8 MB request's predictions differ from xgboost's")
print(f"tritonclient: gzip and deflate requests, and one of {copies * len(rows)} rows (4.8 MB), answered as xgboost")

# A scikit-learn pipeline exported to ONNX: one tensor per column, strings as BYTES (an unseen one included).
golden = json.load(open("Tests/FerryRuntimesTests/Fixtures/onnx/columns_rf.json"))
n = 6
inputs = []
for spec in golden["inputs"]:
    if spec["datatype"] == "BYTES":
        values = np.array([[v.encode()] for v in spec["data"][:n]], dtype=np.object_)
    else:
        values = np.array([[np.nan if v is None else v] for v in spec["data"][:n]], dtype=np.float32)
    tensor = grpcclient.InferInput(spec["name"], [n, 1], spec["datatype"])
    tensor.set_data_from_numpy(values)
    inputs.append(tensor)
result = client.infer("shop", inputs, headers=auth)
labels = result.as_numpy("output_label")
probabilities = result.as_numpy("output_probability")
if list(labels) != golden["outputs"][0]["data"][:n]:
    fail(f"labels {labels} vs onnxruntime's {golden['outputs'][0]['data'][:n]}")
if not np.allclose(probabilities.reshape(-1), golden["outputs"][1]["data"][: n * 2], atol=1e-5):
    fail(f"probabilities {probabilities} vs onnxruntime's")
print(f"tritonclient: the ONNX pipeline's labels and probabilities equal onnxruntime's on {n} rows with BYTES inputs")


# Errors: the HTTP API's messages as gRPC status codes.
def status(call):
    try:
        call()
    except InferenceServerException as error:
        return error.status(), error.message()
    return None, None


narrow = grpcclient.InferInput("input", [1, 2], "FP32")
narrow.set_data_from_numpy(np.zeros((1, 2), dtype=np.float32))
good = grpcclient.InferInput("input", [1, 12], "FP32")
good.set_data_from_numpy(np.zeros((1, 12), dtype=np.float32))
cases = [
    (lambda: client.infer("fraud", [narrow], headers=auth), "StatusCode.INVALID_ARGUMENT", "expected [N, 12]"),
    (lambda: client.infer("nope", [good], headers=auth), "StatusCode.NOT_FOUND", "model 'nope' is not registered"),
    (lambda: client.infer("fraud", [good]), "StatusCode.UNAUTHENTICATED", "needs credentials"),
    (lambda: client.infer("fraud", [good], headers={"authorization": "Bearer fry_wrong_key"}), "StatusCode.UNAUTHENTICATED", "unknown, expired or revoked"),
]
for call, code, message in cases:
    got_code, got_message = status(call)
    if got_code != code or message not in (got_message or ""):
        fail(f"expected {code} '{message}', got {got_code} '{got_message}'")
print("tritonclient: bad input, unknown models and missing or wrong keys get the right status and message")

"""Calls Ferry's Open Inference Protocol gRPC service with KServe's own unchanged Python client and checks every answer.

Usage: check_kserve.py GRPC_PORT API_KEY (a server started by scripts/grpc/run.sh, serving the example fraud model as
'fraud' and the scikit-learn pipeline of examples/sklearn as 'shop').

kserve.InferenceGRPCClient is asynchronous (grpc.aio). Unlike tritonclient it can send a tensor either way:
InferInput.set_data_from_numpy(binary_data=True) puts it in raw_input_contents (with a 'binary_data_size' parameter on
the input), binary_data=False in the typed contents fields; both are checked. Errors surface as grpc.aio.AioRpcError.
"""
import asyncio
import json
import logging
import sys

import grpc
import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest
from kserve.protocol.infer_type import RequestedOutput

port, key = sys.argv[1], sys.argv[2]
auth = (("authorization", f"Bearer {key}"),)
# The client logs every failed call with its traceback at ERROR; the error cases below fail on purpose.
logging.getLogger("kserve.trace").setLevel(logging.CRITICAL)


def fail(message):
    print(f"GRPC CHECK FAILED: {message}")
    sys.exit(1)


def tensor(name, values, datatype, raw):
    t = InferInput(name, list(values.shape), datatype)
    t.set_data_from_numpy(values, binary_data=raw)
    return t


def request(model, inputs, raw, outputs=None):
    """An InferRequest, after checking that the client really sends the form asked for."""
    req = InferRequest(model, inputs, request_outputs=outputs)
    wire = req.to_grpc()
    if raw != bool(wire.raw_input_contents) or any(i.HasField("contents") == raw for i in wire.inputs):
        fail(f"the client did not build a {'raw' if raw else 'typed'} request: {wire}")
    return req


async def main():
    async with InferenceGRPCClient(url=f"127.0.0.1:{port}", timeout=30) as client:
        # Health.
        if not (await client.is_server_live(headers=auth) and await client.is_server_ready(headers=auth)):
            fail("server not live and ready")
        if not await client.is_model_ready("fraud", headers=auth):
            fail("model fraud not ready")
        if not await client.is_model_ready("shop", headers=auth):
            fail("model shop not ready")
        print("kserve: server live and ready, models fraud and shop ready")

        # The example model: the answers xgboost gave for the same rows, sent raw and typed.
        expected = json.load(open("examples/fraud/expected.json"))
        rows = np.array([[np.nan if v is None else v for v in row] for row in expected["rows"]], dtype=np.float32)
        want = np.array(expected["probabilities"], dtype=np.float64)
        for raw in (True, False):
            form = "raw_input_contents" if raw else "typed contents"
            # Raw asks for 'predict' by name, typed for every output.
            outputs = [RequestedOutput("predict")] if raw else None
            result = await client.infer(request("fraud", [tensor("input", rows, "FP32", raw)], raw, outputs), headers=auth)
            output = result.get_output_by_name("predict")
            got = output.as_numpy() if output is not None else None
            if got is None or got.shape != (len(rows),) or not np.allclose(got, want, rtol=1e-6, atol=0):
                fail(f"{form}: predictions differ from xgboost's: {got[:3] if got is not None else None} vs {want[:3]}")
            if result.model_name != "fraud":
                fail(f"{form}: response names model '{result.model_name}'")
            prediction_id = result.parameters["prediction_id"].string_param if "prediction_id" in result.parameters else ""
            if not prediction_id:
                fail(f"{form}: no prediction_id parameter in {result.parameters}")
            print(f"kserve ({form}): {len(rows)} rows equal to xgboost's, prediction id {prediction_id}")

        # A scikit-learn pipeline exported to ONNX: one tensor per column, strings as BYTES (an unseen one and an
        # empty one included), sent raw and typed.
        golden = json.load(open("Tests/FerryRuntimesTests/Fixtures/onnx/columns_rf.json"))
        n = 6
        for raw in (True, False):
            form = "raw_input_contents" if raw else "typed contents"
            inputs = []
            for spec in golden["inputs"]:
                if spec["datatype"] == "BYTES":
                    values = np.array([[v.encode()] for v in spec["data"][:n]], dtype=np.object_)
                else:
                    values = np.array([[np.nan if v is None else v] for v in spec["data"][:n]], dtype=np.float32)
                inputs.append(tensor(spec["name"], values, spec["datatype"], raw))
            result = await client.infer(request("shop", inputs, raw), headers=auth)
            labels = result.get_output_by_name("output_label")
            probabilities = result.get_output_by_name("output_probability")
            if labels is None or probabilities is None:
                fail(f"{form}: outputs {[o.name for o in result.outputs]}")
            labels, probabilities = labels.as_numpy(), probabilities.as_numpy()
            if list(labels) != golden["outputs"][0]["data"][:n]:
                fail(f"{form}: labels {labels} vs onnxruntime's {golden['outputs'][0]['data'][:n]}")
            if probabilities.shape != (n, 2) or not np.allclose(probabilities.reshape(-1), golden["outputs"][1]["data"][: n * 2], atol=1e-5):
                fail(f"{form}: probabilities {probabilities} vs onnxruntime's")
            print(f"kserve ({form}): the ONNX pipeline's labels and probabilities equal onnxruntime's on {n} rows with BYTES inputs")

        # Errors: the HTTP API's messages as gRPC status codes.
        async def status(call):
            try:
                await call()
            except grpc.RpcError as error:
                return error.code(), error.details()
            return None, None

        def fraud(values, model="fraud"):
            return request(model, [tensor("input", values, "FP32", True)], True)

        narrow, good = np.zeros((1, 2), dtype=np.float32), np.zeros((1, 12), dtype=np.float32)
        cases = [
            (lambda: client.infer(fraud(narrow), headers=auth), grpc.StatusCode.INVALID_ARGUMENT, "expected [N, 12]"),
            (lambda: client.infer(fraud(good, "nope"), headers=auth), grpc.StatusCode.NOT_FOUND, "model 'nope' is not registered"),
            (lambda: client.is_model_ready("nope", headers=auth), grpc.StatusCode.NOT_FOUND, "model 'nope' is not registered"),
            (lambda: client.infer(fraud(good)), grpc.StatusCode.UNAUTHENTICATED, "needs credentials"),
            (lambda: client.infer(fraud(good), headers=(("authorization", "Bearer fry_wrong_key"),)), grpc.StatusCode.UNAUTHENTICATED,
             "unknown, expired or revoked"),
        ]
        for call, code, message in cases:
            got_code, got_message = await status(call)
            if got_code != code or message not in (got_message or ""):
                fail(f"expected {code} '{message}', got {got_code} '{got_message}'")
        print("kserve: bad input, unknown models and missing or wrong keys get the right status and message")


asyncio.run(main())

"""Request builder and correctness check for benchmarks/grpc/run.sh.

  grpc_client.py body  REQUEST_JSON OUT_BIN [--raw]
      Builds ONE Open Inference Protocol ModelInferRequest (model 'fraud') from the V2 REST body REQUEST_JSON and
      writes it framed as a gRPC message (1 byte compressed flag 0, 4-byte big-endian length, the protobuf bytes)
      to OUT_BIN: the exact body h2load sends. Inputs go as FP32 typed contents (`contents.fp32_contents`), or with
      --raw as little-endian `raw_input_contents`.

  grpc_client.py expected REQUEST_JSON EXPECTED_JSON
      Prints the probability EXPECTED_JSON (examples/fraud/expected.json) gives for the request's one row.

  grpc_client.py check HOST:PORT BODY_BIN REQUEST_JSON EXPECTED_JSON
      Sends the bytes of BODY_BIN, unchanged, to inference.GRPCInferenceService/ModelInfer with grpcio, and fails
      (exit 1, message on stderr) unless the call ends with grpc-status 0 and the output `predict` equals the
      probability examples/fraud/expected.json gives for the request's row (within 1e-5). Prints one JSON line:
      {"predict": ..., "expected": ..., "response_bytes": N} where N is the framed response message size (the DATA
      bytes one successful answer carries, which run.sh compares with h2load's data traffic).

The protobuf classes are MLServer's generated `dataplane_pb2` (package `inference`, the same KServe V2 proto as
Protos/grpc_predict_v2.proto), from the venv benchmarks/serve/requirements.txt builds.
"""
import json
import math
import struct
import sys

import numpy as np

from mlserver.grpc import dataplane_pb2 as pb

MODEL = "fraud"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
TOLERANCE = 1e-5


def die(message):
    print(f"grpc_client.py: {message}", file=sys.stderr)
    sys.exit(1)


def load_request(path):
    body = json.load(open(path))
    inputs = body.get("inputs") or die(f"{path}: no inputs")
    if len(inputs) != 1:
        die(f"{path}: expected one input tensor, got {len(inputs)}")
    tensor = inputs[0]
    if tensor.get("datatype") != "FP32":
        die(f"{path}: input datatype {tensor.get('datatype')}, expected FP32")
    data = [math.nan if v is None else float(v) for v in tensor["data"]]
    shape = [int(s) for s in tensor["shape"]]
    if math.prod(shape) != len(data):
        die(f"{path}: shape {shape} does not match {len(data)} values")
    return tensor["name"], shape, data


def build(request_json, out_bin, raw):
    name, shape, data = load_request(request_json)
    request = pb.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add(name=name, datatype="FP32", shape=shape)
    if raw:
        request.raw_input_contents.append(np.asarray(data, dtype="<f4").tobytes())
    else:
        tensor.contents.fp32_contents.extend(data)
    message = request.SerializeToString()
    with open(out_bin, "wb") as fh:
        fh.write(struct.pack(">BI", 0, len(message)) + message)
    print(json.dumps({"request_bytes": len(message) + 5, "input": name, "shape": shape,
                      "encoding": "raw_input_contents" if raw else "fp32_contents"}))


def expected_probability(request_json, expected_json):
    _, shape, data = load_request(request_json)
    if shape[0] != 1:
        die(f"{request_json}: expected one row, got shape {shape}")
    expected = json.load(open(expected_json))
    for row, probability in zip(expected["rows"], expected["probabilities"]):
        values = [math.nan if v is None else float(v) for v in row]
        if len(values) == len(data) and all(
            (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(values, data)
        ):
            return probability
    die(f"the row of {request_json} is not one of {expected_json}'s rows, so there is no expected answer")


def output_values(response, index):
    tensor = response.outputs[index]
    if len(response.raw_output_contents) > index:
        dtype = {"FP32": "<f4", "FP64": "<f8"}.get(tensor.datatype) or die(f"output datatype {tensor.datatype}")
        return np.frombuffer(response.raw_output_contents[index], dtype=dtype).astype(np.float64)
    contents = tensor.contents
    values = list(contents.fp32_contents) or list(contents.fp64_contents)
    return np.asarray(values, dtype=np.float64)


def check(target, body_bin, request_json, expected_json):
    import grpc

    want = expected_probability(request_json, expected_json)
    framed = open(body_bin, "rb").read()
    flag, length = struct.unpack(">BI", framed[:5])
    if flag != 0 or length != len(framed) - 5:
        die(f"{body_bin} is not one uncompressed gRPC message")
    message = framed[5:]
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        try:
            raw_answer, status = call.with_call(message, timeout=30)
        except grpc.RpcError as error:
            die(f"{target}: ModelInfer failed with grpc-status {error.code().value[0]} ({error.code().name}): "
                f"{error.details()}")
        if status.code() != grpc.StatusCode.OK:
            die(f"{target}: grpc-status {status.code()}")
    response = pb.ModelInferResponse.FromString(raw_answer)
    names = [o.name for o in response.outputs]
    if "predict" not in names:
        die(f"{target}: no output 'predict' in the answer (outputs {names})")
    got = output_values(response, names.index("predict"))
    if got.shape != (1,) or not abs(got[0] - want) <= TOLERANCE:
        die(f"{target}: predict = {got.tolist()}, expected [{want}] (tolerance {TOLERANCE})")
    print(json.dumps({"predict": float(got[0]), "expected": want, "outputs": names,
                      "response_bytes": len(raw_answer) + 5}))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "body":
        build(args[1], args[2], raw="--raw" in args[3:])
    elif len(args) == 3 and args[0] == "expected":
        print(repr(expected_probability(args[1], args[2])))
    elif len(args) == 5 and args[0] == "check":
        check(*args[1:])
    else:
        die(__doc__)

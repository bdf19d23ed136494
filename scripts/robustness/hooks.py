"""Schemathesis hook for fuzz.sh: adds valid example bodies to the document the server serves.

Ferry's document types tensors and rows loosely (any shape, any datatype, any list), so generated inference
requests almost never fit the example model's 12 features and stop at validation. With one valid example per
body, the examples phase runs real inference and the coverage phase mutates one field of a valid request at a
time, which is what reaches the runtimes, the prediction log, drift and feedback matching.
"""
import json
import os
from pathlib import Path

import schemathesis

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fraud"
V2 = json.loads((EXAMPLES / "request.json").read_text())
V1 = json.loads((EXAMPLES / "request-v1.json").read_text())


def example_for(path: str):
    if path.endswith("/infer"):
        return V2
    if path.endswith((":predict", ":explain", "/reference")):
        return V1
    if path == "/api/v1/feedback":
        return {"prediction_id": os.environ["FUZZ_PREDICTION_ID"], "row": 0, "label": 1}
    return None


@schemathesis.hook
def before_load_schema(context, raw_schema):
    for path, operations in raw_schema["paths"].items():
        example = example_for(path)
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json") if isinstance(operation, dict) else None
            if example is not None and body is not None:
                body["example"] = example


@schemathesis.hook
def before_call(context, case, kwargs):
    # Archive only the spare version 2 of the example model: archiving version 1 (or what 'production' names)
    # would turn every later inference into a 404/409 and leave the runtimes unfuzzed for the rest of the run.
    if case.operation.path.endswith("/archive") and case.path_parameters.get("name") == "fraud":
        case.path_parameters["version"] = "2"
    # Revoking the key the fuzzer authenticates with (after it created other admin keys) would turn the rest of
    # the run into 401s; revoke a missing id instead.
    if case.operation.path == "/api/v1/keys/{id}" and case.path_parameters.get("id") == "fry_fuzzfuzz":
        case.path_parameters["id"] = "fry_missing0"

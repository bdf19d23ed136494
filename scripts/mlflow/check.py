"""Checks of what Ferry made of an MLflow training run: examples/mlflow/train.py runs first, unchanged, then its run,
model and registered version are read back with MLflow's client and plain HTTP: Ferry serves the version with the
library's probabilities, MLflow reads back what it logged, and errors arrive as MLflow's own. FERRY_VIEWER_KEY is a
read-only key. Run by scripts/mlflow/run.sh, which sets MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 so that a server error
fails at once instead of being retried for minutes.
"""
import os
import runpy
import sys

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

trained = runpy.run_path(os.path.join(os.path.dirname(__file__), "../../examples/mlflow/train.py"))
model, model_info, X, run, version, auc, params = (
    trained[k] for k in ("model", "model_info", "X", "run", "version", "auc", "params"))

URI = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
ADMIN = os.environ["MLFLOW_TRACKING_TOKEN"]
results = []


def check(name, fn):
    try:
        detail = fn()
        results.append(True)
        print(f"PASS  {name}" + (f": {detail}" if detail else ""), flush=True)
    except Exception as e:  # noqa: BLE001
        results.append(False)
        print(f"FAIL  {name}: {type(e).__name__}: {e}", flush=True)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def mlflow_error(code, call):
    try:
        call()
    except MlflowException as e:
        expect(e.error_code == code, f"error_code {e.error_code}, expected {code}: {e.message}")
        return e.message[:110]
    raise AssertionError(f"no error raised, expected {code}")


client = MlflowClient()
run_id, exp_id = run.info.run_id, run.info.experiment_id
rows = X.iloc[:5]


def open_inference():
    auth = {"Authorization": f"Bearer {ADMIN}"}
    base = f"{URI}/v2/models/fraud-mlflow/versions/{version}"
    meta = requests.get(base, headers=auth, timeout=10)
    expect(meta.status_code == 200, f"metadata: {meta.status_code} {meta.text}")
    meta = meta.json()
    expect(meta["parameters"]["features"] == list(X.columns), f"features {meta['parameters'].get('features')}")
    (tensor,), (output,) = meta["inputs"], meta["outputs"]
    expect(tensor["shape"] == [-1, 6], f"input shape {tensor['shape']}")
    body = {"inputs": [{"name": tensor["name"], "datatype": tensor["datatype"], "shape": [5, 6],
                        "data": rows.to_numpy().ravel().tolist()}]}
    answer = requests.post(f"{base}/infer", json=body, headers=auth, timeout=10)
    expect(answer.status_code == 200, f"infer: {answer.status_code} {answer.text}")
    got = next(o for o in answer.json()["outputs"] if o["name"] == output["name"])["data"]
    want = model.predict_proba(rows)[:, 1]
    expect(np.allclose(got, want, rtol=0, atol=1e-5), f"{got} != {want.tolist()}")
    return f"{tensor['name']} {tensor['datatype']}[5,6] -> {output['name']} = predict_proba within 1e-5"


def pyfunc_champion():
    loaded = mlflow.pyfunc.load_model("models:/fraud-mlflow@champion")
    got, want = np.asarray(loaded.predict(rows)).ravel(), model.predict(rows)
    expect(np.array_equal(got.astype(int), want.astype(int)), f"{got} != {want}")
    return f"predict -> {got.tolist()}"


def search_runs():
    last = client.get_metric_history(run_id, "val_logloss")[-1].value
    found = client.search_runs([exp_id], f"metrics.val_logloss < {last + 0.01} and params.max_depth = '4'",
                               order_by=["metrics.val_logloss DESC"])
    expect(run_id in [r.info.run_id for r in found], f"run {run_id} not in {[r.info.run_id for r in found]}")
    missed = client.search_runs([exp_id], f"metrics.val_logloss < {last - 0.01} and params.max_depth = '4'")
    expect(run_id not in [r.info.run_id for r in missed], "the filter did not exclude the run")
    return f"{len(found)} run(s) with val_logloss < {last + 0.01:.4f}"


def metric_history():
    history = client.get_metric_history(run_id, "val_logloss")
    expect([m.step for m in history] == list(range(20)), [m.step for m in history])
    expect([m.value for m in history] == model.evals_result()["validation_0"]["logloss"], "values differ")
    logged = client.get_run(run_id).data
    expect(logged.params == {k: str(v) for k, v in params.items()}, logged.params)
    expect(logged.tags.get("team") == "risk", logged.tags)
    expect("data_notes.txt" in [a.path for a in client.list_artifacts(run_id)], "data_notes.txt not listed")
    return f"{len(history)} steps; params, tag and artifact read back"


def model_version():
    mv = client.get_model_version("fraud-mlflow", version)
    expect(mv.run_id == run_id, f"run_id {mv.run_id!r}, expected {run_id}")
    expect(mv.status == "READY", mv.status)
    expect(client.get_model_version_by_alias("fraud-mlflow", "champion").version == version, "alias")
    uri = client.get_model_version_download_uri("fraud-mlflow", version)
    expect(uri == client.get_logged_model(model_info.model_id).artifact_location, f"download uri {uri}")
    files = [os.path.basename(a.path) for a in mlflow.artifacts.list_artifacts(artifact_uri=uri)]
    expect("MLmodel" in files and "model.ubj" in files, files)
    mlmodel = mlflow.artifacts.load_text(f"{uri}/MLmodel")
    expect(f"run_id: {run_id}" in mlmodel, "the downloaded MLmodel does not name the run")
    return f"run_id matches; {uri} holds {sorted(files)}"


def viewer_cannot_log():
    os.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["FERRY_VIEWER_KEY"]
    try:
        viewer = MlflowClient()
        expect(viewer.get_run(run_id).info.run_id == run_id, "the viewer cannot read the run")
        return mlflow_error("PERMISSION_DENIED", lambda: viewer.create_experiment("x"))
    finally:
        os.environ["MLFLOW_TRACKING_TOKEN"] = ADMIN


check("Open Inference Protocol infer on the registered version", open_inference)
check("pyfunc.load_model('models:/fraud-mlflow@champion').predict", pyfunc_champion)
check("search_runs with a metric and param filter, ordered", search_runs)
check("get_metric_history returns every step", metric_history)
check("the model version names the run; its download uri works", model_version)
check("get_run of an unknown id -> RESOURCE_DOES_NOT_EXIST",
      lambda: mlflow_error("RESOURCE_DOES_NOT_EXIST", lambda: client.get_run("does-not-exist")))
check("creating the experiment again -> RESOURCE_ALREADY_EXISTS",
      lambda: mlflow_error("RESOURCE_ALREADY_EXISTS", lambda: client.create_experiment("fraud-training")))
check("changing a logged param -> INVALID_PARAMETER_VALUE",
      lambda: mlflow_error("INVALID_PARAMETER_VALUE", lambda: client.log_param(run_id, "max_depth", 7)))
check("a viewer key reads but cannot log -> PERMISSION_DENIED", viewer_cannot_log)

print(f"{results.count(True)} passed, {results.count(False)} failed")
sys.exit(0 if all(results) else 1)

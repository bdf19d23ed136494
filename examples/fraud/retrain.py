#!/usr/bin/env python3
"""Retrain the fraud example model on production data: the trainer of a Ferry retraining policy.

Ferry runs it with, in its environment:

  FERRY_TRAINING_DATA     CSV of the served version's newest labelled predictions: a header of the model's feature
                          names then `label`, one row per prediction; an empty cell is a missing value
  FERRY_OUTPUT_DIR        where to write the model (here one XGBoost model.json)
  FERRY_MODEL, FERRY_JOB_ID, FERRY_CHAMPION_VERSION, MLFLOW_TRACKING_URI

It trains a binary:logistic booster (deterministic: fixed seed, nthread=1) on every row, saves model.json with the
CSV's feature names in the CSV's order (Ferry registers only a model whose inputs are the champion's), and prints a
short summary. Ferry itself judges the model against the champion on the rows it held out. When the `mlflow`
package is installed and MLFLOW_TRACKING_URI is set, the run is also logged (experiment "fraud-retraining"); a
failure to log never fails the training.

    ferry serve --example examples/fraud --trainer python3
    ferry retrain policy set fraud --metric roc_auc --min-improvement 0.01 -- python3 examples/fraud/retrain.py
    ferry retrain run fraud --wait

Outside Ferry: FERRY_TRAINING_DATA=window.csv FERRY_OUTPUT_DIR=out python3 examples/fraud/retrain.py, with a CSV of
the same shape (every column but `label` is a feature).
Needs numpy and xgboost (pip install -r scripts/retrain/requirements.txt).
"""

import csv
import math
import os
import sys

import numpy as np
import xgboost as xgb

SEED = 20240607
PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 4,
    "eta": 0.1,
    "tree_method": "hist",
    "seed": SEED,
    "nthread": 1,
    "eval_metric": "logloss",
}
ROUNDS = 60


def read_csv(path):
    """Feature names, X (float32, NaN for an empty cell) and y (0/1) of the training CSV."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or "label" not in header:
            sys.exit(f"{path}: expected a header of feature names and a 'label' column, got {header}")
        features = [i for i, name in enumerate(header) if name != "label"]
        label = header.index("label")
        rows, labels = [], []
        for n, cells in enumerate(reader, start=2):
            if not cells:
                continue
            try:
                rows.append([float(cells[i]) if cells[i] != "" else math.nan for i in features])
                labels.append(float(cells[label]))
            except (ValueError, IndexError) as e:
                sys.exit(f"{path} line {n}: {e}")
    y = np.asarray(labels)
    if not np.isin(y, (0.0, 1.0)).all():
        sys.exit(f"{path}: labels must be 0 or 1 for this binary classifier")
    X = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(features))
    return [header[i] for i in features], X, y.astype(np.int32)


def roc_auc(y, scores):
    """ROC AUC with tied scores sharing their average rank (scikit-learn's value)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(sorted_scores):
        j = i
        while j + 1 < len(sorted_scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    return (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def log_to_mlflow(rows, positive_rate, train_auc):
    """Logs the run when mlflow is installed and a tracking server is given; never raises."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return
    try:
        import mlflow
    except ImportError:
        return
    try:
        # No retry storm against a server that refuses (no MLFLOW_TRACKING_TOKEN, say): fail fast, train anyway.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        mlflow.set_experiment("fraud-retraining")
        with mlflow.start_run(run_name=os.environ.get("FERRY_JOB_ID", "retrain")):
            mlflow.log_params({**PARAMS, "rounds": ROUNDS, "champion_version": os.environ.get("FERRY_CHAMPION_VERSION", "")})
            mlflow.log_metrics({"rows": rows, "positive_rate": positive_rate, "train_auc": train_auc})
        print("logged the run to MLflow experiment fraud-retraining")
    except Exception as e:  # noqa: BLE001 - logging is optional
        print(f"MLflow logging skipped: {e}")


def main():
    data = os.environ.get("FERRY_TRAINING_DATA")
    out = os.environ.get("FERRY_OUTPUT_DIR")
    if not data or not out:
        sys.exit("set FERRY_TRAINING_DATA (the training CSV) and FERRY_OUTPUT_DIR (where model.json goes)")
    names, X, y = read_csv(data)
    if len(y) == 0 or y.min() == y.max():
        sys.exit(f"{data}: {len(y)} rows with a single class; need both labels to train")

    dtrain = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=names)
    booster = xgb.train(PARAMS, dtrain, num_boost_round=ROUNDS)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.json")
    booster.save_model(path)

    train_auc = roc_auc(y, booster.predict(dtrain))
    positive_rate = float(y.mean())
    if os.environ.get("FERRY_JOB_ID"):
        print(f"retraining {os.environ.get('FERRY_MODEL', '?')} in job {os.environ['FERRY_JOB_ID']} "
              f"(champion version {os.environ.get('FERRY_CHAMPION_VERSION', '?')})")
    print(f"trained on {len(y)} rows, {len(names)} features, positive rate {positive_rate:.4f}, "
          f"{ROUNDS} trees of depth {PARAMS['max_depth']}: train AUC {train_auc:.4f}")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    log_to_mlflow(len(y), positive_rate, train_auc)


if __name__ == "__main__":
    main()

"""Train a fraud classifier and log it to an MLflow tracking server: here, Ferry.

An ordinary MLflow training script: it knows only MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN. It logs a run (params,
a metric per boosting round, AUC and accuracy, a tag and a file), logs the XGBoost model with its signature, registers
it as fraud-mlflow and points the alias champion at the new version. Against Ferry, the version is then served on
/v2/models/fraud-mlflow, and the run is its lineage.

    export MLFLOW_TRACKING_URI=http://127.0.0.1:8080 MLFLOW_TRACKING_TOKEN=$FERRY_API_KEY
    python examples/mlflow/train.py        # pip install -r scripts/mlflow/requirements.txt
"""
import os
import tempfile

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

rng = np.random.default_rng(42)
X = pd.DataFrame(rng.normal(size=(2000, 6)), columns=[f"f{i}" for i in range(6)])
y = ((X.f0 + 0.8 * X.f1 - X.f2 * X.f3 + 0.3 * rng.normal(size=len(X))) > 0.5).astype(int)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)
params = {"n_estimators": 20, "max_depth": 4, "learning_rate": 0.3, "objective": "binary:logistic"}

mlflow.set_experiment("fraud-training")
with mlflow.start_run(run_name="xgb-baseline") as run:
    mlflow.log_params(params)
    mlflow.set_tag("team", "risk")
    model = XGBClassifier(**params, eval_metric="logloss", random_state=42)
    model.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    for step, loss in enumerate(model.evals_result()["validation_0"]["logloss"]):
        mlflow.log_metric("val_logloss", loss, step=step)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    mlflow.log_metrics({"val_auc": auc, "val_accuracy": float((model.predict(X_test) == y_test).mean())})
    notes = os.path.join(tempfile.mkdtemp(), "data_notes.txt")
    with open(notes, "w") as f:
        f.write(f"synthetic fraud data: {len(X)} rows, features {list(X.columns)}\n")
    mlflow.log_artifact(notes)
    model_info = mlflow.xgboost.log_model(model, name="model", input_example=X.iloc[:3])

version = mlflow.register_model(model_info.model_uri, "fraud-mlflow").version
MlflowClient().set_registered_model_alias("fraud-mlflow", "champion", version)
print(f"trained and registered fraud-mlflow version {version} from run {run.info.run_id} (val_auc {auc:.3f})")

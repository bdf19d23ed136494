"""Rows for scripts/retrain/run.sh: the example model's own distribution, and the same world after it changed.

`reference(n, seed)` draws transactions exactly as examples/fraud/train.py did for the model it trained (its
`make_data`), for the version's drift reference. `drifted(n, rng)` draws the changed world:

- prices went up: `amount` and `avg_amount_30d` are 2.5 times larger (so `amount` drifts far from the reference,
  PSI about 0.7, while `amount_zscore`, their ratio, keeps its distribution);
- the fraud pattern changed: risky merchants stopped being where the fraud is (the merchant score now lowers the
  odds as much as it raised them), and the fraud moved from the night to the afternoon (12:00-18:00). The rest of the
  old pattern stays, and so does the share of fraud (about 4.5%), so a model retrained on the new data ranks the
  rows much better than the example model (ROC AUC 0.85 against 0.76 on the held-out rows) while its scores keep
  about the old model's overall distribution (output PSI about 0.02): the canary's output_psi gate (at most 0.2 by
  default) compares the two, and a retrained model whose scores moved further would be rolled back.
"""

import importlib.util
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fraud_train", os.path.join(HERE, "..", "..", "examples", "fraud", "train.py"))
fraud_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fraud_train)

FEATURES = fraud_train.FEATURE_NAMES
COLUMN = {name: i for i, name in enumerate(FEATURES)}
PRICE_RISE = 2.5


def reference(n, seed):
    """Rows of the example model's training distribution (float32, NaN = missing)."""
    X, _ = fraud_train.make_data(n, np.random.default_rng(seed))
    return X


def drifted(n, rng):
    """Rows of the changed world and their labels: (X float32 [n, 12] with NaNs, y int [n])."""
    X, _ = fraud_train.make_data(n, rng)
    X = X.astype(np.float64)
    c = COLUMN
    X[:, c["amount"]] *= PRICE_RISE
    X[:, c["avg_amount_30d"]] *= PRICE_RISE
    X[:, c["amount_zscore"]] = (X[:, c["amount"]] - X[:, c["avg_amount_30d"]]) / (X[:, c["avg_amount_30d"]] * 0.9 + 1.0)
    hour = X[:, c["hour"]]
    distance = np.nan_to_num(X[:, c["distance_from_home_km"]], nan=0.0)
    card_age = np.nan_to_num(X[:, c["card_age_days"]], nan=500.0)
    logit = (
        -6.4
        + 2 * 4.0 * 0.158  # the merchant term's mean flipped from +0.63 to -0.63: the share of fraud stays put
        + 0.85 * np.clip(X[:, c["amount_zscore"]], -2.0, 6.0)
        + 0.9 * ((hour >= 12) & (hour < 18))
        - 4.0 * X[:, c["merchant_risk"]]
        + 1.4 * X[:, c["country_mismatch"]]
        + 1.1 * (card_age < 30)
        + 0.55 * np.minimum(X[:, c["tx_count_1h"]], 5.0)
        + 0.08 * np.minimum(X[:, c["tx_count_24h"]], 15.0)
        + 1.2 * np.log1p(distance) / np.log1p(1000.0)
        + 1.0 * X[:, c["device_new"]]
        + rng.normal(0.0, 0.5, size=n)
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int32)
    return X.astype(np.float32), y


def instances(X):
    """V1 instances: one list per row in feature order, null for a missing value, integers where whole."""
    out = []
    for row in X:
        cells = []
        for v in row.tolist():
            if v != v:
                cells.append(None)
            elif float(v).is_integer():
                cells.append(int(v))
            else:
                cells.append(v)
        out.append(cells)
    return out


def write_csv(path, X):
    """Header of feature names, then the rows (an empty cell for a missing value)."""
    with open(path, "w") as f:
        f.write(",".join(FEATURES) + "\n")
        for row in instances(X):
            f.write(",".join("" if v is None else repr(v) for v in row) + "\n")

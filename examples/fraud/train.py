#!/usr/bin/env python3
"""Train the Ferry fraud example model with the real xgboost library.

Generates synthetic, fraud-style tabular data (fixed seed, numpy only),
trains a binary:logistic booster and writes, next to this script:

  model.json        booster.save_model() JSON (with learner.feature_names)
  expected.json     20 rows + xgboost's own probabilities and margins
  request.json      1-row Open Inference Protocol V2 request
  request-v1.json   V1 "instances" request (one object row, one array row)
  rows.csv          header + 5 rows (empty cell = missing)

Regenerate (from the repo root):
  python3 -m venv .venv-fixtures
  .venv-fixtures/bin/pip install -r examples/fraud/requirements.txt
  .venv-fixtures/bin/python examples/fraud/train.py

All outputs are deterministic (fixed seeds, nthread=1).
"""

import json
import math
import os

import numpy as np
import xgboost as xgb

SEED = 20240607
HERE = os.path.dirname(os.path.abspath(__file__))

FEATURE_NAMES = [
    "amount",
    "amount_zscore",
    "hour",
    "is_night",
    "merchant_risk",
    "country_mismatch",
    "card_age_days",
    "tx_count_1h",
    "tx_count_24h",
    "avg_amount_30d",
    "distance_from_home_km",
    "device_new",
]


def make_data(n, rng):
    """Synthetic transactions. Returns (X float32 [n,12] with NaNs, y int [n])."""
    avg_amount_30d = rng.lognormal(mean=3.6, sigma=0.6, size=n)
    amount = avg_amount_30d * rng.lognormal(mean=0.0, sigma=0.8, size=n)
    amount_std = avg_amount_30d * 0.9 + 1.0
    amount_zscore = (amount - avg_amount_30d) / amount_std
    hour = rng.integers(0, 24, size=n).astype(np.float64)
    is_night = ((hour >= 23) | (hour < 6)).astype(np.float64)
    merchant_risk = rng.beta(1.5, 8.0, size=n)
    country_mismatch = (rng.random(n) < 0.06).astype(np.float64)
    card_age_days = np.floor(rng.exponential(scale=500.0, size=n))
    tx_count_24h = rng.poisson(lam=3.0, size=n).astype(np.float64)
    tx_count_1h = np.minimum(rng.poisson(lam=0.4, size=n), tx_count_24h).astype(np.float64)
    distance_from_home_km = rng.lognormal(mean=2.0, sigma=1.4, size=n)
    device_new = (rng.random(n) < 0.08).astype(np.float64)

    # Latent fraud score: plausible, monotone-ish effects.
    logit = (
        -6.4
        + 0.85 * np.clip(amount_zscore, -2.0, 6.0)
        + 0.9 * is_night
        + 4.0 * merchant_risk
        + 1.4 * country_mismatch
        + 1.1 * (card_age_days < 30)
        + 0.55 * np.minimum(tx_count_1h, 5.0)
        + 0.08 * np.minimum(tx_count_24h, 15.0)
        + 0.6 * np.log1p(distance_from_home_km) / np.log1p(1000.0) * 2.0
        + 1.0 * device_new
        + rng.normal(0.0, 0.5, size=n)
    )
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(np.int32)

    X = np.column_stack(
        [
            amount,
            amount_zscore,
            hour,
            is_night,
            merchant_risk,
            country_mismatch,
            card_age_days,
            tx_count_1h,
            tx_count_24h,
            avg_amount_30d,
            distance_from_home_km,
            device_new,
        ]
    ).astype(np.float32)

    # ~2% missing values in two features so missing-value routing is exercised.
    for name in ("card_age_days", "distance_from_home_km"):
        j = FEATURE_NAMES.index(name)
        mask = rng.random(n) < 0.02
        X[mask, j] = np.nan
    return X, y


def f32(v):
    """Shortest repr that round-trips the float32 value exactly; None for NaN."""
    v = float(np.float32(v))
    if math.isnan(v):
        return None
    return v


def dump_compact(obj):
    """JSON with one top-level key per line and one row per line."""
    lines = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], list):
            inner = ",\n    ".join(json.dumps(r) for r in v)
            lines.append(f"  {json.dumps(k)}: [\n    {inner}\n  ]")
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def num(v):
    """A JSON number for a (non-NaN) float32 feature value; ints stay ints."""
    v = float(np.float32(v))
    if v.is_integer():
        return int(v)
    return v


def main():
    rng = np.random.default_rng(SEED)
    X_train, y_train = make_data(20000, rng)
    X_test, _ = make_data(2000, rng)
    print(f"train rows={len(y_train)} positives={y_train.mean():.4f}")

    dtrain = xgb.DMatrix(X_train, label=y_train, missing=np.nan, feature_names=FEATURE_NAMES)
    params = {
        "objective": "binary:logistic",
        "max_depth": 5,
        "eta": 0.1,
        "tree_method": "hist",
        "seed": SEED,
        "nthread": 1,
        "eval_metric": "logloss",
    }
    booster = xgb.train(params, dtrain, num_boost_round=100)
    model_path = os.path.join(HERE, "model.json")
    booster.save_model(model_path)
    print(f"wrote {model_path} ({os.path.getsize(model_path)} bytes)")

    # 20 expected rows: the first rows of the test set that contain a NaN
    # (6 of them), then plain rows, then the highest-risk rows so the
    # probabilities are not all tiny.
    nan_rows = np.where(np.isnan(X_test).any(axis=1))[0][:6]
    dtest_all = xgb.DMatrix(X_test, missing=np.nan, feature_names=FEATURE_NAMES)
    p_all = booster.predict(dtest_all)
    top = [i for i in np.argsort(-p_all, kind="stable") if i not in set(nan_rows)][:5]
    plain = [i for i in range(len(X_test)) if i not in set(nan_rows) and i not in set(top)][:9]
    idx = list(nan_rows) + plain + top
    assert len(idx) == 20
    rows = X_test[idx]

    dexp = xgb.DMatrix(rows, missing=np.nan, feature_names=FEATURE_NAMES)
    probs = booster.predict(dexp)
    margins = booster.predict(dexp, output_margin=True)
    expected = {
        "xgboost_version": xgb.__version__,
        "objective": "binary:logistic",
        "feature_names": FEATURE_NAMES,
        "rows": [[f32(v) for v in r] for r in rows],
        "probabilities": [f32(v) for v in probs],
        "margins": [f32(v) for v in margins],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        f.write(dump_compact(expected))

    # Requests use rows without NaN.
    clean = [r for r in rows if not np.isnan(r).any()]
    req_row = clean[-1]  # a high-risk row
    v2 = {
        "inputs": [
            {
                "name": "input",
                "shape": [1, len(FEATURE_NAMES)],
                "datatype": "FP32",
                "data": [num(v) for v in req_row],
            }
        ]
    }
    with open(os.path.join(HERE, "request.json"), "w") as f:
        json.dump(v2, f, indent=2)
        f.write("\n")

    v1 = {
        "instances": [
            {name: num(v) for name, v in zip(FEATURE_NAMES, req_row)},
            [num(v) for v in clean[0]],
        ]
    }
    with open(os.path.join(HERE, "request-v1.json"), "w") as f:
        json.dump(v1, f, indent=2)
        f.write("\n")

    # rows.csv: 5 rows, the first two contain missing values (empty cells).
    csv_rows = [rows[0], rows[1], clean[0], clean[1], clean[-1]]
    with open(os.path.join(HERE, "rows.csv"), "w") as f:
        f.write(",".join(FEATURE_NAMES) + "\n")
        for r in csv_rows:
            cells = ["" if np.isnan(v) else repr(num(v)) for v in r]
            f.write(",".join(cells) + "\n")
    print("wrote expected.json, request.json, request-v1.json, rows.csv")


if __name__ == "__main__":
    main()

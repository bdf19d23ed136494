"""Writes DISTINCT different XGBoost models (binary:logistic, TREES trees of depth DEPTH, the 12 features of
examples/fraud) as JSON to OUT_DIR/model-NN.json, each from its own seed and synthetic data. Reuses the files when
OUT_DIR/meta.json says they were made with the same parameters.

    python make_models.py OUT_DIR DISTINCT TREES DEPTH
"""
import json
import os
import sys

import numpy as np
import xgboost as xgb

# The feature names of examples/fraud/model.json, so its request.json (12 FP32 values) fits every model.
FEATURES = ["amount", "amount_zscore", "hour", "is_night", "merchant_risk", "country_mismatch", "card_age_days",
            "tx_count_1h", "tx_count_24h", "avg_amount_30d", "distance_from_home_km", "device_new"]
ROWS = 4000


def main() -> None:
    out, distinct, trees, depth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    want = {"distinct": distinct, "trees": trees, "depth": depth, "rows": ROWS, "xgboost": xgb.__version__}
    meta_path = os.path.join(out, "meta.json")
    paths = [os.path.join(out, f"model-{i:02d}.json") for i in range(distinct)]
    try:
        if json.load(open(meta_path))["params"] == want and all(os.path.exists(p) for p in paths):
            print(json.dumps(json.load(open(meta_path))))
            return
    except (OSError, ValueError, KeyError):
        pass
    os.makedirs(out, exist_ok=True)
    sizes = []
    for i, path in enumerate(paths):
        rng = np.random.default_rng(1000 + i)
        # Feature scales roughly like the fraud example's; the label depends on a model-specific mix of features.
        scale = np.array([200, 3, 24, 1, 1, 1, 1000, 10, 50, 200, 500, 1], dtype=np.float32)
        x = (rng.random((ROWS, len(FEATURES)), dtype=np.float32) * scale).astype(np.float32)
        w = rng.normal(size=len(FEATURES)) / scale
        logit = (x - scale / 2) @ w * 4 + rng.normal(scale=0.5, size=ROWS)
        y = (logit > 0).astype(np.float32)
        d = xgb.DMatrix(x, label=y, feature_names=FEATURES)
        params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.1, "seed": i, "nthread": 1,
                  "subsample": 0.8, "colsample_bytree": 0.8}
        booster = xgb.train(params, d, num_boost_round=trees)
        booster.save_model(path)
        sizes.append(os.path.getsize(path))
    meta = {"params": want, "files": [os.path.basename(p) for p in paths], "bytes": sizes}
    json.dump(meta, open(meta_path, "w"), indent=2)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A ferry-bench-trees manifest for the examples/fraud model on real-shaped rows, shuffled.

    python make_fraud_manifest.py INPUT_CSV OUT_DIR [ROWS]

Reads the first ROWS (default all) rows of INPUT_CSV (benchmarks/jobs' rows-N.csv), shuffles them with a fixed seed
(the file cycles over 20 rows, a pattern a branch predictor learns), and writes OUT_DIR/rows.bin, ref.bin (xgboost's
own predictions), model.json and manifest.json. Run with the jobs venv (xgboost, pandas):

    benchmarks/.work/jobs-venv/bin/python benchmarks/trees/make_fraud_manifest.py \\
        benchmarks/.work/jobs/rows-1000000.csv /tmp/fraud-trees
    .build-release/release/ferry-bench-trees /tmp/fraud-trees/manifest.json
"""
import json
import os
import shutil
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "fraud", "model.json")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    source, out = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) == 4 else None
    os.makedirs(out, exist_ok=True)
    booster = xgb.Booster(model_file=MODEL)
    x = pd.read_csv(source, nrows=rows)[booster.feature_names].to_numpy(dtype=np.float64)
    x = np.ascontiguousarray(x[np.random.default_rng(1).permutation(len(x))])
    x.tofile(os.path.join(out, "rows.bin"))
    booster.inplace_predict(x).astype(np.float64).tofile(os.path.join(out, "ref.bin"))
    shutil.copyfile(MODEL, os.path.join(out, "model.json"))
    manifest = {"models": [{
        "name": "fraud", "file": "model.json", "format": "xgboost-json", "features": x.shape[1],
        "rows_file": "rows.bin", "rows": x.shape[0], "reference_file": "ref.bin", "file_bytes": os.path.getsize(MODEL),
    }]}
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the models and evaluation rows for the tree-inference benchmark.

    python benchmarks/trees/make_models.py OUTDIR

Everything is deterministic: synthetic data from fixed numpy seeds, and
training with a fixed thread count and seeds. Writes into OUTDIR:

  <model>.json / <model>.txt   XGBoost JSON (booster.save_model) / LightGBM text model
  <model>.pred.bin             the library's own predictions (probability of class 1)
                               for every row of the model's rows file, float64 LE
  rows_f30.bin, rows_f200.bin  evaluation rows: float64 little-endian, row-major,
                               no header; about 1% of the values are NaN
  manifest.json                describes all of the above (schema: see README / below)

manifest.json paths are relative to the directory that holds manifest.json.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

SCHEMA_VERSION = 1
TRAIN_ROWS = 50_000
EVAL_ROWS = 100_000
NAN_FRACTION = 0.01
TRAIN_THREADS = 2  # fixed, so the trained models do not depend on the machine's core count

MODELS = [
    # name, library, features, trees, depth (xgboost max_depth) / leaves (lightgbm num_leaves)
    {"name": "xgb_100x6_f30", "library": "xgboost", "features": 30, "trees": 100, "max_depth": 6},
    {"name": "xgb_100x6_f200", "library": "xgboost", "features": 200, "trees": 100, "max_depth": 6},
    {"name": "xgb_500x8_f30", "library": "xgboost", "features": 30, "trees": 500, "max_depth": 8},
    {"name": "xgb_500x8_f200", "library": "xgboost", "features": 200, "trees": 500, "max_depth": 8},
    {"name": "lgb_255_f30", "library": "lightgbm", "features": 30, "trees": 100, "num_leaves": 255},
    {"name": "lgb_255_f200", "library": "lightgbm", "features": 200, "trees": 100, "num_leaves": 255},
]


# ---------------------------------------------------------------- data
def draw_features(rng: np.random.Generator, n: int, f: int) -> np.ndarray:
    """Mixed feature kinds: a quarter uniform [0,1), a quarter small integer counts,
    a quarter lognormal (heavy tail), the rest standard normal. ~1% NaN."""
    x = np.empty((n, f), dtype=np.float64)
    q = f // 4
    x[:, :q] = rng.random((n, q))
    x[:, q:2 * q] = rng.poisson(3.0, (n, q)).astype(np.float64)
    x[:, 2 * q:3 * q] = rng.lognormal(0.0, 1.0, (n, q))
    x[:, 3 * q:] = rng.standard_normal((n, f - 3 * q))
    x[rng.random((n, f)) < NAN_FRACTION] = np.nan
    return x


def make_truth(f: int):
    """A fixed nonlinear logit over up to 24 informative features (plus interactions)."""
    rng = np.random.default_rng(7_000 + f)
    k = min(f, 24)
    idx = rng.choice(f, size=k, replace=False)
    w = rng.normal(0.0, 1.0, k)
    pairs = rng.choice(k, size=(8, 2))
    pw = rng.normal(0.0, 0.7, 8)
    # fixed per-column location/scale, from a fixed sample of the same distribution
    ref = np.nan_to_num(draw_features(np.random.default_rng(8_000 + f), 4_000, f)[:, idx], nan=0.0)
    loc, scale = np.median(ref, axis=0), ref.std(axis=0) + 1e-9

    def logit(x: np.ndarray) -> np.ndarray:
        z = np.tanh((np.nan_to_num(x[:, idx], nan=0.0) - loc) / scale)
        s = z @ w + np.sin(3.0 * z[:, 0]) + (z[:, 1] > 0.3) * 1.5 - (z[:, 2] < -0.5) * 1.0
        for (a, b), c in zip(pairs, pw):
            s += c * z[:, a] * z[:, b]
        return s

    return logit


def make_dataset(f: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = draw_features(rng, n, f)
    logit = make_truth(f)(x)
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(np.float64)  # noisy labels, so trees keep splitting
    return x, y


# ---------------------------------------------------------------- tree statistics
def xgb_tree_stats(path: str):
    with open(path) as fh:
        trees = json.load(fh)["learner"]["gradient_booster"]["model"]["trees"]
    leaves, depths, nodes = [], [], 0
    for t in trees:
        left, right = t["left_children"], t["right_children"]
        nodes += len(left)
        leaves.append(sum(1 for c in left if c == -1))
        best, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            if left[node] == -1:
                best = max(best, d)
            else:
                stack += [(left[node], d + 1), (right[node], d + 1)]
        depths.append(best)
    return {"trees": len(trees), "total_nodes": nodes, "total_leaves": sum(leaves),
            "max_leaves_per_tree": max(leaves), "mean_leaves_per_tree": round(sum(leaves) / len(trees), 2),
            "max_tree_depth": max(depths)}


def lgb_tree_stats(booster):
    info = booster.dump_model()["tree_info"]
    leaves, depths = [], []
    for t in info:
        leaves.append(t["num_leaves"])
        best, stack = 0, [(t["tree_structure"], 0)]
        while stack:
            node, d = stack.pop()
            if "leaf_index" in node or "split_index" not in node:
                best = max(best, d)
            else:
                stack += [(node["left_child"], d + 1), (node["right_child"], d + 1)]
        depths.append(best)
    return {"trees": len(info), "total_nodes": sum(2 * n - 1 for n in leaves), "total_leaves": sum(leaves),
            "max_leaves_per_tree": max(leaves), "mean_leaves_per_tree": round(sum(leaves) / len(info), 2),
            "max_tree_depth": max(depths)}


# ---------------------------------------------------------------- training
def train_xgb(spec, x, y, path):
    import xgboost as xgb
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": spec["max_depth"],
        "eta": 0.1,
        "min_child_weight": 0.1,
        "max_bin": 64,  # keeps xgb_500x8_f200 training under a minute on 2 cores
        "nthread": TRAIN_THREADS,
        "seed": 0,
    }
    booster = xgb.train(params, dtrain, num_boost_round=spec["trees"])
    booster.save_model(path)
    return booster, params


def train_lgb(spec, x, y, path):
    import lightgbm as lgb
    params = {
        "objective": "binary",
        "num_leaves": spec["num_leaves"],
        "learning_rate": 0.1,
        "min_data_in_leaf": 5,
        "min_sum_hessian_in_leaf": 1e-3,
        "max_bin": 255,
        "num_threads": TRAIN_THREADS,
        "deterministic": True,
        "force_col_wise": True,
        "seed": 0,
        "verbosity": -1,
    }
    dtrain = lgb.Dataset(x, label=y, params={"verbosity": -1})
    booster = lgb.train(params, dtrain, num_boost_round=spec["trees"])
    booster.save_model(path)
    return booster, params


def reference_predictions(spec, booster, rows):
    if spec["library"] == "xgboost":
        booster.set_param({"nthread": TRAIN_THREADS})
        return np.asarray(booster.inplace_predict(rows, missing=np.nan), dtype=np.float64)
    return np.asarray(booster.predict(rows, num_threads=TRAIN_THREADS), dtype=np.float64)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    import lightgbm
    import xgboost

    def log(msg):
        print(f"[make_models] {msg}", file=sys.stderr, flush=True)

    rows_files, rows_cache, train_cache = {}, {}, {}
    for f in sorted({m["features"] for m in MODELS}):
        name = f"rows_f{f}.bin"
        rows, _ = make_dataset(f, EVAL_ROWS, seed=20_000 + f)
        rows = np.ascontiguousarray(rows, dtype="<f8")
        rows.tofile(os.path.join(out, name))
        rows_cache[f] = rows
        rows_files[f] = {
            "file": name,
            "features": f,
            "rows": EVAL_ROWS,
            "dtype": "float64",
            "byte_order": "little",
            "layout": "row-major",
            "nan_fraction": round(float(np.isnan(rows).mean()), 5),
            "file_bytes": os.path.getsize(os.path.join(out, name)),
            "sha256": sha256(os.path.join(out, name)),
        }
        train_cache[f] = make_dataset(f, TRAIN_ROWS, seed=10_000 + f)
        log(f"{name}: {EVAL_ROWS} x {f}, NaN fraction {rows_files[f]['nan_fraction']}")

    models = []
    for spec in MODELS:
        f = spec["features"]
        x, y = train_cache[f]
        ext = ".json" if spec["library"] == "xgboost" else ".txt"
        fname = spec["name"] + ext
        path = os.path.join(out, fname)
        t0 = time.perf_counter()
        if spec["library"] == "xgboost":
            booster, params = train_xgb(spec, x, y, path)
            stats = xgb_tree_stats(path)
        else:
            booster, params = train_lgb(spec, x, y, path)
            stats = lgb_tree_stats(booster)
        train_s = time.perf_counter() - t0
        ref = reference_predictions(spec, booster, rows_cache[f])
        ref_name = spec["name"] + ".pred.bin"
        ref.astype("<f8").tofile(os.path.join(out, ref_name))
        entry = {
            "name": spec["name"],
            "file": fname,
            "format": "xgboost-json" if spec["library"] == "xgboost" else "lightgbm-text",
            "library": spec["library"],
            "objective": "binary:logistic" if spec["library"] == "xgboost" else "binary",
            "output": "probability",
            "features": f,
            "rows_file": rows_files[f]["file"],
            "rows": EVAL_ROWS,
            "reference_file": ref_name,
            "trees": spec["trees"],
            "max_depth": spec.get("max_depth"),
            "num_leaves": spec.get("num_leaves"),
            "file_bytes": os.path.getsize(path),
            "sha256": sha256(path),
            "stats": stats,
            "train_rows": TRAIN_ROWS,
            "train_seconds": round(train_s, 2),
            "train_params": params,
        }
        models.append(entry)
        log(f"{spec['name']}: {stats['trees']} trees, {stats['total_leaves']} leaves "
            f"(max {stats['max_leaves_per_tree']}/tree, max depth {stats['max_tree_depth']}), "
            f"{entry['file_bytes']} bytes, trained in {train_s:.1f}s")

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generator": "benchmarks/trees/make_models.py",
        "paths_relative_to": "manifest directory",
        "library_versions": {"numpy": np.__version__, "xgboost": xgboost.__version__,
                             "lightgbm": lightgbm.__version__},
        "rows_files": [rows_files[f] for f in sorted(rows_files)],
        "models": models,
    }
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(out, "manifest.json"))  # written last: its presence means "complete"
    log(f"wrote {os.path.join(out, 'manifest.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

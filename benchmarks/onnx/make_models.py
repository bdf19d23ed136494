#!/usr/bin/env python3
"""Build the ONNX models, evaluation rows and onnxruntime reference outputs for the ONNX benchmark.

    python benchmarks/onnx/make_models.py OUTDIR

Trains scikit-learn pipelines of a realistic size on synthetic data (fixed seeds, one
BLAS/OpenMP thread), converts them with skl2onnx (default converter options: ZipMap kept
where skl2onnx emits it; target opsets ai.onnx 17 / ai.onnx.ml 3, as the goldens of
scripts/fixtures/make_onnx_goldens.py) and writes into OUTDIR, per model:

  <name>.onnx            the model
  <name>.rows.json       {"inputs": [{"name", "datatype" (FP32 | INT64 | BYTES), "shape": [N, k],
                          "data": flat row-major list}]}, N = 10,000 rows never used in training.
                          NaN is null. FP32 values are the exact double of the float32.
  <name>.reference.json  {"outputs": [{"name", "datatype", "shape", "data"}]}: onnxruntime's outputs
                          (CPUExecutionProvider, one thread) on all N rows, in graph output order. A
                          ZipMap output (sequence of maps) is written dense [N, C] FP32 in the order of
                          the ZipMap's classlabels, with "zipmap_labels".

and manifest.json: {"models": [{"name", "onnx", "rows", "reference", "n_rows", "operators",
"onnx_bytes", ...}], ...}, paths relative to OUTDIR, written last (its presence means complete).

The .onnx files are deterministic byte for byte: the script re-executes itself with
PYTHONHASHSEED=0 because skl2onnx orders opset_import by set iteration.
"""
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pandas as pd  # noqa: E402
import skl2onnx  # noqa: E402
import sklearn  # noqa: E402
from onnx import helper  # noqa: E402
from skl2onnx import convert_sklearn, to_onnx  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.svm import SVC, LinearSVC  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

SCHEMA_VERSION = 1
N_ROWS = 10_000  # evaluation rows per model (rows.json / reference.json)
TRAIN_ROWS = 20_000  # training rows, except svc_rbf
SVC_TRAIN_ROWS = 1_000
NAN_FRACTION = 0.05  # hgb and columns_rf: share of missing numeric values (train and evaluation rows)
UNSEEN_FRACTION = 0.02  # columns_rf: share of evaluation rows with an unseen category, per string column
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}  # as the goldens (scripts/fixtures/make_onnx_goldens.py)
RF_TRAIN_JOBS = 2  # RandomForest's trees get fixed per-tree seeds: the forest is the same for any n_jobs
F32 = np.float32
TREE_ENSEMBLES = {"columns_rf", "gbr", "hgb", "rf"}

DATATYPE = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64",
            np.dtype(np.int32): "INT32", np.dtype(np.bool_): "BOOL"}


def log(msg):
    print(f"[make_models] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- JSON tensors
def datatype_of(arr):
    return "BYTES" if arr.dtype.kind in "OUS" else DATATYPE[arr.dtype]


def json_data(arr, dt):
    flat = arr.reshape(-1)
    if dt in ("FP32", "FP64"):
        # float32 -> float64 is exact, so the double's repr parses back to the same float32
        vals = flat.astype(np.float64).tolist()
        out = []
        for v in vals:
            if math.isnan(v):
                out.append(None)
            elif math.isinf(v):
                out.append("inf" if v > 0 else "-inf")
            else:
                out.append(v)
        return out
    if dt == "BYTES":
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in flat.tolist()]
    if dt == "BOOL":
        return [bool(v) for v in flat.tolist()]
    return [int(v) for v in flat.tolist()]


def tensor_json(name, arr):
    arr = np.asarray(arr)
    dt = datatype_of(arr)
    return {"name": name, "datatype": dt, "shape": [int(d) for d in arr.shape], "data": json_data(arr, dt)}


def dump(path, key, tensors):
    """One line per tensor, values compact (the files are a few MB each)."""
    body = ",\n".join(" " + json.dumps(t, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
                      for t in tensors)
    text = "{" + json.dumps(key) + ": [\n" + body + "\n]}\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return len(text.encode("utf-8"))


# ---------------------------------------------------------------- ONNX helpers
def all_nodes(graph):
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from all_nodes(g)


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def session(model_bytes):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])


def convert(model, X=None, initial_types=None, options=None, name=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if initial_types is not None:
            # convert_sklearn names the graph with a random uuid unless given a name
            return convert_sklearn(model, initial_types=initial_types, target_opset=TARGET_OPSET,
                                   options=options, name=name or type(model).__name__)
        return to_onnx(model, X[:1], target_opset=TARGET_OPSET, options=options)


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning etc.
        return model.fit(X, y)


def tree_stats(model):
    """Trees and nodes of the tree-ensemble nodes skl2onnx wrote (information for the report)."""
    trees, nodes = 0, 0
    for node in all_nodes(model.graph):
        if node.op_type.startswith("TreeEnsemble"):
            ids = attr(node, "nodes_treeids", [])
            trees += len(set(ids))
            nodes += len(ids)
    return {"trees": trees, "nodes": nodes} if trees else None


# ---------------------------------------------------------------- data
def binary20(seed, n, nan=False):
    """Synthetic binary set with 20 features (10 informative, 4 redundant), 5% flipped labels."""
    X, y = make_classification(n_samples=n, n_features=20, n_informative=10, n_redundant=4, n_repeated=0,
                               n_classes=2, flip_y=0.05, class_sep=0.8, random_state=seed)
    X = X.astype(F32)
    if nan:
        X[np.random.default_rng(seed + 1).random(X.shape) < NAN_FRACTION] = np.nan
    return X, y.astype(np.int64)


def split(X, y, n_train):
    return X[:n_train], y[:n_train], np.ascontiguousarray(X[n_train:])


def columns_frame(rng, n):
    """5 numeric columns (float32, with NaN) and 3 string columns with 10 categories each (skewed frequencies)."""
    cats = {
        "plan": ["free", "basic", "plus", "pro", "team", "business", "enterprise", "student", "family", "trial"],
        "region": ["north", "south", "east", "west", "central", "coast", "mountain", "valley", "island", "metro"],
        "channel": ["web", "app", "store", "phone", "partner", "email", "kiosk", "agent", "social", "tv"],
    }
    p = 1.0 / np.arange(1, 11) ** 0.8
    p /= p.sum()
    df = pd.DataFrame({
        "age": rng.normal(40, 12, n).clip(18, 90).astype(F32),
        "income": rng.lognormal(10.5, 0.6, n).astype(F32),
        "balance": (rng.normal(0, 2_000, n) + 500).astype(F32),
        "tenure": rng.poisson(30, n).astype(F32),
        "score": rng.uniform(0, 1, n).astype(F32),
    })
    for c, values in cats.items():
        df[c] = pd.Series(np.array(values, dtype=object)[rng.choice(10, size=n, p=p)], dtype=object)
    codes = {c: df[c].map({v: i for i, v in enumerate(values)}).to_numpy() for c, values in cats.items()}
    logit = (0.04 * (df["age"].to_numpy() - 40) + 0.8 * (np.log(df["income"].to_numpy()) - 10.5)
             + 0.0003 * df["balance"].to_numpy() - 0.02 * (df["tenure"].to_numpy() - 30)
             + 2.0 * (df["score"].to_numpy() - 0.5) + np.where(codes["plan"] >= 5, 0.9, -0.3)
             + np.sin(codes["region"]) * 0.7 - (codes["channel"] == 3) * 1.1)
    y = (logit + rng.logistic(size=n) * 0.7 > 0).astype(np.int64)
    return df, y, cats


# ---------------------------------------------------------------- the models
def build_models():
    """Yields (name, description, onnx ModelProto, feeds {input: array} for the N evaluation rows, info)."""
    # logreg: StandardScaler + LogisticRegression, binary, 20 features
    X, y = binary20(101, TRAIN_ROWS + N_ROWS)
    Xtr, ytr, Xev = split(X, y, TRAIN_ROWS)
    m = fit(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), Xtr, ytr)
    yield ("logreg", "StandardScaler + LogisticRegression, binary, 20 float features",
           convert(m, Xtr), {"X": Xev}, {"features": 20, "train_rows": TRAIN_ROWS})

    # columns_rf: ColumnTransformer (numeric: median imputer + scaler; strings: one-hot) + RandomForest
    rng = np.random.default_rng(102)
    df, y, cats = columns_frame(rng, TRAIN_ROWS + N_ROWS)
    numeric, categorical = ["age", "income", "balance", "tenure", "score"], list(cats)
    for c in numeric:
        df.loc[rng.random(len(df)) < NAN_FRACTION, c] = np.nan
    train, test = df.iloc[:TRAIN_ROWS], df.iloc[TRAIN_ROWS:].copy().reset_index(drop=True)
    unseen = {"plan": ["platinum", "", "PRO"], "region": ["mars", "", "North"], "channel": ["fax", "", "Web"]}
    unseen_rows = 0
    for c in categorical:
        mask = rng.random(len(test)) < UNSEEN_FRACTION
        test.loc[mask, c] = np.array(unseen[c], dtype=object)[rng.integers(0, 3, mask.sum())]
        unseen_rows += int(mask.sum())
    test.loc[0, numeric] = np.nan  # an all-missing numeric row
    test.loc[1, categorical] = ["platinum", "mars", "fax"]  # all categories unseen
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
    ])
    m = fit(make_pipeline(pre, RandomForestClassifier(n_estimators=100, max_depth=8, random_state=3,
                                                      n_jobs=RF_TRAIN_JOBS)),
            train, y[:TRAIN_ROWS])
    m.steps[-1][1].n_jobs = None
    initial = ([(c, FloatTensorType([None, 1])) for c in numeric]
               + [(c, StringTensorType([None, 1])) for c in categorical])
    feeds = {c: test[c].to_numpy(dtype=F32).reshape(-1, 1) for c in numeric}
    feeds.update({c: test[c].to_numpy(dtype=object).reshape(-1, 1) for c in categorical})
    yield ("columns_rf",
           "ColumnTransformer(SimpleImputer(median) + StandardScaler on 5 numeric columns, "
           "OneHotEncoder(handle_unknown='ignore') on 3 string columns of 10 categories) + "
           "RandomForestClassifier(n_estimators=100, max_depth=8); one [N,1] input per column",
           convert(m, initial_types=initial, name="columns_rf"), feeds,
           {"features": len(numeric) + len(categorical), "train_rows": TRAIN_ROWS,
            "nan_fraction": NAN_FRACTION,
            "notes": [f"evaluation rows: ~{NAN_FRACTION:.0%} NaN per numeric column; "
                      f"{unseen_rows} unseen string values (~{UNSEEN_FRACTION:.0%} per string column: "
                      "new words, '' and case variants); row 0 all numeric NaN; row 1 all strings unseen"]})

    # gbr: GradientBoostingRegressor, 20 features
    Xr, yr = make_regression(n_samples=TRAIN_ROWS + N_ROWS, n_features=20, n_informative=12, noise=10.0,
                             random_state=103)
    Xr = Xr.astype(F32)
    yr = yr + 40.0 * np.sin(Xr[:, 0]) + 25.0 * Xr[:, 1] * Xr[:, 2]  # nonlinear, so the trees keep splitting
    Xtr, ytr, Xev = split(Xr, yr, TRAIN_ROWS)
    m = fit(GradientBoostingRegressor(n_estimators=200, max_depth=5, random_state=3), Xtr, ytr)
    yield ("gbr", "GradientBoostingRegressor(n_estimators=200, max_depth=5), 20 float features",
           convert(m, Xtr), {"X": Xev}, {"features": 20, "train_rows": TRAIN_ROWS})
    ridge_data = (Xtr, ytr, Xev)

    # hgb: HistGradientBoostingClassifier, binary, 20 features with NaNs
    X, y = binary20(104, TRAIN_ROWS + N_ROWS, nan=True)
    Xtr, ytr, Xev = split(X, y, TRAIN_ROWS)
    Xev[0, :] = np.nan  # an all-missing row
    # early_stopping defaults to 'auto', which is on above 10,000 rows and would stop well before 200 trees
    m = fit(HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=4), Xtr, ytr)
    yield ("hgb", "HistGradientBoostingClassifier(max_iter=200, early_stopping=False), binary, 20 float "
           f"features with ~{NAN_FRACTION:.0%} NaN", convert(m, Xtr), {"X": Xev},
           {"features": 20, "train_rows": TRAIN_ROWS, "nan_fraction": NAN_FRACTION,
            "notes": ["evaluation row 0 is all NaN"]})

    # rf: RandomForestClassifier, 20 features
    X, y = binary20(105, TRAIN_ROWS + N_ROWS)
    Xtr, ytr, Xev = split(X, y, TRAIN_ROWS)
    m = fit(RandomForestClassifier(n_estimators=200, max_depth=10, random_state=5, n_jobs=RF_TRAIN_JOBS), Xtr, ytr)
    m.n_jobs = None
    yield ("rf", "RandomForestClassifier(n_estimators=200, max_depth=10), binary, float input [N,20]",
           convert(m, Xtr), {"X": Xev}, {"features": 20, "train_rows": TRAIN_ROWS})

    # linear_svc: StandardScaler + LinearSVC, 20 features
    X, y = binary20(106, TRAIN_ROWS + N_ROWS)
    Xtr, ytr, Xev = split(X, y, TRAIN_ROWS)
    m = fit(make_pipeline(StandardScaler(), LinearSVC(random_state=6)), Xtr, ytr)
    # skl2onnx 1.20.0's pipeline parser gives every classifier step a 'zipmap' option, which LinearSVC does not
    # accept (NameError); any explicit option for the step (here the default, raw_scores False) avoids it.
    yield ("linear_svc", "StandardScaler + LinearSVC, binary, 20 float features",
           convert(m, Xtr, options={id(m.steps[-1][1]): {"raw_scores": False}}), {"X": Xev},
           {"features": 20, "train_rows": TRAIN_ROWS,
            "notes": ["converted with options {LinearSVC: {raw_scores: False}} (the default value; without an "
                      "explicit option skl2onnx 1.20.0 fails on the pipeline's zipmap option)"]})

    # svc_rbf: StandardScaler + SVC(rbf, probability=True), 10 features, 1,000 training rows
    X, y = make_classification(n_samples=SVC_TRAIN_ROWS + N_ROWS, n_features=10, n_informative=6, n_redundant=2,
                               flip_y=0.03, class_sep=1.0, random_state=107)
    X = X.astype(F32)
    Xtr, ytr, Xev = split(X, y.astype(np.int64), SVC_TRAIN_ROWS)
    m = fit(make_pipeline(StandardScaler(), SVC(kernel="rbf", probability=True, random_state=7)), Xtr, ytr)
    n_sv = int(m.steps[-1][1].support_vectors_.shape[0])
    yield ("svc_rbf", f"StandardScaler + SVC(kernel='rbf', probability=True), binary, 10 float features, "
           f"{SVC_TRAIN_ROWS} training rows ({n_sv} support vectors)",
           convert(m, Xtr), {"X": Xev}, {"features": 10, "train_rows": SVC_TRAIN_ROWS, "support_vectors": n_sv})

    # mlp: StandardScaler + MLPClassifier((64, 32)), 3 classes, 20 features
    X, y = make_classification(n_samples=TRAIN_ROWS + N_ROWS, n_features=20, n_informative=12, n_redundant=4,
                               n_classes=3, n_clusters_per_class=2, flip_y=0.03, random_state=108)
    X = X.astype(F32)
    Xtr, ytr, Xev = split(X, y.astype(np.int64), TRAIN_ROWS)
    m = fit(make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=200,
                                                          random_state=8)), Xtr, ytr)
    yield ("mlp", "StandardScaler + MLPClassifier(hidden_layer_sizes=(64, 32)), 3 classes, 20 float features",
           convert(m, Xtr), {"X": Xev}, {"features": 20, "train_rows": TRAIN_ROWS})

    # ridge: Ridge on the gbr data
    Xtr, ytr, Xev = ridge_data
    m = fit(Ridge(alpha=1.0), Xtr, ytr)
    yield ("ridge", "Ridge(alpha=1.0), 20 float features (the gbr data)", convert(m, Xtr), {"X": Xev},
           {"features": 20, "train_rows": TRAIN_ROWS})


# ---------------------------------------------------------------- main
def reference_outputs(model, sess, feeds):
    zipmaps = {n.output[0]: n for n in all_nodes(model.graph) if n.op_type == "ZipMap"}
    outs = sess.run(None, feeds)
    tensors, meta_out = [], []
    for meta, value in zip(sess.get_outputs(), outs):
        if meta.type.startswith("seq(map("):
            zm = zipmaps[meta.name]
            labels = attr(zm, "classlabels_int64s") or [s.decode() for s in attr(zm, "classlabels_strings")]
            dense = np.array([[row[k] for k in labels] for row in value], dtype=np.float32)
            dense = dense.reshape(len(value), len(labels))
            t = tensor_json(meta.name, dense)
            t["zipmap_labels"] = [x if isinstance(x, str) else int(x) for x in labels]
            meta_out.append({"name": meta.name, "datatype": "FP32", "shape": list(dense.shape), "zipmap": True,
                             "onnx_type": meta.type})
        else:
            value = np.asarray(value)
            t = tensor_json(meta.name, value)
            meta_out.append({"name": meta.name, "datatype": t["datatype"], "shape": t["shape"], "zipmap": False,
                             "onnx_type": meta.type})
        tensors.append(t)
    return tensors, meta_out


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "manifest.json")
    if os.path.exists(manifest_path):
        os.unlink(manifest_path)
    log(f"skl2onnx {skl2onnx.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, pandas {pd.__version__}")

    models = []
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        for name, description, onx, feeds, info in build_models():
            t_train = time.perf_counter() - t0
            onnx.checker.check_model(onx, full_check=True)
            data = onx.SerializeToString()
            onnx_file = f"{name}.onnx"
            with open(os.path.join(out, onnx_file), "wb") as fh:
                fh.write(data)
            sess = session(data)
            graph_inputs = [i.name for i in sess.get_inputs()]
            if set(graph_inputs) != set(feeds):
                raise SystemExit(f"{name}: graph inputs {graph_inputs}, feeds {sorted(feeds)}")
            feeds = {k: feeds[k] for k in graph_inputs}  # graph order
            for k, v in feeds.items():
                if v.shape[0] != N_ROWS:
                    raise SystemExit(f"{name}: input {k} has {v.shape[0]} rows, expected {N_ROWS}")
            inputs = [tensor_json(k, v) for k, v in feeds.items()]
            rows_file, ref_file = f"{name}.rows.json", f"{name}.reference.json"
            rows_bytes = dump(os.path.join(out, rows_file), "inputs", inputs)
            outputs, outputs_meta = reference_outputs(onx, sess, feeds)
            ref_bytes = dump(os.path.join(out, ref_file), "outputs", outputs)
            operators = sorted({n.op_type for n in all_nodes(onx.graph)})
            label_output = next((o["name"] for o in outputs_meta if o["datatype"] in ("INT64", "BYTES")), None)
            entry = {
                "name": name,
                "onnx": onnx_file,
                "rows": rows_file,
                "reference": ref_file,
                "n_rows": N_ROWS,
                "operators": operators,
                "onnx_bytes": len(data),
                "description": description,
                "tree_ensemble": name in TREE_ENSEMBLES,
                "opsets": {(o.domain or "ai.onnx"): o.version for o in onx.opset_import},
                "producer": f"{onx.producer_name} {onx.producer_version}".strip(),
                "inputs": [{"name": t["name"], "datatype": t["datatype"], "shape": t["shape"]} for t in inputs],
                "outputs": outputs_meta,
                "label_output": label_output,
                "tree_stats": tree_stats(onx),
                "onnx_sha256": hashlib.sha256(data).hexdigest(),
                "rows_bytes": rows_bytes,
                "reference_bytes": ref_bytes,
                **info,
                "build_seconds": round(t_train, 2),  # training + conversion
            }
            models.append(entry)
            ts = entry["tree_stats"]
            log(f"{name}: {len(data):,} B onnx, {rows_bytes + ref_bytes:,} B rows+reference, "
                f"{'%d trees / %d nodes, ' % (ts['trees'], ts['nodes']) if ts else ''}"
                f"[{time.perf_counter() - t0:.1f}s]: {' '.join(operators)}")
            t0 = time.perf_counter()

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generator": "benchmarks/onnx/make_models.py",
        "paths_relative_to": "manifest directory",
        "library_versions": {"skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__,
                             "onnxruntime": ort.__version__, "scikit-learn": sklearn.__version__,
                             "numpy": np.__version__, "pandas": pd.__version__},
        "target_opset": {(k or "ai.onnx"): v for k, v in TARGET_OPSET.items()},
        "reference": "onnxruntime CPUExecutionProvider, intra_op_num_threads=1, on all n_rows rows in one run",
        "models": models,
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, manifest_path)  # written last: its presence means "complete"
    log(f"wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

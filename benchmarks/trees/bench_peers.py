#!/usr/bin/env python3
"""Measure the peer tree-inference libraries on the models of make_models.py.

    python benchmarks/trees/bench_peers.py OUTDIR      # OUTDIR holds manifest.json

For every model in OUTDIR/manifest.json and every library that can run it
(xgboost, lightgbm, tl2cgen, onnxruntime), all single-threaded, this measures
  - single-row latency: one row per call, cycling through the rows file,
    median / p99 / mean microseconds per call;
  - batch throughput: all rows in one call, best of BATCH_REPEATS, rows/s;
after checking that the library's batch predictions agree with the model's
reference predictions (the native library's own predict, manifest
"reference_file"). Writes OUTDIR/peers.json. A library that fails for a model
(conversion, compilation, ...) gets an "error" entry instead of numbers.

Env knobs: SINGLE_MIN_CALLS (2000), SINGLE_MAX_CALLS (20000),
SINGLE_TARGET_S (0.5, seconds per single-row measurement before the minimum
applies), BATCH_REPEATS (3), PEERS_MODELS (comma-separated model names, default all),
PEERS_LIBS (comma-separated libraries, default all), TL2CGEN_OPT (-O3).
"""
import os

# Single-threaded everywhere; set before the libraries load their OpenMP runtimes.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

SINGLE_MIN_CALLS = int(os.environ.get("SINGLE_MIN_CALLS", "2000"))
SINGLE_MAX_CALLS = int(os.environ.get("SINGLE_MAX_CALLS", "20000"))
SINGLE_TARGET_S = float(os.environ.get("SINGLE_TARGET_S", "0.5"))
SINGLE_WARMUP_CALLS = 200
SINGLE_DISTINCT_ROWS = 4096  # rows cycled through by the single-row loop
BATCH_REPEATS = int(os.environ.get("BATCH_REPEATS", "3"))
TL2CGEN_OPT = os.environ.get("TL2CGEN_OPT", "-O3")
AGREE_TOL = 1e-4  # max abs diff on probabilities above which a library is flagged as disagreeing
ALL_LIBS = ["xgboost", "xgboost-dmatrix", "lightgbm", "tl2cgen", "onnxruntime"]


def log(msg):
    print(f"[bench_peers] {msg}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(pkg):
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


# ---------------------------------------------------------------- timing
def time_single(fn, rows):
    """fn(row) on one prepared row at a time, cycling through `rows` (a list).
    Returns stats in microseconds plus the first outputs for a sanity check."""
    n_rows = len(rows)
    first = [float(np.asarray(fn(rows[i])).reshape(-1)[-1]) for i in range(min(16, n_rows))]
    t0 = time.perf_counter()
    for i in range(SINGLE_WARMUP_CALLS):
        fn(rows[i % n_rows])
    per_call = (time.perf_counter() - t0) / SINGLE_WARMUP_CALLS
    calls = int(min(SINGLE_MAX_CALLS, max(SINGLE_MIN_CALLS, SINGLE_TARGET_S / max(per_call, 1e-9))))
    times = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(calls):
            r = rows[i % n_rows]
            t = clock()
            fn(r)
            times[i] = clock() - t
    finally:
        if gc_was_enabled:
            gc.enable()
    us = times / 1000.0
    return {
        "single_us_median": round(float(np.median(us)), 3),
        "single_us_p99": round(float(np.percentile(us, 99)), 3),
        "single_us_mean": round(float(us.mean()), 3),
        "single_us_min": round(float(us.min()), 3),
        "single_calls": calls,
    }, first


def time_batch(fn, n_rows):
    """fn() predicts all rows; the first call (already done for the agreement check
    by the caller) is the warm-up. Best of BATCH_REPEATS."""
    secs = []
    for _ in range(BATCH_REPEATS):
        t = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - t)
    best = min(secs)
    return {
        "batch_rows_per_s": round(n_rows / best, 1),
        "batch_seconds_best": round(best, 5),
        "batch_seconds_all": [round(s, 5) for s in secs],
        "batch_repeats": BATCH_REPEATS,
    }


# ---------------------------------------------------------------- libraries
# Each builder returns (single_fn, single_rows, batch_fn, notes, setup_ms).
# batch_fn() returns the probability of class 1 for every row.

def build_xgboost(model, path, x, x32, workdir, inplace=True):
    import xgboost as xgb
    t = time.perf_counter()
    booster = xgb.Booster(model_file=path)
    booster.set_param({"nthread": 1})
    setup_ms = (time.perf_counter() - t) * 1e3
    rows = [x[i:i + 1] for i in range(min(SINGLE_DISTINCT_ROWS, len(x)))]
    if inplace:
        single = lambda r: booster.inplace_predict(r, missing=np.nan)  # noqa: E731
        batch = lambda: booster.inplace_predict(x, missing=np.nan)  # noqa: E731
        notes = "Booster.inplace_predict on a float64 [1,F] / [N,F] numpy array; nthread=1"
    else:
        single = lambda r: booster.predict(xgb.DMatrix(r, missing=np.nan, nthread=1))  # noqa: E731
        batch = lambda: booster.predict(xgb.DMatrix(x, missing=np.nan, nthread=1))  # noqa: E731
        notes = "xgb.DMatrix(rows, nthread=1) + Booster.predict per call (DMatrix construction timed); nthread=1"
    return single, rows, batch, notes, setup_ms


def build_lightgbm(model, path, x, x32, workdir):
    import lightgbm as lgb
    t = time.perf_counter()
    booster = lgb.Booster(model_file=path)
    setup_ms = (time.perf_counter() - t) * 1e3
    rows = [x[i:i + 1] for i in range(min(SINGLE_DISTINCT_ROWS, len(x)))]
    single = lambda r: booster.predict(r, num_threads=1)  # noqa: E731
    batch = lambda: booster.predict(x, num_threads=1)  # noqa: E731
    notes = "Booster.predict(float64 numpy, num_threads=1)"
    return single, rows, batch, notes, setup_ms


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _gcc_version():
    try:
        return subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:  # noqa: BLE001
        return None


def build_tl2cgen(model, path, x, x32, workdir):
    import tl2cgen
    import treelite

    # Keep each generated translation unit small: gcc -O3 is superlinear in function
    # size, and one huge unit per core takes minutes for the 500-tree models.
    total_leaves = model.get("stats", {}).get("total_leaves", 4000)
    parallel_comp = int(max(2, min(model["trees"], math.ceil(4 * total_leaves / 8000))))
    params = {"parallel_comp": parallel_comp}
    options = [TL2CGEN_OPT]  # appended after tl2cgen's own -O3, so it wins
    libdir = os.path.join(workdir, "tl2cgen")
    os.makedirs(libdir, exist_ok=True)
    libpath = os.path.join(libdir, model["name"] + ".so")
    key = json.dumps({"model_sha256": _sha256(path), "tl2cgen": version("tl2cgen"),
                      "treelite": version("treelite"), "params": params, "options": options,
                      "gcc": _gcc_version()}, sort_keys=True)
    keyfile = libpath + ".key"
    compile_s = None
    if not (os.path.exists(libpath) and os.path.exists(keyfile) and open(keyfile).read() == key):
        log(f"  tl2cgen: compiling {model['name']} (gcc {TL2CGEN_OPT}, {parallel_comp} units, "
            f"{os.cpu_count() or 1} jobs)")
        tc = time.perf_counter()
        if model["format"] == "xgboost-json":
            tl_model = treelite.frontend.load_xgboost_model(path, format_choice="json")
        else:
            tl_model = treelite.frontend.load_lightgbm_model(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tl2cgen.export_lib(tl_model, toolchain="gcc", libpath=libpath, params=params,
                               nthread=os.cpu_count() or 1, options=options)
        compile_s = time.perf_counter() - tc
        with open(keyfile, "w") as fh:
            fh.write(key)
    t = time.perf_counter()
    predictor = tl2cgen.Predictor(libpath, nthread=1)
    setup_ms = (time.perf_counter() - t) * 1e3  # loading the compiled library only
    dtype = predictor.threshold_type  # float32 for XGBoost, float64 for LightGBM
    xin = x32 if dtype == "float32" else x
    # tl2cgen 1.0.0's DMatrix uses np.array(copy=False), which numpy 2 rejects whenever a
    # conversion is needed: hand it arrays that already have the model's dtype.
    rows = [xin[i:i + 1] for i in range(min(SINGLE_DISTINCT_ROWS, len(xin)))]
    single = lambda r: predictor.predict(tl2cgen.DMatrix(r, dtype=dtype))  # noqa: E731
    batch = lambda: predictor.predict(tl2cgen.DMatrix(xin, dtype=dtype)).reshape(-1)  # noqa: E731
    notes = (f"tl2cgen.export_lib(gcc {TL2CGEN_OPT}, parallel_comp={parallel_comp}) -> .so; "
             f"Predictor(nthread=1); DMatrix({dtype}) construction timed in every call; "
             f"input {dtype}")
    if compile_s is not None:
        notes += f"; treelite load + C generation + compile took {compile_s:.1f}s (not in setup_ms)"
    else:
        notes += f"; compiled library reused from {os.path.relpath(libpath, workdir)} (same model, versions, options)"
    return single, rows, batch, notes, setup_ms


def build_onnxruntime(model, path, x, x32, workdir):
    import onnxmltools
    import onnxruntime as ort
    from onnxmltools.convert.common.data_types import FloatTensorType

    f = model["features"]
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model["format"] == "xgboost-json":
            import xgboost as xgb
            booster = xgb.Booster(model_file=path)
            onx = onnxmltools.convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, f]))])
        else:
            import lightgbm as lgb
            booster = lgb.Booster(model_file=path)
            onx = onnxmltools.convert_lightgbm(booster, initial_types=[("input", FloatTensorType([None, f]))],
                                               zipmap=False)
    convert_ms = (time.perf_counter() - t) * 1e3
    onnx_dir = os.path.join(workdir, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    onnx_path = os.path.join(onnx_dir, model["name"] + ".onnx")
    with open(onnx_path, "wb") as fh:
        fh.write(onx.SerializeToString())
    outputs = [o.name for o in onx.graph.output]
    prob_name = "probabilities" if "probabilities" in outputs else outputs[-1]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    t = time.perf_counter()
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    setup_ms = (time.perf_counter() - t) * 1e3
    in_name = sess.get_inputs()[0].name
    rows = [x32[i:i + 1] for i in range(min(SINGLE_DISTINCT_ROWS, len(x32)))]

    def prob1(out):
        out = np.asarray(out)
        return out[:, -1] if out.ndim == 2 else out.reshape(-1)

    single = lambda r: prob1(sess.run([prob_name], {in_name: r})[0])  # noqa: E731
    batch = lambda: prob1(sess.run([prob_name], {in_name: x32})[0])  # noqa: E731
    ops = sorted({n.op_type for n in onx.graph.node})
    opsets = {d.domain or "ai.onnx": d.version for d in onx.opset_import}
    notes = (f"onnxmltools -> ONNX ({', '.join(ops)}; opsets {opsets}; {os.path.getsize(onnx_path)} bytes; "
             f"converted in {convert_ms:.0f} ms); InferenceSession intra_op=1 inter_op=1 sequential, "
             f"float32 input [1,F] / [N,F], output '{prob_name}'[:, 1]")
    if model["format"] == "lightgbm-text":
        notes += ("; LightGBM thresholds are float64 but the ONNX model compares float32 values, so a row whose "
                  "value lies between a threshold and its float32 rounding can take the other branch")
    return single, rows, batch, notes, setup_ms


BUILDERS = {
    "xgboost": lambda *a: build_xgboost(*a, inplace=True),
    "xgboost-dmatrix": lambda *a: build_xgboost(*a, inplace=False),
    "lightgbm": build_lightgbm,
    "tl2cgen": build_tl2cgen,
    "onnxruntime": build_onnxruntime,
}


def libraries_for(model):
    if model["format"] == "xgboost-json":
        return ["xgboost", "xgboost-dmatrix", "tl2cgen", "onnxruntime"]
    return ["lightgbm", "tl2cgen", "onnxruntime"]


# ---------------------------------------------------------------- main
def run_library(lib, model, path, x, x32, ref, workdir):
    entry = {"single_us_median": None, "single_us_p99": None, "batch_rows_per_s": None, "notes": ""}
    try:
        single, rows, batch, notes, setup_ms = BUILDERS[lib](model, path, x, x32, workdir)
        entry["notes"] = notes
        entry["setup_ms"] = round(setup_ms, 1)
        pred = np.asarray(batch(), dtype=np.float64).reshape(-1)  # also the batch warm-up
        if pred.shape != ref.shape:
            raise RuntimeError(f"batch output has shape {pred.shape}, expected {ref.shape}")
        diff = np.abs(pred - ref)
        entry["max_abs_diff_vs_reference"] = float(np.nanmax(diff)) if diff.size else 0.0
        entry["rows_over_tolerance"] = int((diff > AGREE_TOL).sum() + np.isnan(diff).sum())
        entry["agrees"] = entry["rows_over_tolerance"] == 0
        entry.update(time_batch(batch, len(x)))
        stats, first = time_single(single, rows)
        entry.update(stats)
        single_diff = float(np.max(np.abs(np.asarray(first) - pred[:len(first)])))
        entry["single_vs_batch_max_abs_diff"] = single_diff
        if not entry["agrees"]:
            entry["notes"] += f"; WARNING: {entry['rows_over_tolerance']} rows differ from the reference by > {AGREE_TOL}"
    except Exception as e:  # noqa: BLE001 - record, do not crash the whole run
        msg = f"{type(e).__name__}: {e}".strip()
        entry["error"] = msg[:2000]
        entry["notes"] = (entry["notes"] + "; " if entry["notes"] else "") + "FAILED: " + msg[:500]
        log(f"  {lib}: FAILED: {msg[:300]}")
        traceback.print_exc(file=sys.stderr)
    return entry


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = os.path.abspath(sys.argv[1])
    with open(os.path.join(workdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    only_models = {s for s in os.environ.get("PEERS_MODELS", "").split(",") if s}
    only_libs = {s for s in os.environ.get("PEERS_LIBS", "").split(",") if s}
    unknown = only_libs - set(ALL_LIBS)
    if unknown:
        log(f"unknown PEERS_LIBS entries: {sorted(unknown)} (known: {ALL_LIBS})")
        return 2

    t_start = time.perf_counter()
    rows_cache = {}
    results = {}
    for model in manifest["models"]:
        if only_models and model["name"] not in only_models:
            continue
        f = model["features"]
        rows_file = os.path.join(workdir, model["rows_file"])
        if rows_file not in rows_cache:
            x = np.fromfile(rows_file, dtype="<f8")
            if x.size != model["rows"] * f:
                raise SystemExit(f"{rows_file}: {x.size} values, expected {model['rows']} x {f}")
            x = x.reshape(model["rows"], f)
            rows_cache.clear()  # keep at most one rows file (and its float32 copy) in memory
            rows_cache[rows_file] = (x, np.ascontiguousarray(x, dtype=np.float32))
        x, x32 = rows_cache[rows_file]
        ref = np.fromfile(os.path.join(workdir, model["reference_file"]), dtype="<f8")
        path = os.path.join(workdir, model["file"])
        log(f"{model['name']}: {model['trees']} trees, {f} features, {len(x)} rows")
        per_lib = {}
        for lib in libraries_for(model):
            if only_libs and lib not in only_libs:
                continue
            t = time.perf_counter()
            e = run_library(lib, model, path, x, x32, ref, workdir)
            per_lib[lib] = e
            if "error" not in e:
                log(f"  {lib:<16} single {e['single_us_median']:>9.1f} us (p99 {e['single_us_p99']:.1f}, "
                    f"{e['single_calls']} calls)  batch {e['batch_rows_per_s']:>12,.0f} rows/s  "
                    f"max|diff| {e['max_abs_diff_vs_reference']:.2e}  [{time.perf_counter() - t:.1f}s]")
        results[model["name"]] = per_lib

    libs = ["numpy", "xgboost", "lightgbm", "treelite", "tl2cgen", "onnxruntime", "onnxmltools", "onnx",
            "skl2onnx", "scikit-learn", "scipy"]
    out = {
        "benchmark": "trees-peers",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                    "machine": platform.machine(), "python": platform.python_version()},
        "library_versions": {k: version(k) for k in libs},
        "compiler": _gcc_version(),
        "settings": {
            "threads": 1,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "single_min_calls": SINGLE_MIN_CALLS,
            "single_max_calls": SINGLE_MAX_CALLS,
            "single_target_s": SINGLE_TARGET_S,
            "single_warmup_calls": SINGLE_WARMUP_CALLS,
            "single_distinct_rows": SINGLE_DISTINCT_ROWS,
            "batch_repeats": BATCH_REPEATS,
            "agree_tolerance": AGREE_TOL,
            "tl2cgen_opt": TL2CGEN_OPT,
            "gc_disabled_during_single_row_loop": True,
        },
        "reference": "manifest reference_file: the native library's own predict on the rows "
                     "(xgboost inplace_predict / lightgbm predict), probability of class 1",
        "elapsed_s": round(time.perf_counter() - t_start, 1),
        "models": results,
    }
    path = os.path.join(workdir, "peers.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    log(f"wrote {path} in {out['elapsed_s']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Measure onnxruntime on the models of make_models.py.

    python benchmarks/onnx/bench_ort.py OUTDIR      # OUTDIR holds manifest.json

For every model in OUTDIR/manifest.json: one InferenceSession (CPUExecutionProvider,
intra_op_num_threads=1, inter_op_num_threads=1, sequential execution, all graph
optimizations), fed numpy arrays built from <name>.rows.json (float32 / int64, strings as
object arrays), always sess.run(None, feeds), so every output is produced, ZipMap's list of
dicts included. It first runs all rows once and compares the outputs with
<name>.reference.json (max_abs_diff_vs_reference over the float outputs, labels_equal over
the int64 / string ones; a ZipMap output is compared densely in its classlabels order), then:
  - single-row latency: one row per call ([1,k] arrays per input, prebuilt outside the timer),
    cycling through the first SINGLE_DISTINCT_ROWS rows, after SINGLE_WARMUP_CALLS warm-up
    calls, with Python's GC off; at least SINGLE_MIN_CALLS calls and about SINGLE_TARGET_S
    seconds (at most SINGLE_MAX_CALLS); median / p99 / mean / min microseconds per call;
  - batch: all N rows in one call, best of BATCH_REPEATS, rows/s;
  - batch100: the first 100 rows in one call, best of BATCH100_REPEATS, rows/s.
Writes OUTDIR/ort.json: {model: {"onnxruntime": {...}}, plus "library_versions",
"machine", "settings" at the top level}. A model that fails gets an "error" entry.

Env knobs: SINGLE_MIN_CALLS (2000), SINGLE_MAX_CALLS (200000), SINGLE_TARGET_S (0.5),
SINGLE_DISTINCT_ROWS (1000), BATCH_REPEATS (3), BATCH100_REPEATS (50),
ORT_MODELS (comma-separated model names, default all).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc  # noqa: E402
import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

SINGLE_MIN_CALLS = int(os.environ.get("SINGLE_MIN_CALLS", "2000"))
SINGLE_MAX_CALLS = int(os.environ.get("SINGLE_MAX_CALLS", "200000"))
SINGLE_TARGET_S = float(os.environ.get("SINGLE_TARGET_S", "0.5"))
SINGLE_DISTINCT_ROWS = int(os.environ.get("SINGLE_DISTINCT_ROWS", "1000"))
SINGLE_WARMUP_CALLS = 200
BATCH_REPEATS = int(os.environ.get("BATCH_REPEATS", "3"))
BATCH100_ROWS = 100
BATCH100_REPEATS = int(os.environ.get("BATCH100_REPEATS", "50"))
DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}


def log(msg):
    print(f"[bench_ort] {msg}", file=sys.stderr, flush=True)


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


# ---------------------------------------------------------------- data
def to_array(t):
    """A rows.json / reference.json tensor as a numpy array (null -> NaN, strings -> object array)."""
    dt = t["datatype"]
    if dt == "BYTES":
        arr = np.empty(len(t["data"]), dtype=object)
        arr[:] = t["data"]
    elif dt in ("FP32", "FP64"):
        data = [float(v) if isinstance(v, str) else v for v in t["data"]]  # "inf" / "-inf"
        arr = np.array(data, dtype=np.float64).astype(DTYPES[dt])  # None -> NaN
    else:
        arr = np.array(t["data"], dtype=DTYPES[dt])
    return arr.reshape(t["shape"])


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def dense(value, ref):
    """An output as a numpy array; a ZipMap output (list of dicts) dense in the reference's label order."""
    if isinstance(value, list):
        labels = ref["zipmap_labels"]
        return np.array([[row[k] for k in labels] for row in value], dtype=np.float32).reshape(len(value),
                                                                                               len(labels))
    return np.asarray(value)


def compare(outs, refs):
    """(max abs diff over float outputs, labels equal over the others)."""
    max_diff, labels_equal = 0.0, True
    for value, (ref, want) in zip(outs, refs):
        got = dense(value, ref)
        if got.shape != want.shape:
            raise RuntimeError(f"output {ref['name']}: shape {list(got.shape)}, reference {list(want.shape)}")
        if want.dtype.kind == "f":
            g, w = got.astype(np.float64), want.astype(np.float64)
            both_nan = np.isnan(g) & np.isnan(w)
            d = np.where(both_nan, 0.0, np.abs(g - w))
            if d.size:
                max_diff = max(max_diff, float(np.nanmax(np.where(np.isnan(d), np.inf, d))))
        else:
            labels_equal = labels_equal and got.tolist() == want.tolist()
    return max_diff, labels_equal


# ---------------------------------------------------------------- timing
def time_single(sess, row_feeds):
    n = len(row_feeds)
    run = sess.run
    t0 = time.perf_counter()
    for i in range(SINGLE_WARMUP_CALLS):
        run(None, row_feeds[i % n])
    per_call = (time.perf_counter() - t0) / SINGLE_WARMUP_CALLS
    calls = int(min(SINGLE_MAX_CALLS, max(SINGLE_MIN_CALLS, SINGLE_TARGET_S / max(per_call, 1e-9))))
    times = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(calls):
            feeds = row_feeds[i % n]
            t = clock()
            run(None, feeds)
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
    }


def time_batch(sess, feeds, n_rows, repeats):
    secs = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, feeds)
        secs.append(time.perf_counter() - t)
    return n_rows / min(secs), min(secs)


# ---------------------------------------------------------------- one model
def run_model(workdir, model):
    entry = {}
    try:
        with open(os.path.join(workdir, model["rows"])) as fh:
            inputs = json.load(fh)["inputs"]
        with open(os.path.join(workdir, model["reference"])) as fh:
            ref_outputs = json.load(fh)["outputs"]
        feeds = {t["name"]: to_array(t) for t in inputs}
        n = model["n_rows"]
        for k, v in feeds.items():
            if v.shape[0] != n:
                raise RuntimeError(f"input {k}: {v.shape[0]} rows, manifest n_rows {n}")
        refs = [(r, to_array(r)) for r in ref_outputs]

        t = time.perf_counter()
        sess = session(os.path.join(workdir, model["onnx"]))
        entry["setup_ms"] = round((time.perf_counter() - t) * 1e3, 1)
        in_names = [i.name for i in sess.get_inputs()]
        if set(in_names) != set(feeds):
            raise RuntimeError(f"session inputs {in_names}, rows file {sorted(feeds)}")
        out_names = [o.name for o in sess.get_outputs()]
        if out_names != [r["name"] for r, _ in refs]:
            raise RuntimeError(f"session outputs {out_names}, reference {[r['name'] for r, _ in refs]}")

        # correctness, and the batch warm-up
        outs = sess.run(None, feeds)
        entry["max_abs_diff_vs_reference"], entry["labels_equal"] = compare(outs, refs)

        rate, best = time_batch(sess, feeds, n, BATCH_REPEATS)
        entry["batch_rows_per_s"] = round(rate, 1)
        entry["batch_seconds_best"] = round(best, 6)

        k100 = min(BATCH100_ROWS, n)
        feeds100 = {k: np.ascontiguousarray(v[:k100]) for k, v in feeds.items()}
        sess.run(None, feeds100)
        rate, best = time_batch(sess, feeds100, k100, BATCH100_REPEATS)
        entry["batch100_rows_per_s"] = round(rate, 1)
        entry["batch100_seconds_best"] = round(best, 7)

        distinct = min(SINGLE_DISTINCT_ROWS, n)
        row_feeds = [{k: np.ascontiguousarray(v[i:i + 1]) for k, v in feeds.items()} for i in range(distinct)]
        # single rows give the batch's answers (first 16 rows)
        sub = [(r, w[:16]) for r, w in refs]
        single_outs = [sess.run(None, row_feeds[i]) for i in range(min(16, distinct))]
        joined = [np.concatenate([dense(o[j], r) for o in single_outs]) for j, (r, _) in enumerate(refs)]
        d, same = compare(joined, sub)
        entry["single_vs_reference_max_abs_diff"] = d
        entry["single_vs_reference_labels_equal"] = same

        entry.update(time_single(sess, row_feeds))
        entry["zipmap_outputs"] = [r["name"] for r, _ in refs if "zipmap_labels" in r]
        entry["notes"] = ("InferenceSession(CPUExecutionProvider, intra_op=1, inter_op=1, sequential, ORT_ENABLE_ALL); "
                          "sess.run(None, feeds): every output"
                          + (" (ZipMap as Python list of dicts)" if entry["zipmap_outputs"] else "")
                          + f"; single: [1,k] per input, first {distinct} rows cycled; batch100: rows 0..{k100 - 1}")
    except Exception as e:  # noqa: BLE001 - record, do not crash the whole run
        msg = f"{type(e).__name__}: {e}".strip()
        entry["error"] = msg[:2000]
        log(f"  {model['name']}: FAILED: {msg[:300]}")
        traceback.print_exc(file=sys.stderr)
    return entry


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = os.path.abspath(sys.argv[1])
    with open(os.path.join(workdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    only = {s for s in os.environ.get("ORT_MODELS", "").split(",") if s}
    unknown = only - {m["name"] for m in manifest["models"]}
    if unknown:
        log(f"unknown ORT_MODELS entries: {sorted(unknown)}")
        return 2

    t_start = time.perf_counter()
    out = {}
    for model in manifest["models"]:
        if only and model["name"] not in only:
            continue
        t = time.perf_counter()
        e = run_model(workdir, model)
        out[model["name"]] = {"onnxruntime": e}
        if "error" not in e:
            log(f"{model['name']:<11} single {e['single_us_median']:>8.1f} us (p99 {e['single_us_p99']:.1f}, "
                f"{e['single_calls']} calls)  batch {e['batch_rows_per_s']:>12,.0f} rows/s  "
                f"batch100 {e['batch100_rows_per_s']:>11,.0f} rows/s  max|diff| {e['max_abs_diff_vs_reference']:.1e}"
                f"{'' if e['labels_equal'] else ' LABELS DIFFER'}  [{time.perf_counter() - t:.1f}s]")

    out["benchmark"] = "onnx-ort"
    out["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out["machine"] = {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                      "machine": platform.machine(), "python": platform.python_version()}
    out["library_versions"] = {k: version(k) for k in ("onnxruntime", "numpy", "onnx", "skl2onnx", "scikit-learn")}
    out["settings"] = {
        "providers": ["CPUExecutionProvider"],
        "intra_op_num_threads": 1,
        "inter_op_num_threads": 1,
        "execution_mode": "ORT_SEQUENTIAL",
        "graph_optimization_level": "ORT_ENABLE_ALL",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "single_min_calls": SINGLE_MIN_CALLS,
        "single_max_calls": SINGLE_MAX_CALLS,
        "single_target_s": SINGLE_TARGET_S,
        "single_warmup_calls": SINGLE_WARMUP_CALLS,
        "single_distinct_rows": SINGLE_DISTINCT_ROWS,
        "batch_repeats": BATCH_REPEATS,
        "batch100_rows": BATCH100_ROWS,
        "batch100_repeats": BATCH100_REPEATS,
        "gc_disabled_during_single_row_loop": True,
    }
    out["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    path = os.path.join(workdir, "ort.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    log(f"wrote {path} in {out['elapsed_s']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

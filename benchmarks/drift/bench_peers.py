#!/usr/bin/env python3
"""Time the peer drift computations on the data of make_data.py.

    python benchmarks/drift/bench_peers.py OUTDIR      # OUTDIR holds manifest.json

For each current window in the manifest ("100k", "1m") against the reference,
wall clock, one process, best of REPEATS (3):

  scipy_numpy  per feature, NaNs dropped: scipy.stats.ks_2samp (default method;
               statistic and p-value), PSI over the reference's decile bins
               (edges = unique 10..90% quantiles, np.searchsorted(edges, x, 'left'),
               proportions clipped below at 1e-4), scipy.spatial.distance.jensenshannon
               (base=2) on the same (unclipped) bin proportions,
               scipy.stats.wasserstein_distance, missing-rate change. Timed split:
               prep (column copy, NaN drop, missing rates), ks, psi (edges + binning
               of both samples + PSI), js, wasserstein.
  evidently    Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df),
               default settings, on pandas DataFrames built beforehand (not timed). It
               runs in a child process, so a run that takes more than EVIDENTLY_TIMEOUT_S
               or runs out of memory is recorded as "skipped" with the reason, and the
               rest of the benchmark goes on.

Writes OUTDIR/peers.json: {"100k": {"scipy_numpy": {...}, "evidently": {...}}, "1m": {...},
plus "machine", "library_versions", "settings"}. A library that fails or is skipped gets
{"skipped": reason} instead of numbers.

Env knobs: REPEATS (3), SKIP_EVIDENTLY=1, SKIP_1M=1, EVIDENTLY_TIMEOUT_S (120, per run),
EVIDENTLY_BUDGET_S (400: no further repeat when the runs so far plus one more would pass it),
EVIDENTLY_MEM_LIMIT_GB (16: address-space limit of the evidently child; 0 = none).
"""
import os

# One thread for BLAS/OpenMP pools; set before numpy loads them.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
# evidently: no usage telemetry (there is no network here anyway)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

import importlib.metadata as md  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

REPEATS = int(os.environ.get("REPEATS", "3"))
SKIP_EVIDENTLY = os.environ.get("SKIP_EVIDENTLY") == "1"
SKIP_1M = os.environ.get("SKIP_1M") == "1"
EVIDENTLY_TIMEOUT_S = float(os.environ.get("EVIDENTLY_TIMEOUT_S", "120"))
EVIDENTLY_BUDGET_S = float(os.environ.get("EVIDENTLY_BUDGET_S", "400"))
EVIDENTLY_MEM_LIMIT_GB = float(os.environ.get("EVIDENTLY_MEM_LIMIT_GB", "16"))
CHILD_LOAD_TIMEOUT_S = 300.0  # importing evidently + reading the files + building the DataFrames
QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
PSI_FLOOR = 1e-4


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


def load_matrix(workdir, entry, features):
    path = os.path.join(workdir, entry["file"])
    x = np.fromfile(path, dtype="<f8")
    if x.size != entry["rows"] * features:
        raise SystemExit(f"{path}: {x.size} values, expected {entry['rows']} x {features}")
    return x.reshape(entry["rows"], features)


def windows_of(manifest):
    """[(name, entry)] for the current windows, honouring SKIP_1M."""
    out = []
    for e in manifest["currents"]:
        name = e.get("name") or os.path.splitext(e["file"])[0].removeprefix("current_")
        out.append((name, e))
    return out


# ---------------------------------------------------------------- scipy + numpy
def scipy_numpy_once(ref, cur, names):
    """One pass over all features. Returns (seconds per part, per-feature values)."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    clock = time.perf_counter
    parts = {"prep": 0.0, "ks": 0.0, "psi": 0.0, "js": 0.0, "wasserstein": 0.0}
    values = {}
    for j, name in enumerate(names):
        t0 = clock()
        r = ref[:, j]
        c = cur[:, j]
        r_nan = np.isnan(r)
        c_nan = np.isnan(c)
        rp = r[~r_nan]
        cp = c[~c_nan]
        missing_change = float(c_nan.mean() - r_nan.mean())
        t1 = clock()
        ks = ks_2samp(rp, cp)
        t2 = clock()
        edges = np.unique(np.quantile(rp, QUANTILES))
        nb = len(edges) + 1
        r_prop = np.bincount(np.searchsorted(edges, rp, side="left"), minlength=nb) / len(rp)
        c_prop = np.bincount(np.searchsorted(edges, cp, side="left"), minlength=nb) / len(cp)
        rc = np.clip(r_prop, PSI_FLOOR, None)
        cc = np.clip(c_prop, PSI_FLOOR, None)
        psi = float(np.sum((cc - rc) * np.log(cc / rc)))
        t3 = clock()
        js = float(jensenshannon(r_prop, c_prop, base=2))
        t4 = clock()
        w = float(wasserstein_distance(rp, cp))
        t5 = clock()
        parts["prep"] += t1 - t0
        parts["ks"] += t2 - t1
        parts["psi"] += t3 - t2
        parts["js"] += t4 - t3
        parts["wasserstein"] += t5 - t4
        values[name] = {
            "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue), "psi": psi,
            "js_distance": js, "wasserstein": w, "missing_rate_change": missing_change,
            "bins": int(nb),
        }
    return parts, values


def bench_scipy_numpy(ref, cur, names):
    from scipy.stats import ks_2samp
    ks_2samp(ref[:1000, 0][~np.isnan(ref[:1000, 0])], cur[:1000, 0][~np.isnan(cur[:1000, 0])])  # import warm-up
    runs = []
    values = None
    for i in range(REPEATS):
        t = time.perf_counter()
        c = time.process_time()
        parts, values = scipy_numpy_once(ref, cur, names)
        runs.append((time.perf_counter() - t, time.process_time() - c, parts))
    best_s, best_cpu, best_parts = min(runs, key=lambda r: r[0])
    e = {
        "seconds": round(best_s, 4),
        "seconds_all": [round(r[0], 4) for r in runs],
        "cpu_seconds": round(best_cpu, 4),
        "repeats": REPEATS,
        # the split of the best run (it adds up to "seconds", up to the timer's own cost)
        "ks_seconds": round(best_parts["ks"], 4),
        "psi_seconds": round(best_parts["psi"], 4),
        "js_seconds": round(best_parts["js"], 4),
        "wasserstein_seconds": round(best_parts["wasserstein"], 4),
        "prep_seconds": round(best_parts["prep"], 4),
        "notes": "per feature, NaNs dropped; ks_2samp default method (asymp at these sizes); "
                 "PSI and JS over the reference's unique decile edges (searchsorted 'left'), PSI on "
                 "proportions clipped at 1e-4, JS base 2 on the unclipped proportions; "
                 "wasserstein_distance on all values. prep = column copy, NaN drop, missing rates; "
                 "psi = quantile edges + binning of both samples + PSI; js = jensenshannon only.",
        "drifted_ks_p05": sum(1 for v in values.values() if v["ks_pvalue"] < 0.05),
        "drifted_psi_0_1": sum(1 for v in values.values() if v["psi"] > 0.1),
        "per_feature": values,
    }
    return e


# ---------------------------------------------------------------- evidently (child process)
def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def evidently_child(workdir, window, repeats, budget_s) -> int:
    """Runs in its own process: load, build DataFrames, then time the report up to
    `repeats` times, printing one JSON line per event on stdout."""
    if EVIDENTLY_MEM_LIMIT_GB > 0:
        lim = int(EVIDENTLY_MEM_LIMIT_GB * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    import warnings

    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    with open(os.path.join(workdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    f = manifest["features"]
    names = manifest["feature_names"]
    entry = dict(windows_of(manifest))[window]
    ref = load_matrix(workdir, manifest["reference"], f)
    cur = load_matrix(workdir, entry, f)
    t = time.perf_counter()
    ref_df = pd.DataFrame(ref, columns=names)
    cur_df = pd.DataFrame(cur, columns=names)
    df_s = time.perf_counter() - t
    emit({"event": "loaded", "dataframe_seconds": round(df_s, 4)})

    snapshot = None
    spent = 0.0
    last = 0.0
    n_warnings = 0
    for i in range(repeats):
        if i > 0 and spent + last > budget_s:
            emit({"event": "budget", "runs": i})
            break
        emit({"event": "start", "run": i})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.perf_counter()
            c = time.process_time()
            report = Report([DataDriftPreset()])
            snapshot = report.run(current_data=cur_df, reference_data=ref_df)
            last = time.perf_counter() - t
            cpu = time.process_time() - c
        n_warnings += len(caught)
        spent += last
        emit({"event": "done", "run": i, "seconds": round(last, 4), "cpu_seconds": round(cpu, 4)})

    # what the report found (not timed)
    d = snapshot.dict()
    per_column, method, drifted, threshold = {}, None, None, None
    for m in d.get("metrics", []):
        cfg = m.get("config", {})
        kind = cfg.get("type", "")
        if kind.endswith("ValueDrift"):
            per_column[cfg.get("column")] = float(m["value"])
            method = cfg.get("method")
            threshold = cfg.get("threshold")
        elif kind.endswith("DriftedColumnsCount"):
            drifted = {k: float(v) for k, v in m["value"].items()}
    emit({"event": "result", "method": method, "threshold": threshold,
          "drifted_columns": drifted, "per_column": per_column, "metrics": len(d.get("metrics", [])),
          "warnings_during_timed_runs": n_warnings,
          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    return 0


def bench_evidently(workdir, window):
    """Start the child, watch its events with a per-run timeout, never raise."""
    err = tempfile.TemporaryFile(mode="w+")
    cmd = [sys.executable, os.path.abspath(__file__), "--evidently-child", workdir, window,
           str(REPEATS), str(EVIDENTLY_BUDGET_S)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, bufsize=0, start_new_session=True)
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    runs, result, loaded, why_stopped = [], None, None, None
    deadline = time.monotonic() + CHILD_LOAD_TIMEOUT_S
    phase = "loading data and building the DataFrames"
    pending = []  # complete lines not handled yet
    partial = b""
    timed_out = False
    eof = False
    try:
        while True:
            if not pending:
                if eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                if not sel.select(timeout=min(left, 5.0)):
                    continue
                chunk = os.read(fd, 1 << 16)  # raw reads: no userspace buffer hiding lines from select()
                if not chunk:
                    eof = True  # child closed stdout (exited)
                    chunk = b"\n"
                *lines, partial = (partial + chunk).split(b"\n")
                pending.extend(lines)
                continue
            line = pending.pop(0).strip()
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = ev.get("event")
            if kind == "loaded":
                loaded = ev
                deadline = time.monotonic() + EVIDENTLY_TIMEOUT_S
            elif kind == "start":
                phase = f"run {ev['run'] + 1}"
                deadline = time.monotonic() + EVIDENTLY_TIMEOUT_S
                log(f"  evidently {window}: {phase} ...")
            elif kind == "done":
                runs.append(ev)
                log(f"  evidently {window}: run {ev['run'] + 1}: {ev['seconds']:.2f}s")
                deadline = time.monotonic() + CHILD_LOAD_TIMEOUT_S  # next start, or the result
                phase = "collecting the result"
            elif kind == "budget":
                why_stopped = (f"stopped after {ev['runs']} run(s): another would pass "
                               f"EVIDENTLY_BUDGET_S={EVIDENTLY_BUDGET_S:g}")
            elif kind == "result":
                result = ev
    except BaseException:  # interrupted: do not leave the child running
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if timed_out:
        os.killpg(proc.pid, signal.SIGKILL)
    rc = proc.wait()
    sel.close()
    proc.stdout.close()
    err.seek(0)
    err_tail = "".join(err.readlines()[-15:]).strip()
    err.close()

    if timed_out:
        limit = EVIDENTLY_TIMEOUT_S if phase.startswith("run") else CHILD_LOAD_TIMEOUT_S
        reason = f"{phase} took more than {limit:g} s (killed)"
        if not runs:
            return {"skipped": reason}
        why_stopped = reason
    elif rc != 0 or result is None:
        if rc < 0:
            sig = signal.Signals(-rc).name
            reason = f"killed by {sig} during {phase}" + (" (out of memory?)" if sig == "SIGKILL" else "")
        else:
            reason = f"exit status {rc} during {phase}"
        if "MemoryError" in err_tail:
            reason += f": out of memory (address-space limit EVIDENTLY_MEM_LIMIT_GB={EVIDENTLY_MEM_LIMIT_GB:g})"
        elif err_tail:
            reason += ": " + err_tail.splitlines()[-1][:300]
        if not runs:
            return {"skipped": reason, "stderr_tail": err_tail[-2000:]}
        why_stopped = reason

    best = min(runs, key=lambda r: r["seconds"])
    e = {
        "seconds": best["seconds"],
        "seconds_all": [r["seconds"] for r in runs],
        "cpu_seconds": best["cpu_seconds"],
        "repeats": len(runs),
        "dataframe_seconds": (loaded or {}).get("dataframe_seconds"),
        "timed": "Report([DataDriftPreset()]).run(current_data=cur_df, reference_data=ref_df); "
                 "DataFrame construction not timed",
    }
    if why_stopped:
        e["notes"] = why_stopped
    if result:
        e.update({k: result[k] for k in ("method", "threshold", "drifted_columns", "metrics",
                                         "warnings_during_timed_runs", "peak_rss_mb", "per_column")})
    return e


# ---------------------------------------------------------------- main
def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] == "--evidently-child":
        return evidently_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = os.path.abspath(sys.argv[1])
    with open(os.path.join(workdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    f = manifest["features"]
    names = manifest["feature_names"]
    if len(names) != f:
        raise SystemExit(f"manifest: {len(names)} feature_names for {f} features")
    t_start = time.perf_counter()
    ref = load_matrix(workdir, manifest["reference"], f)
    out = {}
    for window, entry in windows_of(manifest):
        if SKIP_1M and window == "1m":
            out[window] = {"scipy_numpy": {"skipped": "SKIP_1M=1"}, "evidently": {"skipped": "SKIP_1M=1"}}
            log(f"{window}: skipped (SKIP_1M=1)")
            continue
        cur = load_matrix(workdir, entry, f)
        log(f"{window}: reference {len(ref):,} rows vs current {len(cur):,} rows, {f} features")
        per_lib = {}
        try:
            per_lib["scipy_numpy"] = bench_scipy_numpy(ref, cur, names)
            e = per_lib["scipy_numpy"]
            log(f"  scipy_numpy {window}: {e['seconds']:.3f}s (ks {e['ks_seconds']:.3f}, psi {e['psi_seconds']:.3f}, "
                f"js {e['js_seconds']:.4f}, wasserstein {e['wasserstein_seconds']:.3f}, prep {e['prep_seconds']:.3f})")
        except Exception as ex:  # noqa: BLE001 - record and go on
            traceback.print_exc()
            per_lib["scipy_numpy"] = {"skipped": f"failed: {type(ex).__name__}: {ex}"}
        del cur
        if SKIP_EVIDENTLY:
            per_lib["evidently"] = {"skipped": "SKIP_EVIDENTLY=1"}
        else:
            try:
                per_lib["evidently"] = bench_evidently(workdir, window)
            except Exception as ex:  # noqa: BLE001
                traceback.print_exc()
                per_lib["evidently"] = {"skipped": f"failed: {type(ex).__name__}: {ex}"}
            e = per_lib["evidently"]
            if "skipped" in e:
                log(f"  evidently {window}: SKIPPED: {e['skipped']}")
            else:
                log(f"  evidently {window}: {e['seconds']:.3f}s best of {e['repeats']} "
                    f"({e.get('method')}; {e.get('drifted_columns')})")
        out[window] = per_lib

    libs = ["numpy", "scipy", "pandas", "evidently", "scikit-learn", "statsmodels", "pyarrow"]
    doc = {
        "benchmark": "drift-peers",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                    "machine": platform.machine(), "python": platform.python_version()},
        "library_versions": {k: version(k) for k in libs},
        "settings": {
            "repeats": REPEATS,
            "timing": "wall clock (time.perf_counter), best of repeats, one process",
            "threads_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                           "MKL_NUM_THREADS")},
            "evidently_timeout_s": EVIDENTLY_TIMEOUT_S,
            "evidently_budget_s": EVIDENTLY_BUDGET_S,
            "evidently_mem_limit_gb": EVIDENTLY_MEM_LIMIT_GB,
            "skip_evidently": SKIP_EVIDENTLY,
            "skip_1m": SKIP_1M,
        },
        "data": {"reference_rows": manifest["reference"]["rows"], "features": f,
                 "currents": {w: e["rows"] for w, e in windows_of(manifest)},
                 "generator_sha256": manifest.get("generator_sha256")},
        "elapsed_s": round(time.perf_counter() - t_start, 1),
        **out,
    }
    path = os.path.join(workdir, "peers.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    log(f"wrote {path} [{doc['elapsed_s']}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Merge the tree-inference benchmark results and print a table per model.

    python benchmarks/trees/report.py WORKDIR

Reads WORKDIR/manifest.json, WORKDIR/peers.json (bench_peers.py) and
WORKDIR/ferry.json (ferry-bench-trees; optional: without it only the peers are
shown). Writes WORKDIR/results.json. Exit status 0, or 1 when an input is missing
or unreadable.

ferry.json shape: {model: {"ferry": {single_us_median, single_us_p99,
batch_rows_per_s, batch_rows_per_s_2threads, load_ms, model_bytes_in_memory,
file_bytes, max_abs_diff_vs_reference}}}. A top-level "models" object holding
that mapping is accepted too; other top-level keys are kept as Ferry metadata.
"""
import json
import os
import sys
import time

AGREE_TOL = 1e-4


def load(path, required=True):
    if not os.path.exists(path):
        if required:
            raise SystemExit(f"report: missing {path}")
        return None
    with open(path) as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as e:
            raise SystemExit(f"report: {path} is not valid JSON: {e}")


def split_ferry(doc):
    """Return (models mapping, metadata) from ferry.json."""
    if doc is None:
        return {}, None
    if isinstance(doc.get("models"), dict):
        meta = {k: v for k, v in doc.items() if k != "models"}
        return doc["models"], meta or None
    models = {k: v for k, v in doc.items() if isinstance(v, dict) and "ferry" in v}
    meta = {k: v for k, v in doc.items() if k not in models}
    return models, meta or None


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_num(v, spec=",.0f", none="-"):
    return none if v is None else format(v, spec)


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}x"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = sys.argv[1]
    manifest = load(os.path.join(work, "manifest.json"))
    peers = load(os.path.join(work, "peers.json"))
    ferry_models, ferry_meta = split_ferry(load(os.path.join(work, "ferry.json"), required=False))
    if not ferry_models:
        print("report: no ferry.json (or no models in it): showing the peers only", file=sys.stderr)
    known = {m["name"] for m in manifest["models"]}
    for name in sorted(set(ferry_models) - known):
        print(f"report: WARNING: ferry.json has model '{name}', which is not in the manifest", file=sys.stderr)

    merged_models = {}
    summary = []
    mach = peers.get("machine", {})
    print()
    print(f"Tree inference, in process, single-threaded unless noted. CPU: {mach.get('cpu_model', '?')} "
          f"({mach.get('cpus', '?')} cpus)")
    lv = peers.get("library_versions", {})
    print("peers: " + ", ".join(f"{k} {v}" for k, v in lv.items()
                                if v and k in ("xgboost", "lightgbm", "treelite", "tl2cgen", "onnxruntime", "onnxmltools")))

    for m in manifest["models"]:
        name = m["name"]
        libs = dict(peers.get("models", {}).get(name, {}))
        fe = (ferry_models.get(name) or {}).get("ferry")
        if not libs and fe is None:
            continue
        if fe is not None:
            libs = {"ferry": fe, **libs}

        ok = lambda e: e is not None and "error" not in e and e.get("batch_rows_per_s")  # noqa: E731
        others = {k: v for k, v in libs.items() if k != "ferry" and ok(v)}
        best_batch_lib = max(others, key=lambda k: others[k]["batch_rows_per_s"], default=None)
        single_others = {k: v for k, v in others.items() if v.get("single_us_median")}
        best_single_lib = min(single_others, key=lambda k: single_others[k]["single_us_median"], default=None)
        fb = fe.get("batch_rows_per_s") if fe else None
        fs = fe.get("single_us_median") if fe else None
        get = lambda lib, key: (others.get(lib) or {}).get(key)  # noqa: E731
        ratios = {
            "batch_ferry_over_xgboost": ratio(fb, get("xgboost", "batch_rows_per_s")),
            "batch_ferry_over_lightgbm": ratio(fb, get("lightgbm", "batch_rows_per_s")),
            "batch_ferry_over_best_other": ratio(fb, get(best_batch_lib, "batch_rows_per_s")),
            "batch_best_other": best_batch_lib,
            "batch_2threads_over_1thread": ratio(fe.get("batch_rows_per_s_2threads") if fe else None, fb),
            # > 1 means Ferry is faster (lower latency)
            "single_xgboost_over_ferry": ratio(get("xgboost", "single_us_median"), fs),
            "single_lightgbm_over_ferry": ratio(get("lightgbm", "single_us_median"), fs),
            "single_best_other_over_ferry": ratio(get(best_single_lib, "single_us_median"), fs),
            "single_best_other": best_single_lib,
        }
        ratios = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ratios.items()}
        mem = None
        if fe and fe.get("model_bytes_in_memory") is not None:
            fbytes = fe.get("file_bytes") or m.get("file_bytes")
            mem = {"model_bytes_in_memory": fe["model_bytes_in_memory"], "file_bytes": fbytes,
                   "memory_over_file": round(fe["model_bytes_in_memory"] / fbytes, 4) if fbytes else None,
                   "load_ms": fe.get("load_ms")}

        shape = f"depth {m['max_depth']}" if m.get("max_depth") else f"{m.get('num_leaves')} leaves"
        st = m.get("stats", {})
        print()
        print(f"== {name}: {m['trees']} trees, {shape}, {m['features']} features, {m['format']} "
              f"{m['file_bytes']:,} B, {st.get('total_leaves', '?'):,} leaves; {m['rows']:,} rows")
        hdr = (f"{'library':<17} {'single us':>10} {'p99 us':>9} {'batch rows/s':>14} "
               f"{'max|diff|':>10} {'ferry/lib batch':>15} {'lib/ferry single':>16}")
        print(hdr)
        print("-" * len(hdr))
        for lib, e in libs.items():
            if e is None:
                continue
            if "error" in e:
                print(f"{lib:<17} FAILED: {e['error'][:100]}")
                continue
            d = e.get("max_abs_diff_vs_reference")
            flag = "" if d is None or d <= AGREE_TOL else "!"
            rb = "" if lib == "ferry" else fmt_ratio(ratio(fb, e.get("batch_rows_per_s")))
            rs = "" if lib == "ferry" else fmt_ratio(ratio(e.get("single_us_median"), fs))
            print(f"{lib:<17} {fmt_num(e.get('single_us_median'), ',.1f'):>10} "
                  f"{fmt_num(e.get('single_us_p99'), ',.1f'):>9} {fmt_num(e.get('batch_rows_per_s')):>14} "
                  f"{fmt_num(d, '.1e') + flag:>10} {rb:>15} {rs:>16}")
            if lib == "ferry" and e.get("batch_rows_per_s_2threads"):
                print(f"{'ferry (2 threads)':<17} {'':>10} {'':>9} {fmt_num(e['batch_rows_per_s_2threads']):>14}")
        if fe:
            print(f"batch: ferry/xgboost {fmt_ratio(ratios['batch_ferry_over_xgboost'])}, "
                  f"ferry/lightgbm {fmt_ratio(ratios['batch_ferry_over_lightgbm'])}, "
                  f"ferry/best other ({best_batch_lib or '-'}) {fmt_ratio(ratios['batch_ferry_over_best_other'])}; "
                  f"single row: ferry {fmt_num(fs, ',.1f')} us, best other ({best_single_lib or '-'}) "
                  f"{fmt_num(get(best_single_lib, 'single_us_median'), ',.1f')} us")
        if mem:
            print(f"ferry memory: {mem['model_bytes_in_memory']:,} B in memory vs {fmt_num(mem['file_bytes'])} B file "
                  f"({fmt_num(mem['memory_over_file'], '.2f')}x); load {fmt_num(mem['load_ms'], ',.1f')} ms")

        merged_models[name] = {
            "model": {k: m.get(k) for k in ("file", "format", "features", "rows", "trees", "max_depth",
                                             "num_leaves", "file_bytes", "stats")},
            "libraries": libs,
            "ratios": ratios,
            "ferry_memory": mem,
        }
        summary.append((name, fb, ratios, fs, get(best_single_lib, "single_us_median"), best_single_lib, mem))

    if ferry_models:
        print()
        hdr = (f"{'model':<16} {'ferry rows/s':>13} {'/xgboost':>9} {'/lightgbm':>9} {'/best':>7} "
               f"{'ferry us':>9} {'best us':>8} {'mem/file':>8}")
        print("Summary (batch ratios: ferry rows/s over the library's; 'best us': fastest other single row)")
        print(hdr)
        print("-" * len(hdr))
        for name, fb, r, fs, bs, bsl, mem in summary:
            print(f"{name:<16} {fmt_num(fb):>13} {fmt_ratio(r['batch_ferry_over_xgboost']):>9} "
                  f"{fmt_ratio(r['batch_ferry_over_lightgbm']):>9} {fmt_ratio(r['batch_ferry_over_best_other']):>7} "
                  f"{fmt_num(fs, ',.1f'):>9} {fmt_num(bs, ',.1f'):>8} "
                  f"{fmt_num(mem['memory_over_file'] if mem else None, '.2f'):>8}")

    bad = [(n, lib) for n, mm in merged_models.items() for lib, e in mm["libraries"].items()
           if e and "error" not in e and (e.get("max_abs_diff_vs_reference") or 0) > AGREE_TOL]
    for n, lib in bad:
        print(f"WARNING: {n}/{lib}: predictions differ from the reference by more than {AGREE_TOL} (marked '!')",
              file=sys.stderr)

    result = {
        "benchmark": "trees",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": peers.get("machine"),
        "library_versions": peers.get("library_versions"),
        "peer_settings": peers.get("settings"),
        "ferry_meta": ferry_meta,
        "agree_tolerance": AGREE_TOL,
        "models": merged_models,
    }
    out = os.path.join(work, "results.json")
    with open(out + ".tmp", "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    os.replace(out + ".tmp", out)
    print()
    print(f"results written to {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

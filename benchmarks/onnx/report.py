#!/usr/bin/env python3
"""Merge the ONNX benchmark results and print a Markdown table per model.

    python benchmarks/onnx/report.py WORKDIR

Reads WORKDIR/manifest.json (make_models.py), WORKDIR/ort.json (bench_ort.py) and
WORKDIR/ferry.json (ferry-bench-onnx; optional: without it only onnxruntime is shown).
Prints the report and writes it to WORKDIR/report.md; writes the merged numbers to
WORKDIR/results.json. Exit status 0 (targets missed included), or 1 when an input is
missing or unreadable.

ort.json / ferry.json shape: {model: {"onnxruntime" | "ferry": {single_us_median,
single_us_p99, batch_rows_per_s, batch100_rows_per_s, max_abs_diff_vs_reference,
labels_equal, ...}}}. A top-level "models" object holding that mapping is accepted too;
other top-level keys are kept as metadata.

Targets (the issue's): Ferry's single-row median latency below onnxruntime's for every
model, and Ferry's batch throughput (all N rows in one call) at least 2x onnxruntime's for
the tree ensembles (columns_rf, gbr, hgb, rf).
"""
import json
import os
import sys
import time

TREE_ENSEMBLES = ("columns_rf", "gbr", "hgb", "rf")
BATCH_TARGET = 2.0
AGREE_TOL = 1e-4  # relative to max(1, largest |reference value|) of the model's float outputs


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


def split(doc, key):
    """Return ({model: entry}, metadata) from ort.json / ferry.json."""
    if doc is None:
        return {}, None
    if isinstance(doc.get("models"), dict):
        models = doc["models"]
        meta = {k: v for k, v in doc.items() if k != "models"}
    else:
        models = {k: v for k, v in doc.items() if isinstance(v, dict) and isinstance(v.get(key), dict)}
        meta = {k: v for k, v in doc.items() if k not in models}
    return {k: v.get(key) for k, v in models.items() if isinstance(v, dict)}, meta or None


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_num(v, spec=",.0f", none="-"):
    return none if v is None else format(v, spec)


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}×"


def reference_scale(work, m):
    """Largest |value| over the float outputs of the reference file (1 if unreadable)."""
    try:
        with open(os.path.join(work, m["reference"])) as fh:
            outs = json.load(fh)["outputs"]
    except (OSError, KeyError, ValueError):
        return 1.0
    scale = 1.0
    for t in outs:
        if t.get("datatype") in ("FP32", "FP64"):
            vals = [abs(v) for v in t["data"] if isinstance(v, (int, float))]
            if vals:
                scale = max(scale, max(vals))
    return scale


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = sys.argv[1]
    manifest = load(os.path.join(work, "manifest.json"))
    ort_models, ort_meta = split(load(os.path.join(work, "ort.json")), "onnxruntime")
    ferry_models, ferry_meta = split(load(os.path.join(work, "ferry.json"), required=False), "ferry")
    if not ferry_models:
        print("report: no ferry.json (or no models in it): showing onnxruntime only", file=sys.stderr)
    known = {m["name"] for m in manifest["models"]}
    for name in sorted((set(ferry_models) | set(ort_models)) - known):
        print(f"report: WARNING: model '{name}' is not in the manifest", file=sys.stderr)

    ort_meta = ort_meta or {}
    mach = ort_meta.get("machine") or {}
    lv = ort_meta.get("library_versions") or {}
    md = []  # the Markdown report, line by line
    md.append("# ONNX inference in process, one thread: Ferry vs onnxruntime")
    md.append("")
    md.append(f"CPU: {mach.get('cpu_model', '?')} ({mach.get('cpus', '?')} cpus). "
              f"onnxruntime {lv.get('onnxruntime', '?')} (CPUExecutionProvider, intra_op 1, inter_op 1, sequential; "
              f"Python `sess.run(None, feeds)`). Models converted by skl2onnx {lv.get('skl2onnx', '?')} from "
              f"scikit-learn {lv.get('scikit-learn', '?')}.")
    if not ferry_models:
        md.append("")
        md.append("**No Ferry numbers** (no `ferry.json`): onnxruntime only, targets not evaluated.")
    md.append("")
    md.append("Single row: µs per call, median and p99, one row per call. Batch: rows/s, all rows in one call "
              "(10k) and the first 100 rows in one call (100). Ratios: onnxruntime's single-row median over "
              "Ferry's (\"× faster\"), Ferry's batch rows/s over onnxruntime's.")

    merged, summary = {}, []
    for m in manifest["models"]:
        name = m["name"]
        oe, fe = ort_models.get(name), ferry_models.get(name)
        if oe is None and fe is None:
            continue
        ok = lambda e: e is not None and "error" not in e  # noqa: E731
        val = lambda e, k: e.get(k) if ok(e) else None  # noqa: E731
        tree = name in TREE_ENSEMBLES
        tol = AGREE_TOL * reference_scale(work, m)
        r = {
            "single_ort_over_ferry": ratio(val(oe, "single_us_median"), val(fe, "single_us_median")),
            "single_p99_ort_over_ferry": ratio(val(oe, "single_us_p99"), val(fe, "single_us_p99")),
            "batch_ferry_over_ort": ratio(val(fe, "batch_rows_per_s"), val(oe, "batch_rows_per_s")),
            "batch100_ferry_over_ort": ratio(val(fe, "batch100_rows_per_s"), val(oe, "batch100_rows_per_s")),
        }
        r = {k: (round(v, 4) if v is not None else None) for k, v in r.items()}
        single_met = None if r["single_ort_over_ferry"] is None else r["single_ort_over_ferry"] > 1.0
        batch_met = (None if not tree or r["batch_ferry_over_ort"] is None
                     else r["batch_ferry_over_ort"] >= BATCH_TARGET)
        if fe is not None and "error" in fe:  # Ferry failed on the model: its targets are missed
            single_met, batch_met = False, (False if tree else None)
        diff_ok, agree = {}, {}
        for eng, e in (("ferry", fe), ("onnxruntime", oe)):
            if ok(e):
                d = e.get("max_abs_diff_vs_reference")
                diff_ok[eng] = d is None or d <= tol
                agree[eng] = diff_ok[eng] and e.get("labels_equal", True) is not False

        md.append("")
        md.append(f"## {name}")
        md.append("")
        ts = m.get("tree_stats")
        md.append(f"{m.get('description', '')}. {m['n_rows']:,} rows; ONNX {m['onnx_bytes']:,} B"
                  + (f", {ts['trees']} trees / {ts['nodes']:,} nodes" if ts else "")
                  + f"; operators: {', '.join(m.get('operators', []))}.")
        md.append("")
        md.append("| engine | single µs median | single µs p99 | batch rows/s (10k) | batch rows/s (100) "
                  "| max abs diff vs reference | labels equal | load ms |")
        md.append("| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: |")
        for eng, e in (("Ferry", fe), ("onnxruntime", oe)):
            if e is None:
                continue
            if "error" in e:
                md.append(f"| {eng} | FAILED: {str(e['error'])[:150].replace('|', '/')} | | | | | | |")
                continue
            d = e.get("max_abs_diff_vs_reference")
            flag = "" if diff_ok.get(eng.lower(), True) else " !"
            le = e.get("labels_equal")
            load_ms = e.get("load_ms", e.get("setup_ms"))
            md.append(f"| {eng} | {fmt_num(e.get('single_us_median'), ',.1f')} | {fmt_num(e.get('single_us_p99'), ',.1f')} "
                      f"| {fmt_num(e.get('batch_rows_per_s'))} | {fmt_num(e.get('batch100_rows_per_s'))} "
                      f"| {fmt_num(d, '.1e')}{flag} | {'-' if le is None else ('yes' if le else 'NO')}"
                      f"{'' if le is not False else ' !'} | {fmt_num(load_ms, ',.1f')} |")
        if ok(fe) and ok(oe):
            md.append("")
            md.append(f"Single row: Ferry {fmt_ratio(r['single_ort_over_ferry'])} faster (median; p99 "
                      f"{fmt_ratio(r['single_p99_ort_over_ferry'])}): target below onnxruntime "
                      f"**{'met' if single_met else 'MISSED'}**. "
                      f"Batch: Ferry/onnxruntime {fmt_ratio(r['batch_ferry_over_ort'])} (10k rows), "
                      f"{fmt_ratio(r['batch100_ferry_over_ort'])} (100 rows)"
                      + (f": target ≥ {BATCH_TARGET:g}× **{'met' if batch_met else 'MISSED'}**." if tree
                         else " (no batch target: not a tree ensemble)."))
        merged[name] = {
            "model": {k: m.get(k) for k in ("description", "onnx", "onnx_bytes", "n_rows", "operators", "opsets",
                                             "tree_stats", "tree_ensemble")},
            "ferry": fe,
            "onnxruntime": oe,
            "ratios": r,
            "agree_tolerance": tol,
            "agrees": agree,
            "targets": {"single_below_onnxruntime": single_met,
                        "batch_at_least_2x": batch_met if tree else "n/a"},
        }
        summary.append((name, tree, fe, oe, r, single_met, batch_met, agree))

    md.append("")
    md.append("## Summary")
    md.append("")
    md.append("| model | Ferry single µs | onnxruntime single µs | × faster | single target | Ferry batch rows/s "
              "| onnxruntime batch rows/s | batch ratio (10k) | batch ratio (100) | batch target | agrees |")
    md.append("| --- | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: | :---: | :---: |")
    yes_no = lambda v: "-" if v is None else ("met" if v else "**MISSED**")  # noqa: E731
    for name, tree, fe, oe, r, sm, bm, agree in summary:
        g = lambda e, k: e.get(k) if e and "error" not in e else None  # noqa: E731
        agrees = " / ".join(f"{'Ferry' if k == 'ferry' else 'ORT'} {'yes' if v else '**NO**'}" for k, v in agree.items())
        md.append(f"| {name} | {fmt_num(g(fe, 'single_us_median'), ',.1f')} | {fmt_num(g(oe, 'single_us_median'), ',.1f')} "
                  f"| {fmt_ratio(r['single_ort_over_ferry'])} | {yes_no(sm)} | {fmt_num(g(fe, 'batch_rows_per_s'))} "
                  f"| {fmt_num(g(oe, 'batch_rows_per_s'))} | {fmt_ratio(r['batch_ferry_over_ort'])} "
                  f"| {fmt_ratio(r['batch100_ferry_over_ort'])} | {yes_no(bm) if tree else 'n/a'} | {agrees or '-'} |")
    n_trees = sum(1 for s in summary if s[1])
    unmeasured = [s[0] for s in summary if s[5] is None]
    md.append("")
    if ferry_models:
        md.append(f"Targets: single row below onnxruntime on {sum(1 for s in summary if s[5])} of {len(summary)} models; "
                  f"batch ≥ {BATCH_TARGET:g}× on {sum(1 for s in summary if s[1] and s[6])} of {n_trees} tree ensembles "
                  f"({', '.join(TREE_ENSEMBLES)}). A model Ferry failed on counts as missed"
                  + (f"; without a ratio (a side missing): {', '.join(unmeasured)}." if unmeasured else "."))
    else:
        md.append("Targets not evaluated: no Ferry numbers.")
    md.append(f"\"agrees\": max abs diff from the reference (onnxruntime's outputs written by make_models.py) at most "
              f"{AGREE_TOL:g} × max(1, largest |reference value|), and labels equal; otherwise marked `!`.")

    text = "\n".join(md) + "\n"
    print()
    print(text, end="")
    with open(os.path.join(work, "report.md"), "w") as fh:
        fh.write(text)

    for name, *_rest in summary:
        for eng, good in merged[name]["agrees"].items():
            if not good:
                print(f"WARNING: {name}/{eng}: outputs differ from the reference (marked '!')", file=sys.stderr)

    result = {
        "benchmark": "onnx",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": mach,
        "library_versions": lv,
        "ort_settings": ort_meta.get("settings"),
        "ferry_meta": ferry_meta,
        "targets": {"single": "Ferry single-row median below onnxruntime's, every model",
                    "batch": f"Ferry batch (all rows) >= {BATCH_TARGET:g}x onnxruntime's: {', '.join(TREE_ENSEMBLES)}"},
        "models": merged,
    }
    out = os.path.join(work, "results.json")
    with open(out + ".tmp", "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    os.replace(out + ".tmp", out)
    print()
    print(f"report written to {os.path.relpath(os.path.join(work, 'report.md'))}, "
          f"results to {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Merge the feature-store benchmark results and print one markdown table.

    python benchmarks/features/report.py RESULTS_DIR

Reads RESULTS_DIR/feast.json (bench_feast.py, required) and, when present,
ferry-online.json, ferry-training.json (bench_ferry.py) and ferry-inprocess.json
(FERRY_BENCH_FEATURES: {"p50_us", "p99_us", ...}). Writes RESULTS_DIR/results.json.

ratio = Feast / Ferry: for times it is Ferry's speed-up, for memory how many times less
Ferry used (above 1: Ferry is better). Targets: online in-process p99 <= 30 us, HTTP p99
<= 1 ms, materialization >= 10x Feast, training set >= 10x Feast's fastest offline store.
Exit status 0, or 1 when feast.json is missing or unreadable.
"""
import json
import os
import sys
import time

TARGETS = {"inproc_p99_us": 30.0, "http_p99_us": 1000.0, "materialize_speedup": 10.0, "training_speedup": 10.0}


def load(path, required=False):
    if not os.path.exists(path):
        if required:
            raise SystemExit(f"report: missing {path}")
        return None
    with open(path) as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as e:
            raise SystemExit(f"report: {path} is not valid JSON: {e}")


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def ratio(feast, ferry):
    return None if feast is None or ferry is None or ferry <= 0 else feast / ferry


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "us":
        return f"{v:,.1f} µs" if v < 100 else f"{v:,.0f} µs"
    if unit == "s":
        return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"
    if unit == "MB":
        return f"{v:,.0f} MB"
    return str(v)


def fmt_x(v):
    return "-" if v is None else f"{v:.1f}x" if v >= 10 else f"{v:.2f}x"


def verdict(ok):
    return "-" if ok is None else ("**met**" if ok else "**not met**")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    res = sys.argv[1]
    feast = load(os.path.join(res, "feast.json"), required=True)
    fon = load(os.path.join(res, "ferry-online.json"))
    ftr = load(os.path.join(res, "ferry-training.json"))
    finp = load(os.path.join(res, "ferry-inprocess.json"))
    if not (fon or ftr or finp):
        print("report: no Ferry results: showing Feast only", file=sys.stderr)

    d = feast.get("data", {})
    on, tr = d.get("online", {}), d.get("training", {})
    fm, fo, ft = feast["materialize"], feast["online_inprocess"], feast["training_set"]
    rows = []  # (metric, ferry, feast, ratio, target, verdict, note)

    def add(metric, ferry_v, feast_v, unit, target="", ok=None, note="", show_ratio=True):
        r = ratio(feast_v, ferry_v) if show_ratio else None
        rows.append((metric, fmt(ferry_v, unit), fmt(feast_v, unit), fmt_x(r), target, verdict(ok), note))
        return r

    # Online, in-process
    fi50, fi99 = get(finp, "p50_us"), get(finp, "p99_us")
    add("online read in-process, 1 card x 10 features, p50", fi50, fo.get("p50_us"), "us",
        note="Ferry: FERRY_BENCH_FEATURES" + ("" if finp else " not run") + "; Feast: get_online_features, SQLite")
    add("online read in-process, p99", fi99, fo.get("p99_us"), "us", "≤ 30 µs",
        None if fi99 is None else fi99 <= TARGETS["inproc_p99_us"])
    # Online, HTTP
    h = (fon or {}).get("http_online") or {}
    hp50, hp99 = get(h, "p50_us"), get(h, "p99_us")
    add("online read HTTP (1 conn), p50", hp50, fo.get("p50_us"), "us",
        note="Feast column: its in-process read (no Feast HTTP server is measured)")
    add("online read HTTP (1 conn), p99", hp99, fo.get("p99_us"), "us", "≤ 1 ms",
        None if hp99 is None else hp99 <= TARGETS["http_p99_us"], note="POST /api/v1/features/online, Python keep-alive client")
    hc = (fon or {}).get("http_feast_compat") or {}
    if hc:
        add("online read HTTP /get-online-features, p99", get(hc, "p99_us"), fo.get("p99_us"), "us",
            note="Feast's wire format on Ferry")
    # Materialize
    mat = (fon or {}).get("materialize") or {}
    ms = get(mat, "seconds")
    r = ratio(fm.get("seconds"), ms)
    add(f"materialize {on.get('source_rows', 0):,} rows -> {on.get('entities', 0):,} cards x 10", ms, fm.get("seconds"), "s",
        "≥ 10x", None if r is None else r >= TARGETS["materialize_speedup"],
        note=f"Feast: {fm.get('fastest')} offline store -> SQLite; Ferry: CLI wall time")
    add("materialize: Ferry server peak RSS", get(mat, "server_peak_rss_mb"), None, "MB", show_ratio=False,
        note="lifetime peak" if mat.get("server_peak_rss_is_lifetime") else "")
    # Training set
    ts = (ftr or {}).get("training_set") or {}
    tss = get(ts, "seconds")
    r = ratio(ft.get("seconds"), tss)
    add(f"training set {tr.get('entity_rows', 0):,} x {tr.get('source_rows', 0):,} (CSV in -> CSV out)", tss,
        ft.get("seconds"), "s", "≥ 10x", None if r is None else r >= TARGETS["training_speedup"],
        note=f"Feast: {ft.get('fastest')} store, read_csv + get_historical_features().to_df() + CSV write"
        + (f"; fastest of {len(ts['runs_seconds'])} each (Ferry {', '.join(f'{x:.2f}' for x in ts['runs_seconds'])} s; "
           f"Feast {', '.join(f'{x:.1f}' for x in ft.get('runs_seconds', []))} s)" if len(ts.get("runs_seconds", [])) > 1 else ""))
    add("training set vs Feast's retrieval alone", tss, ft.get("retrieval_seconds"), "s",
        note="Feast without reading entities.csv and writing the CSV (conservative)")
    by = ft.get("by_store", {})
    for store, e in by.items():
        if store == ft.get("fastest"):
            continue
        if "skipped" in e:
            rows.append((f"training set, Feast {store} store", "-", "skipped", "-", "", "-", e["skipped"]))
        else:
            add(f"training set, Feast {store} store", tss, e.get("seconds"), "s")
    srv, cli = get(ts, "server_peak_rss_mb"), get(ts, "cli_peak_rss_mb")
    add("training set peak RSS: Ferry server / Feast process", srv, ft.get("peak_rss_mb"), "MB",
        note=(f"Feast includes ~{ft.get('baseline_rss_mb'):.0f} MB for its imports" if ft.get("baseline_rss_mb") else "")
        + ("; Ferry: lifetime peak" if ts.get("server_peak_rss_is_lifetime") else ""))
    add("training set peak RSS: Ferry server + CLI", None if srv is None or cli is None else srv + cli,
        ft.get("peak_rss_mb"), "MB", note=f"CLI alone {fmt(cli, 'MB')}")

    # Correctness notes
    notes = []
    for store, e in by.items():
        if "skipped" in e:
            continue
        if e.get("rows_missing"):
            notes.append(f"Feast {store} store returned {e['rows'] :,} rows for {tr.get('entity_rows', 0):,} entity rows "
                         f"({e['rows_missing']:,} rows with no candidate dropped).")
        if e.get("matches_reference") is False:
            notes.append(f"Feast {store} store's output differs from the reference point-in-time join.")
        elif e.get("matches_reference"):
            notes.append(f"Feast {store} store's output equals the reference point-in-time join.")
    checks = [*((fon or {}).get("checks") or []), *((ftr or {}).get("checks") or [])]
    for c in checks:
        notes.append(f"Ferry check {'passed' if c['ok'] else 'FAILED'}: {c['check']}"
                     + ("" if c["ok"] else f" ({ {k: v for k, v in c.items() if k not in ('check', 'ok')} })"))

    mach = feast.get("machine", {})
    lv = feast.get("library_versions", {})
    print()
    print(f"Feature store: Ferry vs Feast {lv.get('feast', '?')}. CPU: {mach.get('cpu_model', '?')} "
          f"({mach.get('cpus', '?')} cpus). Online: {on.get('entities', 0):,} cards; training: "
          f"{tr.get('entity_rows', 0):,} entity rows x {tr.get('source_rows', 0):,} feature rows.")
    print("ratio = Feast / Ferry (time: Ferry's speed-up; memory: times less; above 1: Ferry better)")
    print()
    print("| metric | Ferry | Feast | ratio | target | verdict | notes |")
    print("| --- | ---: | ---: | ---: | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for n in notes:
        print(f"- {n}")
    if notes:
        print()

    result = {
        "benchmark": "features",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": mach, "library_versions": lv, "data": d, "targets": TARGETS,
        "ratio_note": "ratio = Feast / Ferry; above 1 means Ferry is faster (or uses less memory)",
        "table": [dict(zip(["metric", "ferry", "feast", "ratio", "target", "verdict", "notes"], r)) for r in rows],
        "feast": {k: v for k, v in feast.items() if k != "online_sample"},
        "ferry": {"online": fon, "training": ftr, "inprocess": finp},
        "notes": notes,
    }
    path = os.path.join(res, "results.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

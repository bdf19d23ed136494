#!/usr/bin/env python3
"""Merge the drift benchmark results and print one table.

    python benchmarks/drift/report.py WORKDIR

Reads WORKDIR/peers.json (bench_peers.py) and WORKDIR/ferry.json (ferry-bench-drift;
optional: without it only the peers are shown). Writes WORKDIR/results.json.
Exit status 0, or 1 when an input is missing or unreadable.

ferry.json shape: {"100k": {"ferry": {"seconds": x, "seconds_1thread": y}}, "1m": {...}}.
A top-level "windows" object holding that mapping is accepted too; other top-level
keys are kept as Ferry metadata. If a window's "ferry" entry has "per_feature"
({feature: {ks_statistic, ks_pvalue, psi, js_distance, wasserstein, missing_rate_change}}),
the largest difference from scipy_numpy's values is reported as well.

Ratios are speed-ups: peer seconds / Ferry seconds (above 1: Ferry is faster).
"""
import json
import os
import sys
import time

WINDOW_ORDER = ["100k", "1m"]
PEERS = ["scipy_numpy", "evidently"]
COMPARED_VALUES = ["ks_statistic", "ks_pvalue", "psi", "js_distance", "wasserstein", "missing_rate_change"]


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


def is_window(v):
    return isinstance(v, dict) and any(isinstance(e, dict) for e in v.values()) and (
        "ferry" in v or any(k in v for k in PEERS))


def split_ferry(doc):
    """Return (windows mapping, metadata) from ferry.json."""
    if doc is None:
        return {}, None
    if isinstance(doc.get("windows"), dict):
        meta = {k: v for k, v in doc.items() if k != "windows"}
        return doc["windows"], meta or None
    windows = {k: v for k, v in doc.items() if isinstance(v, dict) and "ferry" in v}
    meta = {k: v for k, v in doc.items() if k not in windows}
    return windows, meta or None


def seconds(e):
    if not isinstance(e, dict) or "skipped" in e:
        return None
    s = e.get("seconds")
    return s if isinstance(s, (int, float)) and s > 0 else None


def ratio(a, b):
    return None if a is None or b is None or not b else round(a / b, 3)


def fmt_s(v):
    if v is None:
        return "-"
    return f"{v:.4f}" if v < 1 else f"{v:.3f}" if v < 100 else f"{v:.1f}"


def fmt_x(v):
    return "-" if v is None else f"{v:.1f}x" if v >= 10 else f"{v:.2f}x"


def value_diffs(ferry_pf, peer_pf):
    """Largest |ferry - scipy_numpy| per value over the features both have."""
    out = {}
    for key in COMPARED_VALUES:
        worst = None
        for name, fv in ferry_pf.items():
            a = (fv or {}).get(key)
            b = (peer_pf.get(name) or {}).get(key)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                d = abs(a - b)
                if worst is None or d > worst[0]:
                    worst = (d, name)
        if worst is not None:
            out[key] = {"max_abs_diff": worst[0], "feature": worst[1]}
    return out


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = sys.argv[1]
    peers = load(os.path.join(work, "peers.json"))
    ferry_windows, ferry_meta = split_ferry(load(os.path.join(work, "ferry.json"), required=False))
    if not ferry_windows:
        print("report: no ferry.json (or no windows in it): showing the peers only", file=sys.stderr)
    peer_windows = [k for k, v in peers.items() if is_window(v)]
    windows = [w for w in WINDOW_ORDER if w in peer_windows or w in ferry_windows]
    windows += sorted((set(peer_windows) | set(ferry_windows)) - set(windows))
    for w in sorted(set(ferry_windows) - set(peer_windows)):
        print(f"report: WARNING: ferry.json has window '{w}', which is not in peers.json", file=sys.stderr)

    mach = peers.get("machine", {})
    lv = peers.get("library_versions", {})
    print()
    print(f"Drift, 30 numeric features, reference 100,000 rows, wall clock, best of "
          f"{peers.get('settings', {}).get('repeats', '?')}. CPU: {mach.get('cpu_model', '?')} "
          f"({mach.get('cpus', '?')} cpus)")
    print("peers: " + ", ".join(f"{k} {v}" for k, v in lv.items()
                                if v and k in ("numpy", "scipy", "pandas", "evidently")))
    print("speed-up = peer seconds / Ferry seconds (above 1: Ferry is faster)")
    print()
    hdr = f"{'window':<7} {'library':<18} {'seconds':>10}  {'Ferry speed-up':>14}  {'(1 thread)':>10}  notes"
    print(hdr)
    print("-" * len(hdr))

    merged = {}
    for w in windows:
        pw = peers.get(w) if isinstance(peers.get(w), dict) else {}
        fe = (ferry_windows.get(w) or {}).get("ferry")
        fs = seconds(fe)
        fs1 = fe.get("seconds_1thread") if isinstance(fe, dict) else None
        fs1 = fs1 if isinstance(fs1, (int, float)) and fs1 > 0 else None
        rows = []
        if fe is not None:
            note = ""
            if isinstance(fe, dict):
                bits = []
                if fe.get("threads") is not None:
                    bits.append(f"{fe['threads']} threads")
                if isinstance(fe.get("reference_profile_seconds"), (int, float)):
                    bits.append(f"reference profile {fmt_s(fe['reference_profile_seconds'])} s, built once, not in seconds")
                if "skipped" in fe:
                    bits.append(f"skipped: {fe['skipped']}")
                note = "; ".join(bits)
            rows.append(("ferry", fs, None, None, note))
            if fs1 is not None:
                rows.append(("ferry (1 thread)", fs1, None, None, ""))
        for lib in PEERS:
            e = pw.get(lib)
            if e is None:
                continue
            s = seconds(e)
            note = ""
            if "skipped" in e:
                note = "skipped: " + str(e["skipped"])
            elif lib == "scipy_numpy":
                note = (f"ks {fmt_s(e.get('ks_seconds'))}, psi {fmt_s(e.get('psi_seconds'))}, "
                        f"js {fmt_s(e.get('js_seconds'))}, wasserstein {fmt_s(e.get('wasserstein_seconds'))}, "
                        f"prep {fmt_s(e.get('prep_seconds'))}")
            elif lib == "evidently":
                dc = e.get("drifted_columns") or {}
                note = f"{e.get('method', '?')}; {int(dc.get('count', 0))} drifted columns"
                if e.get("repeats", 0) < peers.get("settings", {}).get("repeats", 0):
                    note += f"; best of {e.get('repeats')}"
                if e.get("notes"):
                    note += f" ({e['notes']})"
            rows.append((lib, s, ratio(s, fs), ratio(s, fs1), note))
        for lib, s, r, r1, note in rows:
            print(f"{w:<7} {lib:<18} {fmt_s(s):>10}  {fmt_x(r):>14}  {fmt_x(r1):>10}  {note}")
        print()

        ratios = {
            "ferry_speedup_vs_scipy_numpy": ratio(seconds(pw.get("scipy_numpy")), fs),
            "ferry_speedup_vs_evidently": ratio(seconds(pw.get("evidently")), fs),
            "ferry_1thread_speedup_vs_scipy_numpy": ratio(seconds(pw.get("scipy_numpy")), fs1),
            "ferry_1thread_speedup_vs_evidently": ratio(seconds(pw.get("evidently")), fs1),
            "ferry_threads_speedup": ratio(fs1, fs),
        }
        entry = {"ferry": fe, **{lib: pw.get(lib) for lib in PEERS if lib in pw}, "ratios": ratios}
        sn = pw.get("scipy_numpy") or {}
        if isinstance(fe, dict) and isinstance(fe.get("per_feature"), dict) and isinstance(sn.get("per_feature"), dict):
            diffs = value_diffs(fe["per_feature"], sn["per_feature"])
            entry["ferry_vs_scipy_numpy_values"] = diffs
            if diffs:
                print(f"{w}: Ferry vs scipy_numpy values, max |diff|: " + ", ".join(
                    f"{k} {v['max_abs_diff']:.2e} ({v['feature']})" for k, v in diffs.items()))
                print()
        merged[w] = entry

    summary = []
    for w in windows:
        r = merged[w]["ratios"]
        bits = []
        for peer, label in (("scipy_numpy", "scipy+numpy"), ("evidently", "Evidently")):
            v, v1 = r[f"ferry_speedup_vs_{peer}"], r[f"ferry_1thread_speedup_vs_{peer}"]
            if v is not None:
                bits.append(f"vs {label} {fmt_x(v)}" + (f" (1 thread {fmt_x(v1)})" if v1 is not None else ""))
        if bits:
            summary.append(f"{w}: Ferry " + ", ".join(bits))
    if summary:
        print("Summary (speed-up, above 1: Ferry faster):")
        for line in summary:
            print("  " + line)
        print()

    result = {
        "benchmark": "drift",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": mach,
        "library_versions": lv,
        "settings": peers.get("settings"),
        "data": peers.get("data"),
        "ferry_meta": ferry_meta,
        "ratio_note": "speed-up = peer seconds / Ferry seconds; above 1 means Ferry is faster",
        "windows": merged,
    }
    path = os.path.join(work, "results.json")
    with open(path + ".tmp", "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

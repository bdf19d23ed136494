#!/usr/bin/env python3
"""Report of benchmarks/validate/run.sh.

    report.py RUN_DIR OUT_JSON OUT_TXT

RUN_DIR holds meta.json (the run), ferry-MODE-N.json (ferry_validate.py; MODE path or upload), ge-FORMAT-N.json (bench_ge.py, plus
`process_seconds` and `seconds` added by run.sh), check.json and check.txt (compare.py). The fastest of the
REPEATS runs counts per tool. Prints the report and writes it to OUT_TXT, the figures to OUT_JSON.
"""
import glob
import json
import os
import sys


def best(paths):
    runs = [json.load(open(p)) for p in paths]
    return min(runs, key=lambda r: r["seconds"]) if runs else None


def main():
    run, out_json, out_txt = sys.argv[1:4]
    meta = json.load(open(os.path.join(run, "meta.json")))
    check = json.load(open(os.path.join(run, "check.json")))
    check_txt = open(os.path.join(run, "check.txt")).read()
    rows = meta["rows"]
    mb = meta["input_bytes"] / 1e6
    modes = {mode: best(glob.glob(os.path.join(run, f"ferry-{mode}-[0-9]*.json"))) for mode in meta["ferry_modes"]}
    # The headline is the fastest way Ferry got the file (by path when it ran: no upload over loopback).
    ferry = min(modes.values(), key=lambda r: r["seconds"])
    headline = ferry["mode"]
    ge = {}
    for fmt in meta["ge_formats"]:
        ge[fmt] = best(glob.glob(os.path.join(run, f"ge-{fmt}-[0-9]*.json")))

    L = []
    L.append(f"# Data validation: Ferry vs Great Expectations {meta['versions']['great_expectations']} (pandas {meta['versions']['pandas']})")
    L.append("")
    L.append(f"- input: {meta['input_rel']}: {rows:,} rows x {len(meta['columns'])} columns, {mb:,.1f} MB "
             f"(examples/fraud's 12 features + id; {meta['repeated_keys']:,} repeated keys, {meta['repeated_rows']:,} repeated rows)")
    L.append(f"- expectations: {meta['expectations_rel']} ({meta['expectation_columns']} columns: type, range, not_null or null_rate each; "
             f"unique_key [id]; no duplicate rows; min_rows 1) = {meta['ge_expectations']} GE expectations")
    L.append(f"- machine: {meta['cpus']} cores, {meta['cpu_model']}; CPUs {meta['cpu_busy_pct_before_start']}% busy over 2 s before the run, "
             f"load average {meta['load_average_at_start']} at start, {meta['load_average_at_end']} at end")
    L.append(f"- ferry: {meta['ferry_version']} ({meta['ferry_bin_rel']}, sha256 {meta['ferry_sha256_16']}..., built {meta['ferry_mtime']}), git {meta['git_rev']}; "
             f"repeats: {meta['repeats']} (fastest counts)")
    L.append("")
    L.append("| tool | what is timed | seconds | rows/s | MB/s | GE / Ferry | CPU s | other CPU s | peak RSS MB |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    fs = ferry["seconds"]
    main_fmt = "COMPLETE" if "COMPLETE" in ge else next(iter(ge))
    what = {"path": "`ferry data validate --path FILE --json --quarantine` (the server reads the file, checks it, quarantine downloaded)",
            "upload": "`ferry data validate FILE --json --quarantine` (upload, check, quarantine downloaded)"}
    for mode, f in modes.items():
        s = f["seconds"]
        L.append(f"| ferry ({mode}) | {what[mode]} | {s:.2f} | {rows / s:,.0f} | {mb / s:,.1f} | {ge[main_fmt]['seconds'] / s:.1f} ({main_fmt}) | "
                 f"{f['server_cpu_seconds'] + f['cli_cpu_seconds']:.1f} (server {f['server_cpu_seconds']:.1f} + CLI {f['cli_cpu_seconds']:.1f}) | {f['other_cpu_seconds']:.1f} | "
                 f"{f['server_rss_peak_mb'] if f['server_rss_peak_mb'] is not None else '-'} (server VmHWM; {f['server_rss_before_mb']} before) |")
    figures = {"rows": rows, "input_bytes": meta["input_bytes"], "ferry": ferry, "ferry_modes": modes, "headline_mode": headline, "ge": {}}
    for fmt, g in ge.items():
        s = g["seconds"]
        rv = g["phases"]["read_csv"] + g["phases"]["validate"]
        L.append(f"| GE {fmt} | python start to result: start + imports {g['startup_seconds']:.1f} s, context + suite {g['phases']['context_and_suite']:.1f} s, read_csv {g['phases']['read_csv']:.1f} s, "
                 f"validate {g['phases']['validate']:.1f} s | {s:.2f} | {rows / s:,.0f} | {mb / s:,.1f} | **{s / fs:.1f}** (ferry {headline}) | {g['cpu_seconds']:.1f} | {g['other_cpu_seconds']:.1f} | {g['peak_rss_mb']:,.0f} |")
        L.append(f"| GE {fmt}, read + validate only | the same without Python's start and GE's import | {rv:.2f} | {rows / rv:,.0f} | {mb / rv:,.1f} | {rv / fs:.1f} | | | |")
        figures["ge"][fmt] = {"seconds": s, "read_validate_seconds": round(rv, 3), "ratio": round(s / fs, 2), "ratio_read_validate": round(rv / fs, 2), "run": g}
    L.append("")
    L.append(f"Ferry ({headline}): {ferry['quarantine_bytes']:,} bytes of quarantine written; server RSS {ferry['server_rss_before_mb']} MB before, "
             f"peak {ferry['server_rss_peak_mb']} MB, {ferry['server_rss_after_mb']} MB after."
             + " CPU s for GE: its process's user+system time (getrusage, including translating its results afterwards); peak RSS: "
             "ru_maxrss. Other CPU s: the rest of the machine's CPU time during the run (/proc/stat; should be near 0).")
    L.append("")
    ratio = ge[main_fmt]["seconds"] / fs
    fc = ferry["server_cpu_seconds"] + ferry["cli_cpu_seconds"]
    others = "".join(f"; {mode}: {ge[main_fmt]['seconds'] / f['seconds']:.1f}x" for mode, f in modes.items() if mode != headline)
    L.append(f"Target (Ferry >= 10x faster than Great Expectations): GE {main_fmt} / Ferry ({headline}) = {ratio:.1f}x -> {'MET' if ratio >= 10 else 'NOT MET'}"
             f" (read + validate only: {figures['ge'][main_fmt]['ratio_read_validate']:.1f}x; CPU seconds, which other work on the machine "
             f"disturbs less: {ge[main_fmt]['cpu_seconds'] / fc:.1f}x{others}).")
    figures["cpu_ratio"] = round(ge[main_fmt]["cpu_seconds"] / fc, 2)
    noisy = [name for name, r, own in [(f"ferry ({m})", f, f["seconds"]) for m, f in modes.items()] + [(f"GE {f}", g, g["seconds"]) for f, g in ge.items()]
             if r.get("other_cpu_seconds", 0) > 0.1 * own]
    if noisy:
        L.append("")
        L.append(f"WARNING: other work used the CPUs during the run of {', '.join(noisy)} (other CPU s above 10% of the run's seconds): "
                 "those wall-clock figures are noisy; rerun on a quiet machine (REPEATS=3) before quoting them.")
    L.append("")
    L.append(f"## Agreement ({'the tools agree, and match the input' if check['agree'] else 'MISMATCH'})")
    L.append("")
    L.append("```")
    L.append(check_txt.rstrip("\n"))
    L.append("```")
    for m in check["mismatches"]:
        L.append(f"MISMATCH: {m}")
    text = "\n".join(L) + "\n"
    with open(out_txt, "w") as fh:
        fh.write(text)
    figures["agree"] = check["agree"]
    figures["meta"] = meta
    with open(out_json, "w") as fh:
        json.dump(figures, fh, indent=1)
    print(text, end="")


if __name__ == "__main__":
    main()

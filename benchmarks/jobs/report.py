#!/usr/bin/env python3
"""Report of benchmarks/jobs/run.sh: merges the run's JSON files, prints Markdown, writes the results.

    report.py RUN_DIR RESULTS_JSON RESULTS_TXT

RUN_DIR holds meta.json (the run's settings), ferry-N.json / pandas-N.json / polars-N.json (one per repeat;
the fastest counts), check.json, and with the online measurement ferry-online.json, wrk-during.txt and
wrk-idle.txt (each with wrk's FERRY_BENCH line, see benchmarks/serve/infer.lua).
"""
import glob
import json
import os
import sys


def load(path):
    with open(path) as fh:
        return json.load(fh)


def wrk_line(path):
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith("FERRY_BENCH "):
            n = {k: float(v) for k, v in (p.split("=", 1) for p in line.split()[1:])}
            secs = n["duration_us"] / 1e6
            return {
                "requests": int(n["requests"]),
                "seconds": round(secs, 2),
                "rps": round(n["requests"] / secs, 1) if secs else 0.0,
                "p50_ms": round(n["p50_us"] / 1000, 3),
                "p90_ms": round(n["p90_us"] / 1000, 3),
                "p99_ms": round(n["p99_us"] / 1000, 3),
                "max_ms": round(n["max_us"] / 1000, 3),
                "non_2xx": int(n["status"]),
                "socket_errors": int(n["connect"] + n["read"] + n["write"] + n["timeout"]),
            }
    raise SystemExit(f"report.py: no FERRY_BENCH line in {path}:\n" + open(path).read()[-2000:])


def mb(v):
    return "-" if v is None else f"{v:,.0f}"


def best(run_dir, tool):
    runs = [load(p) for p in sorted(glob.glob(os.path.join(run_dir, f"{tool}-[0-9]*.json")))]
    if not runs:
        return None, []
    return min(runs, key=lambda r: r["seconds"]), [r["seconds"] for r in runs]


def main():
    run_dir, out_json, out_txt = sys.argv[1:4]
    meta = load(os.path.join(run_dir, "meta.json"))
    check = load(os.path.join(run_dir, "check.json"))
    rows = meta["rows"]
    results = {"meta": meta, "check": check, "tools": {}}
    order = ["ferry"] + [t for t in meta["peers"]]
    for tool in order:
        b, all_s = best(run_dir, tool)
        if b is None:
            raise SystemExit(f"report.py: no result for {tool} in {run_dir}")
        b["all_seconds"] = all_s
        results["tools"][tool] = b
    ferry = results["tools"]["ferry"]
    fs = ferry["seconds"]

    L = []
    L.append(f"## Batch scoring: {rows:,} rows, model `fraud` (XGBoost, 12 features), one CSV file")
    L.append("")
    L.append(f"Input `{meta['input_rel']}`: {meta['input_bytes'] / 1e6:,.1f} MB. Machine: {meta['cpus']} cores, "
             f"{meta['cpu_model']}. Ferry {meta['ferry_version']} ({meta['ferry_bin']}, sha256 {meta.get('ferry_sha256_16', '?')}…, "
             f"built {meta.get('ferry_mtime', '?')}); "
             f"{', '.join(f'{k} {v}' for k, v in meta['versions'].items())}. Git {meta['git_rev']}. "
             f"Best of {meta['repeats']} per tool. CPUs {meta.get('cpu_busy_pct_before_start', '?')}% busy just before the "
             f"run; load average (1/5/15 min) {meta.get('load_average_at_start', '?')} at the start, "
             f"{meta.get('load_average_at_end', '?')} at the end.")
    L.append("")
    L.append("| tool | seconds end to end | rows/s | ratio vs Ferry (tool s / Ferry s) | CPU s | peak RSS MB | other CPU s |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for tool in order:
        t = results["tools"][tool]
        ratio = t["seconds"] / fs if fs else float("nan")
        t["ratio_vs_ferry"] = round(ratio, 3)
        t["rows_per_second"] = round(rows / t["seconds"], 1) if t["seconds"] else None
        cpu = t["server_cpu_seconds"] if tool == "ferry" else t["cpu_seconds"]
        rss = t["server_rss_peak_mb"] if tool == "ferry" else t["peak_rss_mb"]
        label = {"ferry": "Ferry (`POST /api/v1/jobs` → results downloaded)",
                 "pandas": f"pandas + xgboost (read_csv engine `{t.get('engine')}`)",
                 "polars": "polars + xgboost"}.get(tool, tool)
        L.append(f"| {label} | {t['seconds']:.2f} | {t['rows_per_second']:,.0f} | {ratio:.2f}x | {cpu:.1f} | "
                 f"{mb(rss)} | {t.get('other_cpu_seconds', float('nan')):.1f} |")
    L.append("")
    L.append("- CPU s: the tool's own CPU time (Ferry: the server's, submit to download). Other CPU s: what the rest "
             "of the machine used meanwhile (/proc/stat; it includes the kernel writing the output back and, for Ferry, "
             "the polling client and curl). A few seconds more than that means something else was running and the "
             "row is not to be trusted.")
    L.append(f"- Ferry: submit {ferry['submit_seconds']:.3f} s, wait until a poll saw the job running "
             f"{ferry['queued_seconds']:.2f} s, running "
             f"{ferry['run_seconds_observed']:.2f} s (polls every {ferry['poll_interval_s']} s), download "
             f"{ferry['download_seconds']:.2f} s ({ferry['output_bytes'] / 1e6:,.1f} MB). "
             f"**Job-only time (started_at → finished_at): {ferry['job_seconds']:.0f} s** (whole seconds: Ferry's "
             f"timestamps have no fraction); progress.rows_per_second at the end: "
             f"{ferry['rows_per_second_reported'] or 0:,.0f}.")
    L.append(f"- Ferry server RSS: {ferry['server_rss_before_mb']:,.0f} MB before the job, peak (VmHWM) "
             f"{mb(ferry['server_rss_peak_mb'])} MB, "
             f"{ferry['server_rss_after_mb']:,.0f} MB after the download; CPU {ferry['server_cpu_seconds']:.1f} s "
             f"(utime+stime, submit to download).")
    for tool in order[1:]:
        t = results["tools"][tool]
        ph = t["phases"]
        L.append(f"- {tool}: load model {ph['load_model']:.2f} s, read {ph['read']:.2f} s, predict {ph['predict']:.2f} s, "
                 f"write {ph['write']:.2f} s; imports {t['import_seconds']:.2f} s and process wall "
                 f"{t.get('process_seconds', float('nan')):.2f} s (not in the end-to-end figure).")
    if meta["repeats"] > 1:
        L.append("- All runs (s): " + "; ".join(f"{k} {', '.join(f'{s:.2f}' for s in v['all_seconds'])}"
                                               for k, v in results["tools"].items()))
    L.append(f"- xgboost runs with its default nthread (every core: {meta['cpus']} here); Ferry scores each chunk on "
             f"every core. Outputs checked on all {rows:,} rows (row, id, predict within {check['tolerance']:g} of "
             f"examples/fraud/expected.json); max |diff| between tools on a {check['sample_rows']:,}-row sample: "
             + ", ".join(f"{k} {v['max_abs_diff_sample']:.1e}" for k, v in check["pairs"].items()) + ".")

    online = None
    if meta.get("online"):
        during = wrk_line(os.path.join(run_dir, "wrk-during.txt"))
        idle = wrk_line(os.path.join(run_dir, "wrk-idle.txt"))
        fo = load(os.path.join(run_dir, "ferry-online.json"))
        online = {"during_job": during, "idle": idle, "ferry_job_under_load": fo}
        results["online"] = online
        L.append("")
        L.append("### Online latency while a job runs (`POST /v2/models/fraud/infer`, wrk -t1 -c1, same server)")
        L.append("")
        L.append("| online requests | seconds | req/s | p50 ms | p99 ms | max ms | non-2xx / socket errors |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, w in (("idle (no job)", idle), ("during a batch job", during)):
            L.append(f"| {name} | {w['seconds']:.1f} | {w['rps']:,.0f} | {w['p50_ms']:.3f} | {w['p99_ms']:.3f} | "
                     f"{w['max_ms']:.1f} | {w['non_2xx']} / {w['socket_errors']} |")
        L.append("")
        L.append(f"- p99 idle {idle['p99_ms']:.3f} ms vs during the job {during['p99_ms']:.3f} ms "
                 f"({during['p99_ms'] / idle['p99_ms']:.1f}x). The job under this load took {fo['seconds']:.2f} s end "
                 f"to end (job-only {fo['job_seconds']:.0f} s) against {fs:.2f} s without it; server RSS peak "
                 f"{mb(fo['server_rss_peak_mb'])} MB.")
    text = "\n".join(L) + "\n"
    print(text)
    with open(out_txt, "w") as fh:
        fh.write(text)
    with open(out_json, "w") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")
    bad = []
    if online:
        for name in ("during_job", "idle"):
            if online[name]["non_2xx"]:
                bad.append(f"online {name}: {online[name]['non_2xx']} non-2xx responses")
    for b in bad:
        print(f"report.py: ERROR: {b}", file=sys.stderr)
    sys.exit(3 if bad else 0)


if __name__ == "__main__":
    main()

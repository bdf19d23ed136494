#!/usr/bin/env python3
"""Print the tracking benchmark's Markdown report.

    python benchmarks/tracking/report.py RESULTS_DIR

Reads RESULTS_DIR/search.json (bench_search.py), populate-ferry.json / populate-mlflow.json
(populate.py; either may be missing when a side was skipped) and meta.json (run.sh). Prints the
report and writes it to RESULTS_DIR/report.md. Exit status 0 (target missed and mismatches
included: they are printed in the report), or 1 when search.json is missing or unreadable.

Target (the issue's): Ferry's median for the metric filter + order by metric case with 100 runs per
page ('metric-100') under 200 ms at 100k runs x 50 metrics.
"""
import json
import os
import sys

TARGET_CASE = "metric-100"
TARGET_MS = 200.0


def load(path, required=False):
    if not os.path.exists(path):
        if required:
            raise SystemExit(f"report: missing {path}")
        return None
    try:
        with open(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise SystemExit(f"report: {path} is not valid JSON: {e}")


def ms(v):
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:,.1f} s"
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def dur(v):
    """Milliseconds with their unit: '420.8 ms', '466.5 s'."""
    return "-" if v is None else (f"{v / 1000:,.1f} s" if v >= 10_000 else f"{ms(v)} ms")


def fmt_ratio(r, lower=False):
    if r is None:
        return "-"
    return ("&ge; " if lower else "") + (f"{r:,.0f}x" if r >= 100 else f"{r:,.1f}x")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    res = sys.argv[1]
    doc = load(os.path.join(res, "search.json"), required=True)
    meta = load(os.path.join(res, "meta.json")) or {}
    pops = {n: load(os.path.join(res, f"populate-{n}.json")) for n in ("ferry", "mlflow")}
    cases = doc["cases"]
    names = [n for n in ("ferry", "mlflow") if any(n in c["servers"] for c in cases)]
    title = {"ferry": "Ferry", "mlflow": "MLflow"}

    md = ["# Run search: Ferry vs MLflow's tracking server", ""]
    md.append(f"{doc['runs']:,} runs x {doc['metrics']} metrics (one value each, step 0), 5 params and 3 tags per run, "
              f"one experiment; the same rows on both (seed {doc['seed']}), SQLite on both. "
              f"Ferry {meta.get('ferry_version') or '?'} (`ferry serve`, {meta.get('ferry_bin') or '?'}); "
              f"MLflow {meta.get('mlflow_version', '?')} (`mlflow server`, --workers {meta.get('mlflow_workers', '?')}). "
              f"CPU: {meta.get('cpu_model', '?')} ({meta.get('cpus', '?')} cpus).")
    md.append("")
    md.append(f"`POST /api/2.0/mlflow/runs/search` with `experiment_ids: [\"1\"]`, sequential on one keep-alive "
              f"connection (Python requests), {doc['repeats']} timed requests per case and server after "
              f"{doc['warmups']} warm-ups; ms from sending to the whole body read."
              + (" Ratio: MLflow's median over Ferry's." if len(names) == 2 else ""))
    md.append("")
    hdr = ["case", "filter", "matching", "page"]
    for n in names:
        hdr += [f"{title[n]} median", "p90", "min"]
    if len(names) == 2:
        hdr += ["MLflow / Ferry", "same page"]
    md.append("| " + " | ".join(hdr) + " |")
    md.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(hdr) - 2 - (1 if len(names) == 2 else 0)) +
                             (["---"] if len(names) == 2 else [])) + "|")
    notes, mismatch = [], False
    for c in cases:
        row = [f"`{c['id']}`", f"`{c['filter']}` order by `{', '.join(c['order_by'])}`",
               f"{c['matching_runs']:,}", f"{c['max_results']:,}"]
        for n in names:
            s = c["servers"].get(n) or {}
            cap = "*" if s.get("capped") else ""
            if s.get("skipped"):
                lb = s.get("lower_bound_ms")
                row += [f"not run (&ge; {ms(lb)})" if lb else "not run", "-", "-"]
                notes.append(f"`{c['id']}` on {title[n]}: not run, {s.get('reason')}"
                             + (f"; it is `{s.get('lower_bound_from')}`'s query with a bigger page, so its time is at "
                                f"least `{s.get('lower_bound_from')}`'s fastest ({dur(lb)})" if lb else "") + ".")
            elif s.get("error") and not s.get("n"):
                row += [f"error{cap}", "-", "-"]
            else:
                row += [ms(s.get("median_ms")) + cap, ms(s.get("p90_ms")), ms(s.get("min_ms"))]
            if s.get("capped"):
                notes.append(f"(*) `{c['id']}` on {title[n]}: the first request took {s['first_request_ms'] / 1000:,.1f} s, "
                             f"so the planned {doc['warmups'] - 1 + doc['repeats']} more would not fit in the case budget "
                             f"(CASE_BUDGET_S={doc['case_budget_s']:g} s): no warm-up, that request is timed, "
                             f"{s.get('n', 0)} timed request(s) in all.")
            if s.get("error"):
                notes.append(f"`{c['id']}` on {title[n]}: {s['error']} (after {s.get('n', 0)} timed request(s)).")
            if s.get("matches_expected") is False:
                mismatch = True
                notes.append(f"**MISMATCH** `{c['id']}` on {title[n]}: the first page is not the expected one "
                             f"({s.get('first_difference')}).")
        if len(names) == 2:
            f, m = (c["servers"].get(n) or {} for n in names)
            r = (m["median_ms"] / f["median_ms"]) if f.get("median_ms") and m.get("median_ms") else None
            lower = bool(m.get("skipped") and m.get("lower_bound_ms") and f.get("median_ms"))
            if lower:
                r = m["lower_bound_ms"] / f["median_ms"]
            same = c.get("same_page_across_servers")
            if same is False:
                mismatch = True
                notes.append(f"**MISMATCH** `{c['id']}`: Ferry and MLflow return different first pages.")
            row += [fmt_ratio(r, lower), {True: "yes", False: "**NO**", None: "-"}[same]]
        md.append("| " + " | ".join(row) + " |")

    # The target.
    md.append("")
    tc = next((c for c in cases if c["id"] == TARGET_CASE), None)
    fs = (tc or {}).get("servers", {}).get("ferry")
    if fs and fs.get("median_ms") is not None:
        met = fs["median_ms"] < TARGET_MS and fs.get("matches_expected") is not False
        scale = "" if doc["runs"] >= 100_000 and doc["metrics"] >= 50 else \
            f" (at {doc['runs']:,} x {doc['metrics']}, not the target's 100,000 x 50)"
        md.append(f"Target: Ferry under {TARGET_MS:.0f} ms on `{TARGET_CASE}`{scale}: "
                  f"**{'met' if met else 'MISSED'}** (median {ms(fs['median_ms'])} ms, p90 {ms(fs['p90_ms'])} ms).")
    else:
        md.append("Target: not evaluated (no Ferry figure for the issue's case).")

    # Answers and set-up.
    md.append("")
    md.append("| | " + " | ".join(title[n] for n in names) + " |")
    md.append("|---|" + "---:|" * len(names))

    def line(label, fn):
        md.append(f"| {label} | " + " | ".join(fn(n) for n in names) + " |")

    def page(n, key):
        s = next((c["servers"].get(n) for c in cases if c["id"] == TARGET_CASE and c["servers"].get(n)), None)
        return (s or {}).get("page", {}).get(key)

    line("rows written (populate.py)", lambda n: f"{sum(pops[n]['rows'].values()):,}" if pops.get(n) else "-")
    line("populate, s (generate + one transaction)", lambda n: f"{pops[n]['seconds']:,.1f}" if pops.get(n) else "-")
    line("database after populate, MiB", lambda n: f"{pops[n]['db_bytes'] / 2**20:,.0f}" if pops.get(n) else "-")
    line("start on the populated database, s", lambda n: str(meta.get(f"{n}_ready_s") or "-"))
    line(f"`{TARGET_CASE}` response, KiB", lambda n: f"{page(n, 'response_bytes') / 1024:,.0f}"
         if page(n, "response_bytes") else "-")
    line(f"`{TARGET_CASE}` first run: metrics / params / tags",
         lambda n: f"{page(n, 'first_run_metrics')} / {page(n, 'first_run_params')} / {len(page(n, 'first_run_tags') or [])}"
         if page(n, "runs") else "-")
    def all_match(n):
        got = [(c["servers"].get(n) or {}).get("matches_expected") for c in cases]
        got = [g for g in got if g is not None]
        return "-" if not got else ("yes" if all(got) else "**NO**") + f" ({len(got)} of {len(cases)} cases run)"
    line("first page = the expected run ids, in order", all_match)
    same_first = [c.get("same_first_run_across_servers") for c in cases]
    same_first = [x for x in same_first if x is not None]
    if len(names) == 2 and same_first:
        md.append(f"| first run of the page: the same info, metrics, params and tags on both | "
                  f"{'yes' if all(same_first) else '**NO**'} ({len(same_first)} of {len(cases)} cases) | |")

    if notes:
        md.append("")
        md += [f"- {x}" for x in notes]
    if mismatch:
        md.insert(2, "**MISMATCH: at least one server returned a different first page than expected; see below.**\n")
    text = "\n".join(md) + "\n"
    print(text)
    with open(os.path.join(res, "report.md"), "w") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

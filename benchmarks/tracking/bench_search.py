#!/usr/bin/env python3
"""Time `POST /api/2.0/mlflow/runs/search` on Ferry and on MLflow's tracking server, same requests.

    python bench_search.py --runs N --metrics M --seed S --out results.json \
        [--ferry URL --ferry-key KEY] [--mlflow URL] [--repeats 20] [--warmups 2] [--samples DIR]

Both servers hold the runs of tracking_data.py (populate.py). Case by case (in the order of
cases()), on each server one after the other, on one keep-alive `requests.Session` per server:
WARMUPS requests that are not timed, then REPEATS sequential timed requests. A request's time runs
from sending it to having read the whole response body (no JSON decoding). The first request's
answer is checked against the answer computed from the generated data (tracking_data.Data.expected:
the run ids of the first page, in order) and between the servers.

A slow server (MLflow at 100k runs takes minutes per request) is measured within time budgets.
A case is "capped" when its first request shows that the planned WARMUPS - 1 + REPEATS further
requests would take longer than --case-budget-s (default 300): that first request becomes its first
timed sample, there are no warm-ups, and the case gets as many timed requests as fit in the case
budget and in what is left of --server-budget-s (at least 1, at most REPEATS). A server with a
capped case then gets no case whose lower bound would take its time spent so far past
--server-budget-s (default 600): metric-1000 is metric-100's query with a bigger page, so it takes at
least metric-100's fastest time; a skipped case is recorded with that lower bound. 0 turns either
budget off. A request that takes more than --timeout-s (default 1200) ends the case for that server
("error"). Nothing is retried.

Exit status 0; 3 when a server's first page differs from the expected one (the results are still
written); 1 on a setup error.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracking_data as td  # noqa: E402

PATH = "/api/2.0/mlflow/runs/search"


def cases():
    # The issue's case first; metric-1000 last: it is metric-100's query with a bigger page, so a server
    # that is slow on metric-100 is at least as slow on it (see --server-budget-s).
    return [
        {"id": "metric-100", "label": "metric filter + order by metric, 100 per page (the issue's case)",
         "filter": "metrics.m3 < 0.5", "order_by": ["metrics.m7 DESC"], "max_results": 100,
         "expect": dict(metric_lt=("m3", 0.5), order_desc="m7", max_results=100)},
        {"id": "param-metric-100", "label": "param + metric filter + order by metric, 100 per page",
         "filter": "params.p1 = 'x' and metrics.m3 < 0.5", "order_by": ["metrics.m7 DESC"], "max_results": 100,
         "expect": dict(metric_lt=("m3", 0.5), order_desc="m7", max_results=100, param_eq=("p1", "x"))},
        {"id": "metric-1000", "label": "metric filter + order by metric, 1000 per page (MLflow's default page)",
         "filter": "metrics.m3 < 0.5", "order_by": ["metrics.m7 DESC"], "max_results": 1000,
         "at_least_as_slow_as": "metric-100",
         "expect": dict(metric_lt=("m3", 0.5), order_desc="m7", max_results=1000)},
    ]


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def describe_page(body: bytes):
    doc = json.loads(body)
    runs = doc.get("runs") or []
    ids = [r.get("info", {}).get("run_id") or r.get("info", {}).get("run_uuid") for r in runs]
    first = runs[0].get("data", {}) if runs else {}
    return ids, {
        "runs": len(runs),
        "has_next_page_token": bool(doc.get("next_page_token")),
        "first_run_metrics": len(first.get("metrics") or []),
        "first_run_params": len(first.get("params") or []),
        "first_run_tags": sorted(t.get("key") for t in first.get("tags") or []),
        "first_run_m7": next((m.get("value") for m in first.get("metrics") or [] if m.get("key") == "m7"), None),
        "response_bytes": len(body),
    }


def canonical_run(run):
    """A run as sorted JSON (lists of metrics, params and tags in key order): equal on both servers when
    they return the same content, whatever their field order and spacing."""
    if run is None:
        return None
    run = json.loads(json.dumps(run))
    for k in ("metrics", "params", "tags"):
        if isinstance(run.get("data", {}).get(k), list):
            run["data"][k] = sorted(run["data"][k], key=lambda e: json.dumps(e, sort_keys=True))
    return json.dumps(run, sort_keys=True, separators=(",", ":"))


def measure(name, session, url, headers, case, expected_ids, a, spent_before):
    body = {"experiment_ids": [str(td.EXPERIMENT_ID)], "filter": case["filter"], "order_by": case["order_by"],
            "max_results": case["max_results"]}
    out = {"server": name, "capped": False, "skipped": None, "error": None, "samples_ms": [], "warmups": 0,
           "spent_s": 0.0}

    def post():
        t = time.perf_counter()
        try:
            r = session.post(url + PATH, json=body, headers=headers, timeout=(30, a.timeout_s))
            content = r.content
        finally:
            out["spent_s"] += time.perf_counter() - t
        dt = time.perf_counter() - t
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {content[:300]!r}")
        return dt, content

    print(f"[tracking-bench]   {name}: {case['id']} ...", file=sys.stderr, flush=True)
    try:
        dt, content = post()
        out["first_request_ms"] = round(dt * 1000, 3)
        ids, page = describe_page(content)
        out["page"] = page
        first = (json.loads(content).get("runs") or [None])[0]
        out["first_run_canonical"] = canonical_run(first)
        if a.samples:  # the first run of the page as the server sent it, for a look at what each returns
            with open(os.path.join(a.samples, f"first-run-{name}-{case['id']}.json"), "w") as fh:
                json.dump(first, fh, indent=1)
        out["first_page_ids"] = ids
        out["matches_expected"] = ids == expected_ids
        planned = a.warmups - 1 + a.repeats
        if a.case_budget_s > 0 and dt * planned > a.case_budget_s:
            # Too slow for the planned requests: this one is the first timed sample, no warm-ups, and as many
            # more as fit in the case's budget and in what is left of the server's.
            out["capped"] = True
            out["samples_ms"].append(round(dt * 1000, 3))
            room = a.case_budget_s - dt
            if a.server_budget_s > 0:
                room = min(room, a.server_budget_s - spent_before - dt)
            repeats = max(0, min(a.repeats - 1, int(room // dt)))
            print(f"[tracking-bench]   {name}: the first request took {dt:.1f} s; {planned} more would take "
                  f"{dt * planned:,.0f} s (> {a.case_budget_s:g} s): it is timed sample 1 of {repeats + 1}, no warm-ups",
                  file=sys.stderr, flush=True)
        else:
            out["warmups"] = 1
            for _ in range(a.warmups - 1):
                post()
                out["warmups"] += 1
            repeats = a.repeats
        for _ in range(repeats):
            dt, content = post()
            out["samples_ms"].append(round(dt * 1000, 3))
    except (requests.RequestException, RuntimeError, ValueError) as e:
        out["error"] = f"{type(e).__name__}: {e}"[:500]
        print(f"[tracking-bench]   {name}: {case['id']} failed: {out['error']}", file=sys.stderr, flush=True)
    xs = out["samples_ms"]
    out["n"] = len(xs)
    out["median_ms"] = round(statistics.median(xs), 3) if xs else None
    out["p90_ms"] = round(pct(xs, 0.9), 3) if xs else None
    out["min_ms"] = min(xs) if xs else None
    out["spent_s"] = round(out["spent_s"], 3)
    return out


def budget_skip(name, case, done, a):
    """A skipped-case record when `name` is a slow server whose time so far plus the least this case can take
    passes --server-budget-s; else None. Only servers with a capped case are ever skipped."""
    if a.server_budget_s <= 0:
        return None
    mine = [c["servers"][name] for c in done if name in c["servers"]]
    if not any(s.get("capped") for s in mine):
        return None
    spent = sum(s.get("spent_s") or 0 for s in mine)
    base = next((c["servers"][name] for c in done if c["id"] == case.get("at_least_as_slow_as")), None)
    least = (base or {}).get("min_ms") or (base or {}).get("lower_bound_ms") or 0
    if spent + least / 1000 <= a.server_budget_s:
        return None
    rec = {"server": name, "skipped": "budget", "capped": False, "error": None, "samples_ms": [], "n": 0,
           "median_ms": None, "p90_ms": None, "min_ms": None, "spent_s": 0.0,
           "reason": f"{spent:,.0f} s spent on this server so far"
                     + (f", and this case takes at least {least / 1000:,.0f} s" if least else "")
                     + f"; the server's budget (SERVER_BUDGET_S) is {a.server_budget_s:g} s"}
    if least:
        rec["lower_bound_ms"] = least
        rec["lower_bound_from"] = case.get("at_least_as_slow_as")
    return rec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--metrics", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ferry")
    ap.add_argument("--ferry-key")
    ap.add_argument("--mlflow")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmups", type=int, default=2)
    ap.add_argument("--case-budget-s", type=float, default=300.0)
    ap.add_argument("--server-budget-s", type=float, default=600.0)
    ap.add_argument("--timeout-s", type=float, default=1200.0)
    ap.add_argument("--samples", help="folder to write the first run of each server's first page to")
    a = ap.parse_args()
    if a.metrics < 8:
        raise SystemExit("bench_search: the cases filter on m3 and order by m7: --metrics must be at least 8")
    if not a.ferry and not a.mlflow:
        raise SystemExit("bench_search: nothing to measure (neither --ferry nor --mlflow)")

    d = td.Data(a.runs, a.metrics, a.seed)
    servers = []
    if a.ferry:
        servers.append(("ferry", a.ferry.rstrip("/"), {"Authorization": f"Bearer {a.ferry_key}"}))
    if a.mlflow:
        servers.append(("mlflow", a.mlflow.rstrip("/"), {}))
    sessions = {name: requests.Session() for name, _, _ in servers}

    results, mismatch = [], False
    for case in cases():
        expected_ids, matching = d.expected(**case["expect"])
        entry = {k: case[k] for k in ("id", "label", "filter", "order_by", "max_results")}
        entry.update(matching_runs=matching, expected_page_runs=len(expected_ids), servers={})
        for name, url, headers in servers:
            skip = budget_skip(name, case, results, a)
            if skip:
                print(f"[tracking-bench]   {name}: {case['id']} skipped: {skip['reason']}", file=sys.stderr, flush=True)
                entry["servers"][name] = skip
                continue
            spent = sum(c["servers"][name].get("spent_s") or 0 for c in results if name in c["servers"])
            entry["servers"][name] = measure(name, sessions[name], url, headers, case, expected_ids, a, spent)
        pages = {n: s.get("first_page_ids") for n, s in entry["servers"].items() if s.get("first_page_ids") is not None}
        entry["same_page_across_servers"] = (len(set(map(tuple, pages.values()))) == 1) if len(pages) > 1 else None
        firsts = {n: s.pop("first_run_canonical", None) for n, s in entry["servers"].items()}
        firsts = {n: f for n, f in firsts.items() if f is not None}
        entry["same_first_run_across_servers"] = (len(set(firsts.values())) == 1) if len(firsts) > 1 else None
        for n, s in entry["servers"].items():
            if s.get("matches_expected") is False:
                mismatch = True
                got = s.get("first_page_ids") or []
                diff = next((i for i, (x, y) in enumerate(zip(got, expected_ids)) if x != y), min(len(got), len(expected_ids)))
                s["first_difference"] = {"index": diff, "got": got[diff] if diff < len(got) else None,
                                         "expected": expected_ids[diff] if diff < len(expected_ids) else None,
                                         "got_runs": len(got), "expected_runs": len(expected_ids)}
                print(f"[tracking-bench] MISMATCH: {n} {case['id']}: first page differs from the expected one at "
                      f"position {diff} ({s['first_difference']})", file=sys.stderr, flush=True)
            s.pop("first_page_ids", None)
        if entry["same_page_across_servers"] is False:
            mismatch = True
            print(f"[tracking-bench] MISMATCH: {case['id']}: Ferry and MLflow return different first pages",
                  file=sys.stderr, flush=True)
        results.append(entry)

    doc = {"runs": a.runs, "metrics": a.metrics, "seed": a.seed, "repeats": a.repeats, "warmups": a.warmups,
           "case_budget_s": a.case_budget_s, "server_budget_s": a.server_budget_s, "timeout_s": a.timeout_s,
           "client": {"python": platform.python_version(), "requests": requests.__version__},
           "cases": results}
    with open(a.out, "w") as fh:
        json.dump(doc, fh, indent=1)
    return 3 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())

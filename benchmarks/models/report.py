"""Report of benchmarks/models/run.sh: reads the step results in RUN_DIR (probe, register, registry, warmup, zipf,
cold .json) and the run's parameters from the environment, prints the tables and writes RESULTS_JSON.

    python report.py RUN_DIR MODEL_FILES_JSON RESULTS_JSON

Exit status 3 when a check failed (model memory above the budget, non-2xx answers in the Zipf run, cold-load p99
above COLD_TARGET_MS); the results are written anyway.
"""
import importlib.metadata as md
import json
import math
import os
import platform
import sys
import time


def load(run: str, name: str):
    path = os.path.join(run, f"{name}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def main() -> None:
    run, files_json, out_path = sys.argv[1:4]
    e = os.environ
    probe, reg, registry = load(run, "probe"), load(run, "register"), load(run, "registry")
    warmup, zipf, cold = load(run, "warmup"), load(run, "zipf"), load(run, "cold")
    files = json.load(open(files_json))
    budget_mb = float(e["BUDGET_MB"])
    target = float(e["COLD_TARGET_MS"])
    models, versions = int(e["MODELS"]), int(e["VERSIONS"])

    # What one model holds by Ferry's account: the probe's mean, else what was loaded at the end of the Zipf run.
    if probe:
        per_model = probe["mean_bytes"]
    elif zipf["after"]["models_loaded"]:
        per_model = zipf["after"]["models_memory_mb"] * 2**20 / zipf["after"]["models_loaded"]
    else:
        per_model = None
    fit = math.floor(budget_mb * 2**20 / per_model) if budget_mb and per_model else None

    z, zs = zipf["wrk"], zipf["server"]
    hist = zs["load_duration"]
    within = hist["cumulative"].get(f"{target:g}ms")  # loads that took at most the target (when it is a bound)
    share_in_target = f"{within / hist['loads']:.1%}" if within is not None and hist["loads"] else "-"
    checks = {
        "model_memory_within_budget": zipf["within_budget"] if budget_mb else None,
        "zipf_all_2xx": z["non_2xx"] == 0,
        "cold_load_p99_within_target": cold["cold_minus_warm"]["p99_ms"] <= target if cold["probes"] else None,
    }

    def reg_rate(lo: float, hi: float):
        """Registrations per second between the moments lo and hi of the versions were registered (interpolated
        between the once-a-second samples)."""
        total = reg["versions_registered"]
        pts = [(0.0, 0)] + [(t, n) for t, n, _ in reg["samples"] if n < total] + [(reg["seconds"], total)]

        def when(x: float) -> float:
            for (t0, n0), (t1, n1) in zip(pts, pts[1:]):
                if n1 >= x:
                    return t0 + (t1 - t0) * ((x - n0) / (n1 - n0) if n1 > n0 else 1.0)
            return pts[-1][0]

        t_lo, t_hi = when(lo * total), when(hi * total)
        return round((hi - lo) * total / (t_hi - t_lo), 1) if t_hi > t_lo else None

    result = {
        "benchmark": "models",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_rev": e["GIT_REV"],
        "parameters": {
            "models": models, "versions": versions, "distinct_files": int(e["DISTINCT"]), "trees": int(e["TREES"]),
            "depth": int(e["DEPTH"]), "registration_clients": int(e["CONCURRENCY"]), "budget_mb": budget_mb,
            "budget_from": "probe (fit share %s)" % e["FIT_SHARE"] if probe else "BUDGET_MB",
            "cold_load_wait_s": float(e["COLD_LOAD_WAIT"]), "zipf_s": float(e["ZIPF_S"]), "duration": e["DURATION"],
            "warmup": e["WARMUP"], "connections": int(e["CONNECTIONS"]), "wrk_threads": 2,
            "sample_every_s": float(e["SAMPLE_EVERY"]), "metrics_share": float(e["METRICS_SHARE"]),
            "cold_target_ms": target, "seed": int(e["SEED"]),
            "ferry_args": e["FERRY_ARGS"],
        },
        "machine": {"cpus": os.cpu_count(), "cpu_model": e["CPU_MODEL"], "kernel": platform.release(),
                    "load_average_at_start": e["LOAD_AT_START"], "load_average_at_end": e["LOAD_AT_END"],
                    "cpu_busy_pct_before_start": int(e["BUSY_AT_START"])},
        "tools": {"ferry_bin": e["FERRY_BIN"], "ferry_version": e["FERRY_VERSION"] or "unknown",
                  "ferry_sha256_16": e["FERRY_SHA256"], "ferry_mtime": e["FERRY_MTIME"], "wrk": e["WRK_VERSION"],
                  "python": platform.python_version(), "xgboost-cpu": md.version("xgboost-cpu"),
                  "numpy": md.version("numpy")},
        "model_files": {"count": len(files["files"]), "bytes_min": min(files["bytes"]), "bytes_max": max(files["bytes"])},
        "accounted_bytes_per_model": round(per_model) if per_model else None,
        "models_fitting_budget": fit,
        "rss_mb": {"no_models": float(e["RSS_EMPTY_MB"]), "after_registration": reg["rss_mb_after"],
                   "max_registration": reg["rss_mb_max"], "max_zipf": zipf["rss_mb_max"],
                   "end": float(e["RSS_END_MB"]), "peak_vmhwm": float(e["HWM_MB"])},
        "probe": probe, "registration": reg, "registry": registry, "warmup": warmup, "zipf": zipf, "cold": cold,
        "cold_loads_within_target_share": share_in_target,
        "registration_rate_first_last_10pct": [reg_rate(0, 0.1), reg_rate(0.9, 1.0)],
        "checks": checks,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")

    ok = lambda v: "-" if v is None else ("PASS" if v else "FAIL")
    f1 = lambda v: "-" if v is None else f"{v:,.1f}"
    print()
    print(f"Many-models benchmark: {models:,} models x {versions} version(s) = {models * versions:,} versions; "
          f"{len(files['files'])} distinct XGBoost files ({e['TREES']} trees, depth {e['DEPTH']}, "
          f"{min(files['bytes']) // 1024}-{max(files['bytes']) // 1024} KiB JSON)")
    print(f"budget {budget_mb:g} MiB ({result['parameters']['budget_from']}); Ferry accounts "
          f"{per_model / 1024:,.0f} KiB per loaded model -> {fit:,} models fit ({fit / models:.1%} of the names)"
          if fit else f"budget: {budget_mb:g} MiB (0 = none)")
    print(f"ferry {e['FERRY_SHA256']} ({e['FERRY_MTIME']}), {os.cpu_count()} CPUs, git {e['GIT_REV']}")
    print()
    print(f"registration ({reg['concurrency']} clients): {reg['versions_registered']:,} versions in {reg['seconds']:,} s "
          f"= {reg['per_second']:,} /s; per request p50 {reg['latency']['p50_ms']} ms, p99 {reg['latency']['p99_ms']} ms, "
          f"max {reg['latency']['max_ms']} ms")
    print(f"  rate: {reg_rate(0, 0.1)} /s over the first 10% of the versions, {reg_rate(0.9, 1.0)} /s over the last 10%")
    print(f"  CPU: server {reg['cpu']['server_s']} s, clients {reg['cpu']['client_s']} s, "
          f"rest of the machine {reg['cpu']['other_s']} s over {reg['cpu']['wall_s']} s")
    print(f"RSS: {result['rss_mb']['no_models']} MB with no models, {reg['rss_mb_after']} MB after registration "
          f"(max {reg['rss_mb_max']}), max {zipf['rss_mb_max']} MB in the Zipf run, peak (VmHWM) {e['HWM_MB']} MB")
    print()
    hdr = f"{'registry / router (sequential)':<38} {'calls':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'bytes':>11}"
    print(hdr)
    print("-" * len(hdr))
    for label, r in registry.items():
        print(f"{label:<38} {r['n']:>5} {r['p50_ms']:>9.2f} {r['p99_ms']:>9.2f} {r['max_ms']:>9.2f} {r['bytes']:>11,}")
    print()
    hdr = (f"{'Zipf run':<8} {'secs':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'non-2xx':>7} "
           f"{'503 cold':>8} {'sock err':>8} {'hit ratio':>9} {'loads':>7} {'mem max MiB':>11} {'RSS max':>8}")
    print(hdr)
    print("-" * len(hdr))
    for name, r in (("warm-up", warmup), ("measured", zipf)):
        if not r:
            continue
        w, s = r["wrk"], r["server"]
        print(f"{name:<8} {w['seconds']:>5.1f} {w['rps']:>8,.0f} {w['latency_ms']['p50']:>7.2f} {w['latency_ms']['p99']:>7.2f} "
              f"{w['latency_ms']['max']:>8.1f} {w['non_2xx']:>7} {s['unresolved_errors'].get('unavailable', 0):>8} "
              f"{sum(w['socket_errors'].values()):>8} {s['hit_ratio']:>9.4f} {s['loads']:>7,} "
              f"{r['models_memory_mb_max']:>11.1f} {r['rss_mb_max']:>8.1f}")
    print(f"(Zipf s={e['ZIPF_S']} over {models:,} names, wrk -t2 -c{e['CONNECTIONS']}; hit ratio = 1 - cold requests / "
          f"requests, from /metrics; {zs['inference_requests']:,} requests, {zs['cold_requests']:,} cold, "
          f"RSS every {e['SAMPLE_EVERY']} s, {zipf['metrics_samples']} samples of /metrics ({zipf['metrics_bytes'] / 2**20:.1f} MiB, "
          f"scrape max {zipf['scrape_seconds_max']} s))")
    print(f"CPU in the measured run: server {zipf['cpu']['server_s']} s ({zipf['server_cpu_ms_per_request']} ms per request), "
          f"wrk + client {zipf['cpu']['client_s']} s, rest of the machine {zipf['cpu']['other_s']} s over {zipf['cpu']['wall_s']} s")
    print()
    over = lambda mb: f"{mb:.2f}" + (" OVER" if budget_mb and mb > budget_mb else "")
    excess_kib = (zipf["models_memory_bytes_max"] - budget_mb * 2**20) / 1024
    print(f"model memory vs budget: max {zipf['models_memory_mb_max']:.2f} MiB of {budget_mb:g} MiB at every sample "
          f"of the Zipf run: {ok(checks['model_memory_within_budget'])} (registration max "
          f"{over(reg['models_memory_mb_max_sampled'])} in {reg['metrics_samples'] + 1} samples, warm-up max "
          f"{over(warmup['models_memory_mb_max']) if warmup else '-'})")
    if budget_mb and excess_kib > 0:
        print(f"  above the budget in {zipf['samples_above_budget']} of {zipf['memory_samples']} samples (the last one right "
              f"after the run), by at most {excess_kib:.0f} KiB = {excess_kib * 1024 / per_model:.2f} models' worth")
    print(f"cold loads in the Zipf run (ferry_model_load_duration_seconds, bucket resolution): {hist['loads']:,} loads, "
          f"mean {f1(hist['mean_ms'])} ms, p50 ~{hist['p50_ms_est']} ms, p99 ~{hist['p99_ms_est']} ms; "
          f"{share_in_target} within {target:g} ms")
    c = cold
    print()
    hdr = f"{'cold-load probe (' + str(c['probes']) + ' tail models)':<34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(hdr)
    print("-" * len(hdr))
    for label, key in (("1st request (cold)", "cold"), ("2nd request (warm)", "warm"), ("difference (the load)", "cold_minus_warm")):
        print(f"{label:<34} {c[key]['p50_ms']:>8.2f} {c[key]['p99_ms']:>8.2f} {c[key]['max_ms']:>8.2f}")
    print(f"cold load p99 {c['cold_minus_warm']['p99_ms']:.2f} ms vs target {target:g} ms: "
          f"{ok(checks['cold_load_p99_within_target'])}")
    print()
    print(f"results written to {os.path.relpath(out_path)}")
    failed = [k for k, v in checks.items() if v is False]
    for k in failed:
        print(f"FAILED: {k}", file=sys.stderr)
    for name, r in (("registration", reg), ("warm-up", warmup), ("Zipf run", zipf), ("cold-load probe", cold)):
        if r and r["cpu"]["other_s"] > 0.1 * r["cpu"]["wall_s"] * (os.cpu_count() or 1):
            print(f"WARNING: during the {name} the rest of the machine used {r['cpu']['other_s']} CPU s in "
                  f"{r['cpu']['wall_s']} s: other work was running and the figures are skewed", file=sys.stderr)
    if sum(z["socket_errors"].values()):
        print(f"WARNING: socket errors in the Zipf run: {z['socket_errors']}", file=sys.stderr)
    sys.exit(3 if failed else 0)


if __name__ == "__main__":
    main()

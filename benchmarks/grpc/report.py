"""Report of benchmarks/grpc/run.sh: reads runs.tsv, writes results.txt (markdown) and results.json in OUT_DIR.

  report.py RUNS_TSV OUT_DIR CLK_TCK DURATION GRPC_INPUT H2LOAD_VERSION WRK_VERSION MLSERVER_VERSION GIT_REV
            FERRY_BIN BODY_JSON

runs.tsv: target, connections, threads, server CPU ticks over the run, and either wrk's FERRY_BENCH line
(serve/infer.lua) or `H2LOAD out=FILE log=FILE answer_bytes=N`. For h2load, req/s is completed requests over its
measured duration, and p50/p99 are nearest-rank percentiles of the per-request times in its --log-file.

Exit status 3 when any run had a failed or non-2xx request, or gRPC answers without a message (h2load counts
HTTP 200 even when grpc-status != 0; such an answer carries no DATA, so the data bytes per request fall short).
"""
import json
import math
import os
import platform
import re
import sys
import time

(tsv, out_dir, clk_tck, duration, grpc_input, h2load_version, wrk_version, mls_version, git_rev, ferry_bin,
 body_json) = sys.argv[1:12]
clk_tck = int(clk_tck)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def parse_h2load(out_path, log_path, answer_bytes):
    text = open(out_path).read()

    def grab(pattern):
        m = re.search(pattern, text, re.M)
        if not m:
            raise SystemExit(f"report.py: cannot find /{pattern}/ in {out_path}:\n{text}")
        return m

    m = grab(r"^finished in ([\d.]+)(s|ms|us), ([\d.]+) req/s")
    secs = float(m.group(1)) * {"s": 1, "ms": 1e-3, "us": 1e-6}[m.group(2)]
    m = grab(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
             r"(\d+) timeout")
    total, started, done, succeeded, failed, errored, timeout = map(int, m.groups())
    m = grab(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
    s2, s3, s4, s5 = map(int, m.groups())
    m = grab(r"^traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data")
    data_bytes = int(m.group(3))
    durations = []
    statuses = {}
    for line in open(log_path):
        parts = line.split("\t")
        if len(parts) >= 3:
            statuses[parts[1]] = statuses.get(parts[1], 0) + 1
            durations.append(int(parts[2]))
    durations.sort()
    data_per_2xx = data_bytes / s2 if s2 else 0.0
    # Every grpc-status 0 answer carries one message of answer_bytes (give or take a varying prediction id).
    missing_messages = s2 and data_per_2xx < 0.95 * answer_bytes
    return {
        "requests": done,
        "duration_s": round(secs, 3),
        "rps": round(done / secs, 1) if secs else 0.0,
        "latency_ms": {
            "mean": round(sum(durations) / len(durations) / 1000, 3) if durations else None,
            "p50": round(percentile(durations, 50) / 1000, 3),
            "p90": round(percentile(durations, 90) / 1000, 3),
            "p99": round(percentile(durations, 99) / 1000, 3),
            "max": round(durations[-1] / 1000, 3) if durations else None,
        },
        "logged_requests": len(durations),
        "log_status_codes": statuses,
        "failed": failed + errored + timeout,
        "non_2xx": s3 + s4 + s5,
        "data_bytes": data_bytes,
        "data_bytes_per_2xx": round(data_per_2xx, 1),
        "answer_bytes": answer_bytes,
        "answers_without_message": bool(missing_messages),
        "h2load": {"total": total, "started": started, "done": done, "succeeded": succeeded, "failed": failed,
                   "errored": errored, "timeout": timeout},
    }


def parse_wrk(line):
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    n = {k: float(v) for k, v in kv.items()}
    reqs = int(n["requests"])
    secs = n["duration_us"] / 1e6
    return {
        "requests": reqs,
        "duration_s": round(secs, 3),
        "rps": round(reqs / secs, 1) if secs else 0.0,
        "latency_ms": {k: round(n[f"{k}_us"] / 1000, 3) for k in ("mean", "p50", "p90", "p99", "max")},
        "failed": int(n["connect"] + n["read"] + n["write"] + n["timeout"]),
        "non_2xx": int(n["status"]),
        "answers_without_message": False,
    }


rows = []
for raw in open(tsv):
    target, conns, threads, ticks, line = raw.rstrip("\n").split("\t")
    if line.startswith("FERRY_BENCH "):
        r = parse_wrk(line)
        tool = "wrk"
    else:
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        r = parse_h2load(kv["out"], kv["log"], int(kv["answer_bytes"]))
        tool = "h2load"
    cpu_s = int(ticks) / clk_tck
    rows.append({"target": target, "connections": int(conns), "threads": int(threads), "tool": tool, **r,
                 "server_cpu_s": round(cpu_s, 2),
                 "cpu_us_per_request": round(cpu_s * 1e6 / r["requests"], 1) if r["requests"] else None})

by = {(r["target"], r["connections"]): r for r in rows}
for r in rows:
    base = by.get(("ferry-grpc", r["connections"]))
    r["vs_ferry_grpc"] = round(r["rps"] / base["rps"], 3) if base and base["rps"] else None

conn_list = sorted({r["connections"] for r in rows})
lines = [
    f"gRPC benchmark: 1-row Open Inference Protocol ModelInfer, model 'fraud' (12 FP32 features), "
    f"{duration} per run, gRPC input as {'raw_input_contents' if grpc_input == 'raw' else 'FP32 typed contents'}",
    "",
    "| target | conns | req/s | p50 ms | p99 ms | vs Ferry gRPC |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
]
for c in conn_list:
    for r in rows:
        if r["connections"] == c:
            ratio = "-" if r["vs_ferry_grpc"] is None else f"{r['vs_ferry_grpc']:.2f}x"
            lines.append(f"| {r['target']} | {c} | {r['rps']:.0f} | {r['latency_ms']['p50']:.3f} | "
                         f"{r['latency_ms']['p99']:.3f} | {ratio} |")
lines += [
    "",
    "| target | conns | tool | requests | failed/non-2xx | server CPU µs/req |",
    "| --- | ---: | --- | ---: | ---: | ---: |",
]
for c in conn_list:
    for r in rows:
        if r["connections"] == c:
            cpu = "-" if r["cpu_us_per_request"] is None else f"{r['cpu_us_per_request']:.1f}"
            lines.append(f"| {r['target']} | {c} | {r['tool']} | {r['requests']} | {r['failed']}/{r['non_2xx']} | {cpu} |")
lines += [
    "",
    f"ferry-grpc and ferry-rest are one Ferry server (`--auth none`); mlserver-grpc is MLServer {mls_version} + "
    "mlserver-xgboost on the same model.json.",
    f"{h2load_version}; {wrk_version}; git {git_rev}; {os.cpu_count()} CPUs; "
    f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
]
text = "\n".join(lines) + "\n"

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "results.txt"), "w") as fh:
    fh.write(text)
result = {
    "benchmark": "grpc",
    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "git_rev": git_rev,
    "duration": duration,
    "grpc_request": json.load(open(body_json)),
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()},
    "tools": {"h2load": h2load_version, "wrk": wrk_version, "mlserver": mls_version},
    "ferry_bin": ferry_bin,
    "results": rows,
}
with open(os.path.join(out_dir, "results.json"), "w") as fh:
    json.dump(result, fh, indent=2)
    fh.write("\n")

print()
print(text)
print(f"results written to {os.path.relpath(os.path.join(out_dir, 'results.txt'))} (and results.json)")

bad = False
for r in rows:
    where = f"{r['target']} -c{r['connections']}"
    if r["failed"]:
        print(f"ERROR: {where}: {r['failed']} failed requests (socket errors / h2load failed+errored+timeout)",
              file=sys.stderr)
        bad = True
    if r["non_2xx"]:
        print(f"ERROR: {where}: {r['non_2xx']} non-2xx responses", file=sys.stderr)
        bad = True
    if r["answers_without_message"]:
        print(f"ERROR: {where}: {r['data_bytes_per_2xx']} DATA bytes per 2xx answer, a good answer is "
              f"{r['answer_bytes']}: some answers had no message (grpc-status != 0)", file=sys.stderr)
        bad = True
    if r["tool"] == "h2load" and r["logged_requests"] != r["requests"]:
        print(f"WARNING: {where}: h2load logged {r['logged_requests']} requests but reports {r['requests']} done",
              file=sys.stderr)
sys.exit(3 if bad else 0)

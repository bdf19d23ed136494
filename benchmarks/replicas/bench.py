#!/usr/bin/env python3
"""Replicas benchmark for benchmarks/replicas/run.sh (Python stdlib + wrk).

  bench.py --binary FERRY --work DIR --logs DIR --results FILE [--duration 10s] [--warmup 2s] [--connections 64]
           [--ops 200] [--skip-ops]

In one run, on this machine:
  1. serving: 1-row V2 infer of examples/fraud with wrk (benchmarks/serve/infer.lua) at --connections connections,
     after a warm-up, against
       sqlite        one `ferry serve` on its embedded SQLite store, called directly;
       pg            one replica on PostgreSQL, called directly (what PostgreSQL alone changes);
       pg+nginx x1   the same replica behind nginx (what the proxy adds);
       pg+nginx x3   three replicas on one PostgreSQL behind nginx;
     req/s, latency percentiles, errors and prediction log records written/dropped, and req/s ratios to sqlite;
  2. store operations through the HTTP API, one client on a keep-alive connection straight to a server, N times
     each (median and p99 in ms): alias read (GET aliases), registration (POST a version, raw upload of the example
     model made unique), alias move (PUT an alias, alternating between two versions) — on SQLite, on PostgreSQL
     with one replica, and on PostgreSQL with three replicas running (each change is then followed by the others).

PostgreSQL, nginx and the replicas are started by scripts/replicas/scenario.py's helpers (imported, not copied).
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "replicas"))
import scenario  # noqa: E402  (PostgreSQL, nginx, replicas, clients)
from scenario import Connection, Nginx, Postgres, Replica, SetupError, artifact_bytes, log  # noqa: E402

LUA = os.path.join(ROOT, "benchmarks", "serve", "infer.lua")
# A large tree model (844 KB, 255-leaf trees) for the artifact load times.
LARGE_ARTIFACT = os.path.join(ROOT, "Tests", "FerryRuntimesTests", "Fixtures", "lightgbm", "leaves255.model.txt")
BODY = os.path.join(ROOT, "examples", "fraud", "request.json")
INFER = "/v2/models/fraud/infer"


def wrk(url, key, connections, duration, out_path):
    """Runs wrk against url + INFER; the FERRY_BENCH numbers infer.lua prints, as floats."""
    threads = 1 if connections < 2 else 2
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", LUA, url + INFER, "--", BODY]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, FERRY_API_KEY=key))
    with open(out_path, "w") as f:
        f.write(" ".join(command) + "\n" + run.stdout)
    line = next((l for l in run.stdout.splitlines() if l.startswith("FERRY_BENCH ")), None)
    if run.returncode != 0 or line is None:
        raise SetupError(f"wrk failed against {url} (see {out_path}):\n{run.stdout[-1500:]}")
    return {k: float(v) for k, v in (p.split("=", 1) for p in line.split()[1:])}


def log_counts(replicas):
    """Prediction log records written and dropped, batches written and the seconds they took, summed over the
    replicas' /metrics."""
    totals = [0.0, 0.0, 0.0, 0.0]
    for r in replicas:
        m = r.metrics()
        for i, name in enumerate(("ferry_prediction_log_written_total", "ferry_prediction_log_dropped_total",
                                  "ferry_prediction_log_batches_total", "ferry_prediction_log_batch_seconds_total")):
            totals[i] += scenario.metric(m, name) or 0.0
    return totals


def smoke(url, key):
    """One real request must answer 200 before wrk runs (else wrk would measure errors)."""
    status, answer, _ = scenario.Client(url, key).call("POST", INFER, open(BODY, "rb").read())
    if status != 200:
        raise SetupError(f"POST {INFER} on {url} answered {status}: {str(answer)[:300]}")


def measure(name, url, key, replicas, args):
    log(f"{name}: warm-up {args.warmup}, then wrk -c{args.connections} -d{args.duration} on {url}")
    smoke(url, key)
    wrk(url, key, 8, args.warmup, os.path.join(args.logs, f"wrk-{name}-warmup.txt"))
    before = log_counts(replicas)
    n = wrk(url, key, args.connections, args.duration, os.path.join(args.logs, f"wrk-{name}.txt"))
    time.sleep(0.5)   # the log writes every 50 ms: let the last batch land before counting
    after = log_counts(replicas)
    seconds = n["duration_us"] / 1e6
    row = {
        "config": name, "replicas": len(replicas), "requests": int(n["requests"]), "duration_s": round(seconds, 3),
        "rps": round(n["requests"] / seconds, 1) if seconds else 0.0,
        "latency_ms": {k: round(n[f"{k}_us"] / 1000, 3) for k in ("mean", "p50", "p90", "p99", "max")},
        "non_2xx": int(n["status"]), "socket_errors": int(n["connect"] + n["read"] + n["write"] + n["timeout"]),
        "log_written": int(after[0] - before[0]), "log_dropped": int(after[1] - before[1]),
    }
    batches = after[2] - before[2]
    # The prediction log's batch insert: mean time per batch and rows per batch during the run.
    row["log_batch_ms"] = round((after[3] - before[3]) / batches * 1000, 3) if batches else None
    row["log_rows_per_batch"] = round(row["log_written"] / batches, 1) if batches else None
    log(f"{name}: {row['rps']:.0f} req/s, p50 {row['latency_ms']['p50']} ms, p99 {row['latency_ms']['p99']} ms, "
        f"non-2xx {row['non_2xx']}, log written {row['log_written']} dropped {row['log_dropped']}, "
        f"batch insert {row['log_batch_ms']} ms for {row['log_rows_per_batch']} rows")
    return row


def quantile(sorted_values, q):
    """Nearest-rank quantile of sorted values."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def store_ops(name, replica, key, n, model):
    """Median and p99 (ms) of alias read, registration and alias move, N each, on one keep-alive connection."""
    conn = Connection(replica.url, key)

    def timed(method, path, body=None, content_type="application/json"):
        t0 = time.perf_counter()
        status, raw, _ = conn.request(method, path, body, timeout=60, content_type=content_type)
        elapsed = (time.perf_counter() - t0) * 1000
        if status not in (200, 201):
            raise SetupError(f"{method} {path} on {replica.name} answered {status}: {raw[:300]!r}")
        return elapsed, json.loads(raw)

    registration, versions = [], []
    nonce = int(time.time()) % 100000 * 1000
    for i in range(n):
        ms, answer = timed("POST", f"/api/v1/models/{model}/versions?description=bench", artifact_bytes(nonce + i),
                           "application/octet-stream")
        registration.append(ms)
        versions.append(answer["version"])
    moves = []
    for i in range(n):
        body = json.dumps({"version": versions[i % 2], "reason": "bench"}).encode()
        moves.append(timed("PUT", f"/api/v1/models/{model}/aliases/bench", body)[0])
    reads = [timed("GET", f"/api/v1/models/{model}/aliases")[0] for _ in range(n)]
    conn.close()
    results = {}
    for op, values in (("alias read", reads), ("registration", registration), ("alias move", moves)):
        values.sort()
        results[op] = {"median_ms": round(quantile(values, 0.5), 3), "p99_ms": round(quantile(values, 0.99), 3), "n": n}
    log(f"store ops on {name}: " + "; ".join(f"{op} {v['median_ms']:.2f}/{v['p99_ms']:.2f} ms" for op, v in results.items()))
    return results


def artifact_loads(replicas, key, rounds):
    """Load time (ferry_model_load_seconds: read the artifact, verify it, parse, warm up) of a large model on the
    replica that registered it (the artifact is in its local cache, as on SQLite) and on the others, which fetch its
    chunks from PostgreSQL when the alias they follow moves to it. Median over `rounds` fresh registrations."""
    with open(LARGE_ARTIFACT, "rb") as f:
        base = f.read()
    local, remote = [], []
    for i in range(rounds):
        # The same model with a different comment line: new bytes, so nobody has it cached.
        data = base + f"\n# bench {time.time_ns()} {i}\n".encode()
        conn = Connection(replicas[0].url, key)
        status, raw, _ = conn.request("POST", "/api/v1/models/bench-artifact/versions", data, timeout=120,
                                      content_type="application/octet-stream")
        if status not in (200, 201):
            raise SetupError(f"registering the large artifact answered {status}: {raw[:300]!r}")
        version = json.loads(raw)["version"]
        status, raw, _ = conn.request("PUT", "/api/v1/models/bench-artifact/aliases/production",
                                      json.dumps({"version": version}).encode(), timeout=120)
        conn.close()
        if status != 200:
            raise SetupError(f"moving the alias answered {status}: {raw[:300]!r}")

        def load_seconds(r):
            for (name, labels), value in r.metrics().items():
                if name == "ferry_model_load_seconds" and ("model", "bench-artifact") in labels and ("version", str(version)) in labels:
                    return value
            return None
        local.append(load_seconds(replicas[0]))
        for r in replicas[1:]:
            value = scenario.wait_for(lambda: load_seconds(r), 30, 0.05)
            if value is None:
                raise SetupError(f"{r.name} never loaded bench-artifact/{version}")
            remote.append(value)
    local.sort()
    remote.sort()
    result = {"artifact_bytes": len(base), "rounds": rounds,
              "local_cache_ms": round(quantile(local, 0.5) * 1000, 2), "from_postgresql_ms": round(quantile(remote, 0.5) * 1000, 2)}
    log(f"artifact load ({len(base)} bytes): local cache {result['local_cache_ms']} ms, from PostgreSQL {result['from_postgresql_ms']} ms (medians)")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--warmup", default="2s")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--skip-ops", action="store_true")
    parser.add_argument("--pg-fsync", default="on", help="PostgreSQL fsync (on: as a real deployment; off: memory-speed)")
    args = parser.parse_args()
    os.chdir(ROOT)
    os.makedirs(args.logs, exist_ok=True)
    key = "fry_benchrep_" + os.urandom(18).hex()
    rows, ops, loads = [], {}, None
    started = []
    pg = nginx = None
    try:
        # 1. SQLite alone.
        sqlite = Replica("sqlite", args.binary, args.work, os.path.join(args.work, "data-sqlite"), None, key,
                         extra=["--example", scenario.EXAMPLE])
        started.append(sqlite)
        sqlite.start()
        sqlite.wait_ready()
        rows.append(measure("sqlite", sqlite.url, key, [sqlite], args))
        if not args.skip_ops:
            ops["sqlite"] = store_ops("sqlite", sqlite, key, args.ops, "bench-sqlite")
        sqlite.stop()

        # 2. PostgreSQL: one replica, direct and behind nginx; then three behind nginx.
        pg = Postgres(args.work, settings={"fsync": args.pg_fsync, "synchronous_commit": "on"})
        url = pg.start()
        common = ["--rollout-interval", "1"]
        replicas = [Replica(f"replica{i + 1}", args.binary, args.work, os.path.join(args.work, f"data-replica{i + 1}"),
                            url, key, extra=common + (["--example", scenario.EXAMPLE] if i == 0 else []))
                    for i in range(3)]
        started += replicas
        replicas[0].start()
        replicas[0].wait_ready()
        rows.append(measure("pg", replicas[0].url, key, replicas[:1], args))
        nginx = Nginx(args.work, [replicas[0].port], name="nginx-1")
        nginx.start()
        rows.append(measure("pg+nginx x1", nginx.url, key, replicas[:1], args))
        if not args.skip_ops:
            ops["pg x1"] = store_ops("pg, 1 replica", replicas[0], key, args.ops, "bench-pg1")
        nginx.stop()
        for r in replicas[1:]:
            r.start()
        for r in replicas[1:]:
            r.wait_ready()
        nginx = Nginx(args.work, [r.port for r in replicas], name="nginx-3")
        nginx.start()
        rows.append(measure("pg+nginx x3", nginx.url, key, replicas, args))
        if not args.skip_ops:
            ops["pg x3"] = store_ops("pg, 3 replicas running", replicas[0], key, args.ops, "bench-pg3")
            loads = artifact_loads(replicas, key, rounds=5)
    except SetupError as error:
        print(f"\n[replicas-bench] ERROR: {error}", file=sys.stderr)
        for r in started:
            print(f"--- {r.name} ({r.log_path}), last 20 lines:\n{scenario.tail(r.log_path, 20)}", file=sys.stderr)
        return 1
    finally:
        if nginx:
            nginx.stop()
        for r in started:
            r.stop()
        if pg:
            pg.stop()
        for r in started:
            if os.path.exists(r.log_path):
                os.replace(r.log_path, os.path.join(args.logs, os.path.basename(r.log_path)))

    report(rows, ops, loads, args)
    return 3 if any(r["non_2xx"] for r in rows) else 0


def report(rows, ops, loads, args):
    base = next((r for r in rows if r["config"] == "sqlite"), None)
    for r in rows:
        r["rps_vs_sqlite"] = round(r["rps"] / base["rps"], 3) if base and base["rps"] else None
    wrk_version = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.splitlines()[0]
    nginx_version = subprocess.run([scenario.NGINX, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.strip()
    pg_version = os.path.basename(os.path.dirname(scenario.pg_bin_dir())) if not os.environ.get("FERRY_TEST_DATABASE_URL") else "external"
    git_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout.strip() or "unknown"
    result = {
        "benchmark": "replicas", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_rev": git_rev,
        "binary": args.binary, "duration": args.duration, "connections": args.connections, "pg_fsync": args.pg_fsync,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()},
        "tools": {"wrk": wrk_version, "nginx": nginx_version, "postgresql": pg_version},
        "serving": rows, "store_ops": ops, "artifact_load": loads,
        "store_ops_note": "one client, keep-alive, straight to a server (not through nginx); the prediction log's batch "
                          "insert is in the serving rows (log_batch_ms, log_rows_per_batch), from /metrics",
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    print()
    print(f"Replicas benchmark: 1-row V2 infer of examples/fraud, wrk -c{args.connections} -d{args.duration} per config "
          f"({os.cpu_count()} CPUs; PostgreSQL {pg_version}, fsync={args.pg_fsync})")
    header = (f"{'config':<13} {'replicas':>8} {'req/s':>10} {'vs sqlite':>10} {'p50 ms':>8} {'p99 ms':>8} {'non2xx/sock':>12} "
              f"{'log written/dropped':>20} {'batch ms/rows':>14}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = "-" if r["rps_vs_sqlite"] is None else f"{r['rps_vs_sqlite']:.2f}x"
        print(f"{r['config']:<13} {r['replicas']:>8} {r['rps']:>10.1f} {ratio:>10} {r['latency_ms']['p50']:>8.3f} "
              f"{r['latency_ms']['p99']:>8.3f} {str(r['non_2xx']) + '/' + str(r['socket_errors']):>12} "
              f"{str(r['log_written']) + '/' + str(r['log_dropped']):>20} "
              f"{str(r['log_batch_ms']) + '/' + str(r['log_rows_per_batch']):>14}")
    if ops:
        configs = list(ops)
        print()
        print(f"Store operations through the HTTP API (N={args.ops} each, one keep-alive client, straight to a server): "
              "median / p99 ms")
        others = [c for c in configs if c != "sqlite"]
        header = f"{'operation':<14}" + "".join(f" {c:>20}" for c in configs) + (
            "".join(f" {c + '/sqlite':>13}" for c in others) if "sqlite" in ops else "")
        print(header)
        print("-" * len(header))
        for op in ("alias read", "registration", "alias move"):
            line = f"{op:<14}" + "".join(f" {ops[c][op]['median_ms']:>9.2f} / {ops[c][op]['p99_ms']:>8.2f}" for c in configs)
            if "sqlite" in ops:
                line += "".join(f" {ops[c][op]['median_ms'] / ops['sqlite'][op]['median_ms']:>12.2f}x" for c in others)
            print(line)
        print("(pg x1: PostgreSQL, one replica; pg x3: PostgreSQL, three replicas running, each change followed by the "
              "other two; ratios are of medians)")
        if loads:
            print(f"artifact load ({loads['artifact_bytes']} bytes, LightGBM, read + verify + parse + warm-up; median of "
                  f"{loads['rounds']}): from the local cache {loads['local_cache_ms']:.2f} ms, fetched from PostgreSQL by "
                  f"another replica {loads['from_postgresql_ms']:.2f} ms")
        print("prediction log batch insert: 'batch ms/rows' in the serving table, the mean time of one batch write "
              "(ferry_prediction_log_batch_seconds_total / ferry_prediction_log_batches_total) and its mean rows, during "
              "each run; written off the request path. 'log written/dropped' shows whether the log kept up.")
    print()
    print(f"results written to {os.path.relpath(args.results, ROOT)}")
    for r in rows:
        if r["non_2xx"]:
            print(f"ERROR: {r['config']}: {r['non_2xx']} non-2xx responses", file=sys.stderr)
        if r["socket_errors"]:
            print(f"WARNING: {r['config']}: {r['socket_errors']} socket errors", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

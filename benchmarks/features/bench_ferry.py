#!/usr/bin/env python3
"""Measure Ferry's feature store through a running `ferry serve` and the `ferry features` CLI.

    python benchmarks/features/bench_ferry.py online   SIZE_DIR FEAST_JSON OUT_JSON
    python benchmarks/features/bench_ferry.py training SIZE_DIR FEAST_JSON OUT_JSON

run.sh starts one fresh server per phase and sets, in the environment:
  FERRY_BIN        the ferry binary (for the CLI)
  FERRY_URL        e.g. http://127.0.0.1:PORT
  FERRY_API_KEY    an admin key (the server's FERRY_ADMIN_KEY)
  FERRY_PID        the server's process id (its memory is read from /proc/PID/status)
  FERRY_WORK_DIR   scratch folder (CLI logs, train.csv)

online:   `ferry features apply online/definitions.json`; GET /api/v1/features/views/card_stats must
          answer 200 and list the 10 features; timed `ferry features materialize --start S --end E
          --views card_stats` (the window holds every source row); the online answers of the cards
          in FEAST_JSON's `online_sample` (100 known, 2 unknown) must equal Feast's; then
          POST /api/v1/features/online with 1 card x 10 features on one keep-alive connection
          (http.client): ONLINE_WARMUP (200) untimed, ONLINE_CALLS (5,000) timed requests, the same
          random known cards as Feast's in-process loop; every answer must be HTTP 200. The same
          loop against Feast's wire format, POST /get-online-features, unless SKIP_FEAST_COMPAT=1.
training: `ferry features apply training/definitions.json`; timed `ferry features training-set
          --entities training/entities.csv --features <10 refs> --out train.csv`; train.csv must have
          one row per entity row in input order, the entity columns and the 10 feature columns, and
          the values of the contract's point-in-time join (FEAST_JSON's reference_train.parquet,
          computed with pandas; see bench_feast.py).

Every timed CLI call records wall seconds, the CLI's own peak RSS (os.wait4 ru_maxrss), the
server's peak RSS during the call (VmHWM from /proc/PID/status, reset just before through
/proc/PID/clear_refs when the kernel allows it; otherwise it is the server's lifetime peak and
`server_peak_rss_is_lifetime` is true) and the server's CPU seconds (utime+stime).

Exit status: 0; 1 when a command or request fails (non-zero exit, HTTP status other than 200);
3 when Ferry answers but its values differ from the reference (OUT_JSON is still written,
with `checks`).
"""
import gc
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

import numpy as np

ONLINE_CALLS = int(os.environ.get("ONLINE_CALLS", "5000"))
ONLINE_WARMUP = int(os.environ.get("ONLINE_WARMUP", "200"))
SKIP_FEAST_COMPAT = os.environ.get("SKIP_FEAST_COMPAT") == "1"
CLI_TIMEOUT_S = float(os.environ.get("FERRY_CLI_TIMEOUT_S", "3600"))
TRAINING_REPEATS = max(1, int(os.environ.get("TRAINING_REPEATS", "1")))  # the fastest call counts
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench_ferry] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    pass


def env(name):
    v = os.environ.get(name)
    if not v:
        raise Fail(f"{name} is not set (run.sh sets it)")
    return v


# ---------------------------------------------------------------- server process
def proc_status_kb(pid, field):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Fail(f"/proc/{pid}/status has no {field}")


def reset_peak(pid):
    """Resets the process's VmHWM to its current RSS (Linux >= 4.0, same user). False when refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def server_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- CLI
def client_flags(ferry):
    """The URL flag of `ferry features`: the contract says --url; Ferry's other commands use --server.
    The key goes through FERRY_API_KEY, which both spellings read."""
    try:
        out = subprocess.run([ferry, "features", "apply", "--help"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise Fail(f"cannot run {ferry}: {e}")
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise Fail(f"`ferry features apply --help` exited {out.returncode}: this ferry has no `features` command?\n{text[-2000:]}")
    url = env("FERRY_URL")
    if "--url" in text:
        return ["--url", url]
    if "--server" in text:
        return ["--server", url]
    raise Fail(f"`ferry features apply --help` shows neither --url nor --server:\n{text[-2000:]}")


def run_cli(name, args, work, pid, timed=True):
    """Runs the ferry CLI; raises Fail on a non-zero exit. Returns the measurements."""
    ferry = env("FERRY_BIN")
    out_path = os.path.join(work, f"cli-{name}.log")
    reset_ok = reset_peak(pid) if timed else None
    rss_before = proc_status_kb(pid, "VmRSS")
    cpu0 = cpu_seconds(pid)
    log(f"{name}: ferry {' '.join(args)}")
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen([ferry, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = t0 + CLI_TIMEOUT_S
        while True:
            wpid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if wpid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                raise Fail(f"{name}: `ferry {' '.join(args)}` still running after {CLI_TIMEOUT_S:.0f}s (log: {out_path})")
            time.sleep(0.002)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, "rb") as fh:
        output = fh.read().decode(errors="replace")
    if p.returncode != 0:
        raise Fail(f"{name}: `ferry {' '.join(args)}` exited {p.returncode}:\n{output[-3000:]}")
    if not server_alive(pid):
        raise Fail(f"{name}: the server (pid {pid}) is gone")
    res = {"seconds": round(wall, 4), "cli_peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
           "cli_cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3),
           "server_cpu_seconds": round(cpu_seconds(pid) - cpu0, 2),
           "server_rss_before_mb": round(rss_before / 1024, 1),
           "server_peak_rss_mb": round(proc_status_kb(pid, "VmHWM") / 1024, 1),
           "server_peak_rss_is_lifetime": not reset_ok if timed else None,
           "output_tail": output[-600:]}
    log(f"{name}: {wall:.3f}s, server peak RSS {res['server_peak_rss_mb']:.0f} MB, CLI peak RSS {res['cli_peak_rss_mb']:.0f} MB")
    return res


# ---------------------------------------------------------------- HTTP
class Conn:
    def __init__(self):
        u = urllib.parse.urlsplit(env("FERRY_URL"))
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.c.connect()
        # http.client sends a bytes body with its headers in one write; no Nagle delay on top either way.
        self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.auth = "Bearer " + env("FERRY_API_KEY")

    def request(self, method, path, body=None):
        headers = {"Authorization": self.auth}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.c.request(method, path, body=body, headers=headers)
        r = self.c.getresponse()
        data = r.read()
        return r.status, data

    def json(self, method, path, obj=None):
        status, data = self.request(method, path, None if obj is None else json.dumps(obj).encode())
        if status != 200:
            raise Fail(f"{method} {path} -> HTTP {status}: {data[:1000].decode(errors='replace')}")
        try:
            return json.loads(data)
        except json.JSONDecodeError as e:
            raise Fail(f"{method} {path}: answer is not JSON ({e}): {data[:500]!r}")


def read_once(paths):
    """Reads each file through once, so the timed call finds it in the page cache whatever ran before (a Feast
    run of several GB evicted part of the 1 GB source here, and Ferry then read it from disk)."""
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(8 << 20):
                pass


def pct(sorted_us, q):
    k = max(0, min(len(sorted_us) - 1, int(np.ceil(q / 100 * len(sorted_us))) - 1))
    return float(sorted_us[k])


def latency_loop(conn, path, bodies):
    """POSTs bodies[:WARMUP] untimed, then the rest timed; every answer must be 200."""
    for b in bodies[:ONLINE_WARMUP]:
        status, data = conn.request("POST", path, b)
        if status != 200:
            raise Fail(f"POST {path} (warm-up) -> HTTP {status}: {data[:500]!r}")
    timed = bodies[ONLINE_WARMUP:]
    times = np.empty(len(timed), dtype=np.int64)
    gc.collect()
    gc.disable()
    try:
        t_all = time.perf_counter()
        for j, b in enumerate(timed):
            t0 = time.perf_counter_ns()
            status, data = conn.request("POST", path, b)
            times[j] = time.perf_counter_ns() - t0
            if status != 200:
                raise Fail(f"POST {path} (call {j}) -> HTTP {status}: {data[:500]!r}")
        total = time.perf_counter() - t_all
    finally:
        gc.enable()
    us = np.sort(times / 1000.0)
    return {"p50_us": round(pct(us, 50), 1), "p99_us": round(pct(us, 99), 1), "mean_us": round(float(us.mean()), 1),
            "min_us": round(float(us[0]), 1), "max_us": round(float(us[-1]), 1), "calls": len(timed),
            "warmup": ONLINE_WARMUP, "requests_per_s": round(len(timed) / total, 1)}


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    a, b = float(a), float(b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


# ---------------------------------------------------------------- phases
def phase_online(m, size_dir, feast, work, pid):
    checks = []
    flags = client_flags(env("FERRY_BIN"))
    folder = os.path.join(size_dir, "online")
    refs, key, view = m["feature_refs"], m["join_key"], m["view"]
    res = {"apply": run_cli("apply-online", ["features", "apply", os.path.join(folder, "definitions.json"), *flags],
                            work, pid, timed=False)}
    conn = Conn()
    v = conn.json("GET", f"/api/v1/features/views/{view}")
    got = [f.get("name") for f in (v.get("features") or [])] if isinstance(v, dict) else []
    if got != [f["name"] for f in m["features"]]:
        raise Fail(f"GET /api/v1/features/views/{view}: features {got}, expected {[f['name'] for f in m['features']]}")

    w = m["materialize_window"]
    res["materialize"] = run_cli("materialize", ["features", "materialize", "--start", w["start"], "--end", w["end"],
                                                 "--views", view, *flags], work, pid)
    res["materialize"].update({"source_rows": m["online"]["source_rows"], "entities": m["online"]["entities"]})

    # The same answers as Feast's online store, for 100 known and 2 unknown cards.
    sample = feast["online_sample"]
    ans = conn.json("POST", "/api/v1/features/online", {"features": sample["features"], "entities": {key: sample["entities"]}})
    results = ans.get("results") if isinstance(ans, dict) else None
    if not isinstance(results, list) or len(results) != len(sample["entities"]):
        raise Fail(f"POST /api/v1/features/online: expected {len(sample['entities'])} results, got: {json.dumps(ans)[:800]}")
    bad = []
    for ent, want, r in zip(sample["entities"], sample["values"], results):
        vals, stats = r.get("values"), r.get("statuses")
        if (r.get("entity") or {}).get(key) != ent:
            bad.append(f"{ent}: result for entity {r.get('entity')}")
            continue
        known = any(x is not None for x in want)
        if not known:
            if stats != ["not_found"] * len(refs) or any(x is not None for x in vals):
                bad.append(f"{ent}: unknown card answered {vals} {stats}")
            continue
        want_stats = ["present" if x is not None else "null_value" for x in want]
        if len(vals) != len(want) or not all(same(a, b) for a, b in zip(vals, want)) or stats != want_stats:
            bad.append(f"{ent}: Ferry {vals} {stats}, Feast {want} {want_stats}")
    checks.append({"check": "online answers equal Feast's online store (100 known + 2 unknown cards)",
                   "ok": not bad, "mismatches": len(bad), "examples": bad[:5]})
    if bad:
        log(f"CHECK FAILED: {len(bad)} online answers differ from Feast's, e.g. {bad[:3]}")

    # Latency: 1 card x 10 features per request, one keep-alive connection.
    first, n = m["online"]["first_card_id"], m["online"]["entities"]
    rng = np.random.default_rng(5)  # the same card sequence as bench_feast.py's in-process loop
    ids = [int(first + i) for i in rng.integers(0, n, ONLINE_WARMUP + ONLINE_CALLS)]
    probe = conn.json("POST", "/api/v1/features/online", {"features": refs, "entities": {key: [ids[0]]}})
    st = probe["results"][0]["statuses"]
    if any(s not in ("present", "null_value") for s in st):
        raise Fail(f"online read of known card {ids[0]}: statuses {st}")
    bodies = [json.dumps({"features": refs, "entities": {key: [i]}}).encode() for i in ids]
    os.sync()  # the materialization's writes are written back now, not during the timed reads
    res["http_online"] = latency_loop(conn, "/api/v1/features/online", bodies)
    res["http_online"]["timed"] = ("POST /api/v1/features/online, 1 card x 10 features, one keep-alive connection "
                                   "(Python http.client: the client's own time is included)")
    log(f"HTTP online: p50 {res['http_online']['p50_us']:.0f} us, p99 {res['http_online']['p99_us']:.0f} us")
    if not SKIP_FEAST_COMPAT:
        bodies = [json.dumps({"features": refs, "entities": {key: [i]}}).encode() for i in ids]
        conn.json("POST", "/get-online-features", {"features": refs, "entities": {key: [ids[0]]}})
        res["http_feast_compat"] = latency_loop(conn, "/get-online-features", bodies)
        res["http_feast_compat"]["timed"] = "POST /get-online-features (Feast's wire format), otherwise the same"
        log(f"HTTP /get-online-features: p99 {res['http_feast_compat']['p99_us']:.0f} us")
    res["server_peak_rss_mb_end"] = round(proc_status_kb(pid, "VmHWM") / 1024, 1)
    return res, checks


def phase_training(m, size_dir, feast, work, pid):
    import pandas as pd

    checks = []
    flags = client_flags(env("FERRY_BIN"))
    folder = os.path.join(size_dir, "training")
    refs, key = m["feature_refs"], m["join_key"]
    names = [f["name"] for f in m["features"]]
    res = {"apply": run_cli("apply-training", ["features", "apply", os.path.join(folder, "definitions.json"), *flags],
                            work, pid, timed=False)}
    out_csv = os.path.join(work, "train.csv")
    if os.path.exists(out_csv):
        os.remove(out_csv)
    entities = os.path.join(folder, "entities.csv")
    runs = []
    for _ in range(TRAINING_REPEATS):
        os.sync()  # earlier outputs are written back now, not during the timed call
        read_once([entities, os.path.join(folder, "card_stats.csv")])
        runs.append(run_cli("training-set", ["features", "training-set", "--entities", entities, "--features",
                                             ",".join(refs), "--out", out_csv, *flags], work, pid))
    res["training_set"] = min(runs, key=lambda r: r["seconds"])
    res["training_set"]["runs_seconds"] = [r["seconds"] for r in runs]
    if not os.path.isfile(out_csv):
        raise Fail(f"training-set exited 0 but wrote no {out_csv}")
    res["training_set"].update({"entity_rows": m["training"]["entity_rows"], "feature_rows": m["training"]["source_rows"],
                                "output_csv_bytes": os.path.getsize(out_csv)})

    # Checks (not timed): shape, input order, and the values of the reference point-in-time join.
    t = time.perf_counter()
    got = pd.read_csv(out_csv)
    want_cols = [key, "event_timestamp", *names]
    if list(got.columns) != want_cols:
        checks.append({"check": "train.csv columns", "ok": set(want_cols) <= set(got.columns),
                       "columns": list(got.columns), "expected": want_cols})
    missing = [c for c in want_cols if c not in got.columns]
    if missing:
        raise Fail(f"train.csv has no column(s) {missing}; columns: {list(got.columns)}")
    ent = pd.read_csv(entities)
    if len(got) != len(ent):
        raise Fail(f"train.csv has {len(got)} rows, the entity file {len(ent)}")
    order_ok = bool((got[key].to_numpy() == ent[key].to_numpy()).all())
    checks.append({"check": "one output row per entity row, in input order", "ok": order_ok})
    got["event_timestamp"] = pd.to_datetime(got["event_timestamp"], utc=True, format="ISO8601")
    got = got[want_cols].sort_values([key, "event_timestamp"], kind="stable").reset_index(drop=True)
    ref = pd.read_parquet(feast["training_set"]["reference_parquet"])
    bad = {}
    for n in names:
        x, y = ref[n].astype("float64").to_numpy(), got[n].astype("float64").to_numpy()
        both_nan = np.isnan(x) & np.isnan(y)
        diff = ~both_nan & ~(np.abs(x - y) <= 1e-9 * np.maximum(1.0, np.abs(x)))
        if diff.any():
            bad[n] = int(diff.sum())
    keys_ok = bool((ref[key].to_numpy() == got[key].to_numpy()).all())
    checks.append({"check": "values equal the reference point-in-time join", "ok": not bad and keys_ok,
                   "mismatched_values": bad, "keys_match": keys_ok})
    log(f"training-set checks [{time.perf_counter() - t:.1f}s]: order {order_ok}, keys {keys_ok}, "
        f"mismatched values {bad or 'none'}")
    res["server_peak_rss_mb_end"] = round(proc_status_kb(pid, "VmHWM") / 1024, 1)
    return res, checks


def main() -> int:
    if len(sys.argv) != 5 or sys.argv[1] not in ("online", "training"):
        print(__doc__, file=sys.stderr)
        return 2
    phase, size_dir, feast_json, out_json = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(os.path.join(size_dir, "manifest.json")) as fh:
        m = json.load(fh)
    with open(feast_json) as fh:
        feast = json.load(fh)
    work = env("FERRY_WORK_DIR")
    os.makedirs(work, exist_ok=True)
    pid = int(env("FERRY_PID"))
    try:
        fn = phase_online if phase == "online" else phase_training
        res, checks = fn(m, size_dir, feast, work, pid)
    except Fail as e:
        print(f"\n[bench_ferry] ERROR ({phase}): {e}", file=sys.stderr)
        return 1
    doc = {"phase": phase, **res, "checks": checks}
    with open(out_json + ".tmp", "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(out_json + ".tmp", out_json)
    failed = [c["check"] for c in checks if not c["ok"]]
    if failed:
        log(f"{phase}: CHECKS FAILED: {failed} (results written to {out_json})")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The measuring client of benchmarks/models/run.sh. Each subcommand prints one JSON object on stdout; progress and
errors go to stderr, and a failure exits non-zero with the reason.

    client.py probe    --url U --models-dir D                        memory Ferry accounts per distinct model
    client.py register --url U --pid P --models-dir D --models N --versions V --concurrency C
    client.py registry --url U --models N --versions V --calls K --list-calls L
    client.py zipf     --url U --pid P --budget-mb B --wrk-out F -- wrk ARGS...
    client.py cold     --url U --pid P --models N --versions V --probes K --body REQUEST.json

P is the server's pid (RSS from /proc/P/status, CPU from /proc/P/stat). register and zipf sample RSS every
--interval (2) s and scrape /metrics in the background at most that often and at most --metrics-share (0.2) of the
time.

Requests carry `Authorization: Bearer $FERRY_API_KEY`. Model i is named PREFIX + i zero-padded to --width digits
(run.sh passes the same prefix and width to zipf.lua), and gets the distinct model file (i + version - 1) % DISTINCT.
"""
import argparse
import http.client
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.parse

KEY = os.environ.get("FERRY_API_KEY", "")


def fail(msg: str) -> None:
    print(f"client.py: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def progress(msg: str) -> None:
    print(f"[models-bench] {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, url: str, timeout: float = 300.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None

    def request(self, method: str, path: str, body: bytes = None, content_type: str = None):
        headers = {"Authorization": f"Bearer {KEY}"}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if (r.getheader("Connection") or "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed (idle timeout): retry once on a new one.
                self.close()
                if attempt or not reused:
                    raise
        raise AssertionError("unreachable")

    def timed(self, method: str, path: str, body: bytes = None, content_type: str = None):
        t0 = time.perf_counter()
        status, data = self.request(method, path, body, content_type)
        return time.perf_counter() - t0, status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def name_of(prefix: str, width: int, i: int) -> str:
    return f"{prefix}{i:0{width}d}"


def model_files(models_dir: str):
    meta = json.load(open(os.path.join(models_dir, "meta.json")))
    return [open(os.path.join(models_dir, f), "rb").read() for f in meta["files"]]


def pct(values, p: float):
    """Nearest-rank percentile (p in 0..100) of a list; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def ms_summary(seconds):
    return {"n": len(seconds), "p50_ms": r3(pct(seconds, 50), 1e3), "p99_ms": r3(pct(seconds, 99), 1e3),
            "max_ms": r3(max(seconds) if seconds else None, 1e3),
            "mean_ms": r3(sum(seconds) / len(seconds) if seconds else None, 1e3)}


def r3(v, scale=1.0):
    return None if v is None else round(v * scale, 3)


def rss_mb(pid: int):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_now(pid: int) -> dict:
    """CPU seconds so far: the machine's busy time (user, nice, system, irq, softirq, steal), the server's
    (utime + stime) and this client's with its finished children (wrk)."""
    f = open("/proc/stat").readline().split()
    machine = sum(int(f[i]) for i in (1, 2, 3, 6, 7, 8)) / CLK_TCK
    try:
        st = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
        server = (int(st[11]) + int(st[12])) / CLK_TCK
    except OSError:
        server = 0.0
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"machine": machine, "server": server,
            "client": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, "wall": time.perf_counter()}


def cpu_since(start: dict, pid: int) -> dict:
    """CPU seconds used since `start`; other = what the rest of the machine used (another job on the box)."""
    end = cpu_now(pid)
    d = {k: end[k] - start[k] for k in start}
    return {"wall_s": round(d["wall"], 2), "server_s": round(d["server"], 2), "client_s": round(d["client"], 2),
            "machine_busy_s": round(d["machine"], 2),
            "other_s": round(max(0.0, d["machine"] - d["server"] - d["client"]), 2)}


# ---------------------------------------------------------------- /metrics

LABELS = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(c: Client):
    secs, status, data = c.timed("GET", "/metrics")
    if status != 200:
        fail(f"GET /metrics -> HTTP {status}: {data[:300]!r}")
    return secs, len(data), data.decode()


def gauge(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def parse_metrics(text: str) -> dict:
    """The series this benchmark reads, summed over versions where they have per-version labels."""
    out = {"requests": 0.0, "cold_requests": 0.0, "loads": 0.0, "unloads": 0.0, "load_failures": 0.0,
           "models_loaded": 0.0, "models_memory_bytes": 0.0, "load_buckets": {}, "load_count": 0.0, "load_sum": 0.0,
           "errors": {}, "unresolved": {}, "loaded": set()}
    # Loads, unloads and load failures from the fleet-wide totals: idle versions have no per-version series.
    simple = {"ferry_inference_requests_total{": "requests", "ferry_models_loads_total{": "loads",
              "ferry_models_unloads_total{": "unloads", "ferry_models_load_failures_total{": "load_failures"}
    for line in text.splitlines():
        if not line.startswith("ferry_"):
            continue
        series, _, value = line.rpartition(" ")
        head = series.split("{", 1)[0] + "{"
        if head in simple:
            out[simple[head]] += float(value)
        elif head == "ferry_model_loaded{":
            if value == "1":
                d = dict(LABELS.findall(series))
                out["loaded"].add((d["model"], int(d["version"])))
        elif head == "ferry_inference_errors_total{" or head == "ferry_inference_unresolved_errors_total{":
            kind = dict(LABELS.findall(series))["kind"]
            bucket = out["errors" if head.startswith("ferry_inference_errors") else "unresolved"]
            bucket[kind] = bucket.get(kind, 0.0) + float(value)
        elif head == "ferry_model_load_duration_seconds_bucket{":
            out["load_buckets"][dict(LABELS.findall(series))["le"]] = float(value)
        elif series == "ferry_model_load_duration_seconds_count":
            out["load_count"] = float(value)
        elif series == "ferry_model_load_duration_seconds_sum":
            out["load_sum"] = float(value)
        elif series == "ferry_model_cold_requests_total":
            out["cold_requests"] = float(value)
        elif series == "ferry_models_loaded":
            out["models_loaded"] = float(value)
        elif series == "ferry_models_memory_bytes":
            out["models_memory_bytes"] = float(value)
    return out


def hist_delta(before: dict, after: dict) -> dict:
    """The load-duration histogram of the loads between two scrapes: count, share within each bound, and p50/p99
    estimated by linear interpolation inside the bucket (as Prometheus' histogram_quantile does)."""
    bounds = sorted((float(le), le) for le in after["load_buckets"] if le != "+Inf")
    cum = [(b, after["load_buckets"][le] - before["load_buckets"].get(le, 0.0)) for b, le in bounds]
    total = after["load_count"] - before["load_count"]

    def quantile(q: float):
        if total <= 0:
            return None
        rank, prev_b, prev_c = q * total, 0.0, 0.0
        for b, c in cum:
            if c >= rank:
                return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 1.0)
            prev_b, prev_c = b, c
        return float("inf")  # above the largest finite bound

    return {
        "loads": int(total),
        "sum_s": round(after["load_sum"] - before["load_sum"], 3),
        "mean_ms": round((after["load_sum"] - before["load_sum"]) / total * 1e3, 3) if total > 0 else None,
        "p50_ms_est": r3(quantile(0.50), 1e3), "p99_ms_est": r3(quantile(0.99), 1e3),
        "cumulative": {f"{b * 1e3:g}ms": int(c) for b, c in cum},
    }


def deltas(before: dict, after: dict) -> dict:
    kinds = lambda key: {k: int(after[key][k] - before[key].get(k, 0.0)) for k in after[key]
                         if after[key][k] - before[key].get(k, 0.0)}
    requests = after["requests"] - before["requests"]
    unresolved = kinds("unresolved")
    cold = after["cold_requests"] - before["cold_requests"]
    # A request that gave up on a cold load (503) is counted as unresolved, not in ferry_inference_requests_total;
    # it is a cold request too, so it joins the denominator.
    seen = requests + unresolved.get("unavailable", 0)
    return {
        "inference_requests": int(requests), "cold_requests": int(cold),
        "hit_ratio": round(1 - cold / seen, 5) if seen else None,
        "loads": int(after["loads"] - before["loads"]), "unloads": int(after["unloads"] - before["unloads"]),
        "load_failures": int(after["load_failures"] - before["load_failures"]),
        "errors": kinds("errors"), "unresolved_errors": unresolved,
        "load_duration": hist_delta(before, after),
    }


def state(m: dict) -> dict:
    return {"models_loaded": int(m["models_loaded"]), "models_memory_mb": round(m["models_memory_bytes"] / 2**20, 2)}


class MetricsSampler(threading.Thread):
    """Scrapes /metrics in the background for ferry_models_memory_bytes and ferry_models_loaded: every `interval`
    seconds at most, and so that scraping takes at most `share` of the time (at 10,000 versions one scrape is ~30 MiB
    and takes seconds of the server's CPU, which the measured load would otherwise lose)."""

    def __init__(self, url: str, t0: float, interval: float, share: float):
        super().__init__(daemon=True)
        self.client, self.t0, self.interval, self.share = Client(url), t0, interval, share
        self.samples = []  # (seconds since t0, accounted model memory in bytes, models loaded, scrape seconds)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval if not self.samples else
                                 max(self.interval, self.samples[-1][3] / self.share) - self.samples[-1][3]):
            try:
                secs, _, text = scrape(self.client)
            except (OSError, SystemExit):
                return  # the main loop notices a dead server
            self.samples.append((round(time.perf_counter() - self.t0, 1), int(gauge(text, "ferry_models_memory_bytes")),
                                 int(gauge(text, "ferry_models_loaded")), round(secs, 3)))

    def stop(self) -> list:
        self.done.set()
        self.join()
        return self.samples


# ---------------------------------------------------------------- subcommands

def cmd_probe(a) -> None:
    """Registers each distinct model once on a server with no budget and reads what Ferry accounts for each."""
    c = Client(a.url)
    for i, data in enumerate(model_files(a.models_dir)):
        status, body = c.request("POST", f"/api/v1/models/probe-{i:02d}/versions", data, "application/octet-stream")
        if status != 201:
            fail(f"probe registration {i} -> HTTP {status}: {body[:300]!r}")
    _, _, text = scrape(c)
    per = [int(v) for v in re.findall(r'^ferry_model_memory_bytes\{model="probe-\d+",version="1"\} (\d+)$', text, re.M)]
    if not per:
        fail("no ferry_model_memory_bytes series after registering the probe models")
    print(json.dumps({"models": len(per), "memory_bytes": per, "mean_bytes": sum(per) / len(per)}))


def cmd_register(a) -> None:
    files = model_files(a.models_dir)
    # Version v of every model before version v + 1 of any, so concurrent clients rarely register to the same model.
    tasks = [(v, i) for v in range(1, a.versions + 1) for i in range(a.models)]
    lock = threading.Lock()
    state_ = {"next": 0, "done": 0, "error": None}
    latencies = []
    stop = threading.Event()

    def worker() -> None:
        c = Client(a.url)
        mine = []
        while not stop.is_set():
            with lock:
                k = state_["next"]
                if k >= len(tasks) or state_["error"]:
                    break
                state_["next"] += 1
            v, i = tasks[k]
            path = f"/api/v1/models/{name_of(a.prefix, a.width, i)}/versions"
            try:
                secs, status, body = c.timed("POST", path, files[(i + v - 1) % len(files)], "application/octet-stream")
            except OSError as e:
                secs, status, body = 0.0, None, repr(e).encode()
            if status != 201:
                with lock:
                    state_["error"] = state_["error"] or f"POST {path} -> HTTP {status}: {body[:300]!r}"
                break
            mine.append(secs)
            with lock:
                state_["done"] += 1
        with lock:
            latencies.extend(mine)
        c.close()

    samples = []  # (seconds since start, registered, RSS MB)
    cpu0 = cpu_now(a.pid)
    t0 = time.perf_counter()
    sampler = MetricsSampler(a.url, t0, a.interval, a.metrics_share)
    sampler.start()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    last_log = 0.0
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        now = time.perf_counter() - t0
        if rss_mb(a.pid) is None:
            stop.set()
            fail(f"the server (pid {a.pid}) exited during registration")
        samples.append((round(now, 1), state_["done"], rss_mb(a.pid)))
        if now - last_log >= 15:
            last_log = now
            progress(f"registered {state_['done']}/{len(tasks)} ({state_['done'] / now:.1f}/s), "
                     f"RSS {samples[-1][2]} MB")
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    cpu = cpu_since(cpu0, a.pid)
    metrics = sampler.stop()
    if state_["error"]:
        fail(state_["error"])
    _, _, text = scrape(Client(a.url))
    after = parse_metrics(text)
    rss = [s[2] for s in samples if s[2] is not None]
    mem = [m[1] for m in metrics] + [int(after["models_memory_bytes"])]
    progress(f"registration: {state_['done']} versions in {seconds:.1f} s ({state_['done'] / seconds:.1f}/s), "
             f"RSS {rss_mb(a.pid)} MB, {int(after['models_loaded'])} loaded")
    print(json.dumps({
        "versions_registered": state_["done"], "seconds": round(seconds, 2),
        "per_second": round(state_["done"] / seconds, 1), "concurrency": a.concurrency,
        "latency": ms_summary(latencies), "cpu": cpu, "rss_mb_max": max(rss) if rss else None, "rss_mb_after": rss_mb(a.pid),
        "models_memory_mb_max_sampled": round(max(mem) / 2**20, 3), "metrics_samples": len(metrics),
        "after": state(after), "loads": int(after["loads"]), "unloads": int(after["unloads"]),
        "samples": samples, "metrics_samples_list": metrics,
    }))


def cmd_registry(a) -> None:
    c = Client(a.url)
    rng = random.Random(a.seed)
    out = {}

    def run(label: str, paths, expect_items=None) -> None:
        secs, sizes = [], []
        for p in paths:
            s, status, body = c.timed("GET", p)
            if status != 200:
                fail(f"GET {p} -> HTTP {status}: {body[:300]!r}")
            secs.append(s)
            sizes.append(len(body))
        if expect_items is not None:
            got = len(json.loads(body)["items"])
            if got != expect_items:
                fail(f"GET {paths[-1]} listed {got} items, expected {expect_items}")
        out[label] = {**ms_summary(secs), "bytes": max(sizes)}
        progress(f"{label}: p50 {out[label]['p50_ms']} ms, p99 {out[label]['p99_ms']} ms ({len(secs)} calls)")

    names = [name_of(a.prefix, a.width, rng.randrange(a.models)) for _ in range(a.calls)]
    run("GET /api/v1/models (all)", ["/api/v1/models"] * a.list_calls, expect_items=a.models)
    run("GET /api/v1/models?max_results=100", ["/api/v1/models?max_results=100"] * min(a.calls, 50), expect_items=min(100, a.models))
    run("GET /api/v1/models/{name}", [f"/api/v1/models/{n}" for n in names])
    run("GET /api/v1/models/{name}/versions", [f"/api/v1/models/{n}/versions" for n in names], expect_items=a.versions)
    run("GET /v2/models/{name}", [f"/v2/models/{n}" for n in names])
    run("GET /metrics", ["/metrics"] * a.list_calls)
    print(json.dumps(out))


def cmd_zipf(a) -> None:
    c = Client(a.url)
    _, size, text = scrape(c)
    before = parse_metrics(text)
    rss_before = rss_mb(a.pid)
    samples = []  # (seconds since start, RSS MB), every --interval s
    wrk_out = open(a.wrk_out, "w")
    cpu0 = cpu_now(a.pid)
    t0 = time.perf_counter()
    wrk = subprocess.Popen(a.wrk, stdout=wrk_out, stderr=subprocess.STDOUT)
    sampler = MetricsSampler(a.url, t0, a.interval, a.metrics_share)
    sampler.start()
    try:
        tick = 1
        while True:
            try:
                wrk.wait(timeout=max(0.0, t0 + tick * a.interval - time.perf_counter()))
                break
            except subprocess.TimeoutExpired:
                pass
            tick += 1
            rss = rss_mb(a.pid)
            if rss is None:
                fail(f"the server (pid {a.pid}) exited during the Zipf run")
            samples.append((round(time.perf_counter() - t0, 1), rss))
    finally:
        if wrk.poll() is None:
            wrk.terminate()
            wrk.wait()
        wrk_out.close()
        cpu = cpu_since(cpu0, a.pid)
        metrics = sampler.stop()
    if wrk.returncode != 0:
        fail(f"wrk exited with {wrk.returncode}: {open(a.wrk_out).read()[-2000:]}")
    if rss_mb(a.pid) is None:
        fail(f"the server (pid {a.pid}) exited during the Zipf run")
    _, _, text = scrape(c)
    after = parse_metrics(text)
    line = next((l for l in open(a.wrk_out) if l.startswith("FERRY_BENCH ")), None)
    if line is None:
        fail(f"no FERRY_BENCH line in {a.wrk_out}")
    n = {k: float(v) for k, v in (p.split("=", 1) for p in line.split()[1:])}
    secs = n["duration_us"] / 1e6
    budget = a.budget_mb
    mem = [m[1] for m in metrics] + [int(after["models_memory_bytes"])]
    d = deltas(before, after)
    progress(f"{n['requests'] / secs:.0f} req/s, p99 {n['p99_us'] / 1e3:.1f} ms, non-2xx {int(n['status'])}, "
             f"hit ratio {d['hit_ratio']}, model memory max {max(mem) / 2**20:.2f} MiB (budget {budget:g}), "
             f"RSS max {max([s[1] for s in samples] + [rss_mb(a.pid)])} MB, {len(metrics)} /metrics samples")
    print(json.dumps({
        "wrk": {"requests": int(n["requests"]), "seconds": round(secs, 3), "rps": round(n["requests"] / secs, 1),
                "latency_ms": {k: round(n[f"{k}_us"] / 1e3, 3) for k in ("mean", "p50", "p90", "p99", "max")},
                "non_2xx": int(n["status"]),
                "socket_errors": {k: int(n[k]) for k in ("connect", "read", "write", "timeout")}},
        "server": d, "cpu": cpu,
        "server_cpu_ms_per_request": round(cpu["server_s"] * 1e3 / n["requests"], 3) if n["requests"] else None,
        "before": state(before), "after": state(after),
        "rss_mb_before": rss_before, "rss_mb_max": max([s[1] for s in samples] + [rss_mb(a.pid)]),
        "models_memory_mb_max": round(max(mem) / 2**20, 3), "models_memory_bytes_max": max(mem),
        "budget_mb": budget, "within_budget": (max(mem) <= budget * 2**20) if budget else None,
        "samples_above_budget": sum(1 for m in mem if budget and m > budget * 2**20), "memory_samples": len(mem),
        "metrics_bytes": size, "metrics_samples": len(metrics) + 1,
        "scrape_seconds_max": max((m[3] for m in metrics), default=None),
        "rss_samples": samples, "metrics_samples_list": metrics,
    }))


def cmd_cold(a) -> None:
    """Requests PROBES tail models that are not loaded twice each, one after the other: the first request loads
    the model (cold), the second finds it loaded (warm)."""
    c = Client(a.url)
    body = open(a.body, "rb").read()
    _, _, text = scrape(c)
    before = parse_metrics(text)
    names = []
    for i in range(a.models - 1, -1, -1):  # from the rarest rank up
        n = name_of(a.prefix, a.width, i)
        if (n, a.versions) not in before["loaded"]:
            names.append(n)
            if len(names) == a.probes:
                break
    if len(names) < a.probes:
        progress(f"WARNING: only {len(names)} models are not loaded; probing those")
    cold, warm, diff = [], [], []
    cpu0 = cpu_now(a.pid)
    for n in names:
        path = f"/v2/models/{n}/infer"
        results = [c.timed("POST", path, body, "application/json") for _ in range(2)]
        for s, status, data in results:
            if status != 200:
                fail(f"POST {path} -> HTTP {status}: {data[:300]!r}")
        cold.append(results[0][0])
        warm.append(results[1][0])
        diff.append(results[0][0] - results[1][0])
    cpu = cpu_since(cpu0, a.pid)
    _, _, text = scrape(c)
    after = parse_metrics(text)
    d = deltas(before, after)
    if d["cold_requests"] != len(names):
        progress(f"WARNING: {d['cold_requests']} cold requests counted for {len(names)} probes")
    print(json.dumps({
        "probes": len(names), "first_name": names[0] if names else None, "last_name": names[-1] if names else None,
        "cold": ms_summary(cold), "warm": ms_summary(warm), "cold_minus_warm": ms_summary(diff), "cpu": cpu,
        "server": d,
    }))


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", required=True)
    common.add_argument("--prefix", default="m")
    common.add_argument("--width", type=int, default=5)
    s = sub.add_parser("probe", parents=[common])
    s.add_argument("--models-dir", required=True)
    s = sub.add_parser("register", parents=[common])
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--models-dir", required=True)
    s.add_argument("--models", type=int, required=True)
    s.add_argument("--versions", type=int, default=1)
    s.add_argument("--concurrency", type=int, default=4)
    s.add_argument("--interval", type=float, default=2.0)
    s.add_argument("--metrics-share", type=float, default=0.2)
    s = sub.add_parser("registry", parents=[common])
    s.add_argument("--models", type=int, required=True)
    s.add_argument("--versions", type=int, default=1)
    s.add_argument("--calls", type=int, default=200)
    s.add_argument("--list-calls", type=int, default=3)
    s.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("zipf", parents=[common])
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--interval", type=float, default=2.0)
    s.add_argument("--metrics-share", type=float, default=0.2)
    s.add_argument("--budget-mb", type=float, default=0)
    s.add_argument("--wrk-out", required=True)
    s.add_argument("wrk", nargs=argparse.REMAINDER)
    s = sub.add_parser("cold", parents=[common])
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--models", type=int, required=True)
    s.add_argument("--versions", type=int, default=1)
    s.add_argument("--probes", type=int, default=200)
    s.add_argument("--body", required=True)
    a = p.parse_args()
    if a.cmd == "zipf":
        a.wrk = a.wrk[1:] if a.wrk[:1] == ["--"] else a.wrk
        if not a.wrk:
            fail("zipf: give the wrk command after --")
    {"probe": cmd_probe, "register": cmd_register, "registry": cmd_registry, "zipf": cmd_zipf, "cold": cmd_cold}[a.cmd](a)


if __name__ == "__main__":
    main()

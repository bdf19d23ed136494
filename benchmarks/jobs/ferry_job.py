#!/usr/bin/env python3
"""Ferry's side of benchmarks/jobs/run.sh: one batch job, timed from submission to the results file on disk.

    ferry_job.py --url URL --pid PID --input ABS_CSV --out OUT_CSV [--model fraud] [--key id] [--poll 0.1]
                 [--wrk-out FILE -- WRK_COMMAND...]

Reads the API key from FERRY_API_KEY. Steps, all on one clock (time.monotonic):
 1. resets the server's peak RSS (writes 5 to /proc/PID/clear_refs, so VmHWM restarts from the current RSS);
 2. (with --wrk-out) starts WRK_COMMAND, its output going to FILE, right before the submission;
 3. POST /api/v1/jobs {"model", "input": {"path"}, "key_columns"}: must answer 202;
 4. polls GET /api/v1/jobs/{id} every --poll seconds (one kept-alive connection) until the job is succeeded,
    failed or cancelled, sampling the server's VmRSS at each poll; then stops wrk with SIGINT (it prints its
    summary and FERRY_BENCH line on SIGINT) and waits for it;
 5. unless the job succeeded with every row scored, prints its reason and the head of its errors file and exits 1;
 6. downloads GET /api/v1/jobs/{id}/results with `curl -sS --fail -o OUT_CSV`.

Prints one JSON object: `seconds` (submission to download done: the end-to-end figure), `submit_seconds`,
`queued_seconds` (submission until a poll first saw the job running), `run_seconds_observed` (first poll that saw it running until the poll that saw it end),
`job_seconds` (the job's own finished_at - started_at: whole seconds, as Ferry's timestamps have no fraction),
`download_seconds`, the final progress, the server's RSS (before, peak = VmHWM, sampled max, after) and CPU
time (utime+stime of every thread, delta over steps 3-6).
"""
import argparse
import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

TERMINAL = {"succeeded", "failed", "cancelled"}
WRK = []  # the running wrk, stopped by die() so it never outlives this script


def die(msg):
    for w in WRK:
        if w.poll() is None:
            w.kill()
            w.wait()
    print(f"ferry_job.py: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        die(f"the ferry server (pid {pid}) is gone")
    return None


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (all threads)


def iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="fraud")
    ap.add_argument("--key", default="id")
    ap.add_argument("--poll", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--wrk-out")
    ap.add_argument("wrk", nargs="*")
    a = ap.parse_args()
    if bool(a.wrk_out) != bool(a.wrk):
        die("--wrk-out and a wrk command go together")
    key = os.environ.get("FERRY_API_KEY", "")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def call(method, path, body=None):
        h = dict(headers)
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read()

    clk = os.sysconf("SC_CLK_TCK")
    rss_before = status_kb(a.pid, "VmRSS")
    try:
        with open(f"/proc/{a.pid}/clear_refs", "w") as fh:
            fh.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    cpu0 = cpu_ticks(a.pid)

    wrk = None
    if a.wrk:
        wrk_out = open(a.wrk_out, "w")
        wrk = subprocess.Popen(a.wrk, stdout=wrk_out, stderr=subprocess.STDOUT)
        WRK.append(wrk)
        wrk_t0 = time.monotonic()

    t0 = time.monotonic()
    code, body = call("POST", "/api/v1/jobs", {"model": a.model, "input": {"path": a.input}, "key_columns": [a.key]})
    t_submitted = time.monotonic()
    if code != 202:
        die(f"POST /api/v1/jobs -> HTTP {code}: {body[:500].decode(errors='replace')}")
    job = json.loads(body)
    job_id = job["id"]
    print(f"ferry_job.py: job {job_id} {job['state']}", file=sys.stderr)

    t_running = None
    rss_max = rss_before
    polls = 0
    last_report = t0
    while True:
        time.sleep(a.poll)
        code, body = call("GET", f"/api/v1/jobs/{job_id}")
        now = time.monotonic()
        polls += 1
        if code != 200:
            die(f"GET /api/v1/jobs/{job_id} -> HTTP {code}: {body[:500].decode(errors='replace')}")
        job = json.loads(body)
        rss_max = max(rss_max, status_kb(a.pid, "VmRSS") or 0)
        if wrk and wrk.poll() is not None:
            die(f"wrk exited (status {wrk.returncode}) while the job ran; see {a.wrk_out}")
        if t_running is None and job["state"] != "queued":
            t_running = now
        if job["state"] in TERMINAL:
            t_finished = now
            break
        if now - last_report >= 10:
            p = job["progress"]
            print(f"ferry_job.py: {job['state']} rows_done={p['rows_done']:,} rows/s={p.get('rows_per_second')} "
                  f"rss={rss_max / 1024:.0f} MB", file=sys.stderr)
            last_report = now
        if now - t0 > a.timeout:
            die(f"job {job_id} did not end within {a.timeout:.0f} s (state {job['state']})")

    wrk_seconds = None
    if wrk:
        wrk.send_signal(signal.SIGINT)
        try:
            wrk.wait(timeout=30)
        except subprocess.TimeoutExpired:
            wrk.kill()
            die("wrk did not stop on SIGINT")
        wrk_seconds = time.monotonic() - wrk_t0
        wrk_out.close()

    p = job["progress"]
    if job["state"] != "succeeded" or p["rows_failed"]:
        code, errs = call("GET", f"/api/v1/jobs/{job_id}/errors")
        head = errs[:2000].decode(errors="replace")
        die(f"job {job_id} ended {job['state']} (reason: {job.get('reason')!r}), rows_done={p['rows_done']}, "
            f"rows_failed={p['rows_failed']}; errors file (HTTP {code}):\n{head}")

    t_dl0 = time.monotonic()
    curl = ["curl", "-sS", "--fail", "-o", a.out]
    if key:
        curl += ["-H", f"Authorization: Bearer {key}"]
    r = subprocess.run(curl + [f"{a.url}/api/v1/jobs/{job_id}/results"])
    t_end = time.monotonic()
    if r.returncode != 0:
        die(f"downloading the results of {job_id} failed (curl exit {r.returncode})")
    cpu1 = cpu_ticks(a.pid)
    hwm = status_kb(a.pid, "VmHWM")
    rss_after = status_kb(a.pid, "VmRSS")
    conn.close()

    started, finished, created = iso(job.get("started_at")), iso(job.get("finished_at")), iso(job.get("created_at"))
    print(json.dumps({
        "tool": "ferry",
        "job_id": job_id,
        "rows": p["rows_done"],
        "rows_failed": p["rows_failed"],
        "seconds": round(t_end - t0, 3),
        "submit_seconds": round(t_submitted - t0, 3),
        "queued_seconds": round((t_running or t_finished) - t0, 3),
        "run_seconds_observed": round(t_finished - (t_running or t_finished), 3),
        "submit_to_finished_seconds": round(t_finished - t0, 3),
        "job_seconds": (finished - started).total_seconds() if started and finished else None,
        "queue_seconds_server": (started - created).total_seconds() if started and created else None,
        "download_seconds": round(t_end - t_dl0, 3),
        "rows_per_second_reported": p.get("rows_per_second"),
        "input_bytes": p.get("input_bytes"),
        "output_bytes": os.path.getsize(a.out),
        "polls": polls,
        "poll_interval_s": a.poll,
        "server_cpu_seconds": round((cpu1 - cpu0) / clk, 2),
        "server_rss_before_mb": round(rss_before / 1024, 1),
        "server_rss_peak_mb": round(hwm / 1024, 1) if hwm_reset and hwm else None,
        "server_rss_sampled_max_mb": round(rss_max / 1024, 1),
        "server_rss_after_mb": round(rss_after / 1024, 1),
        "wrk_seconds": round(wrk_seconds, 3) if wrk_seconds is not None else None,
        "job_record": job,
    }))


if __name__ == "__main__":
    try:
        main()
    finally:
        for w in WRK:
            if w.poll() is None:
                w.kill()
                w.wait()

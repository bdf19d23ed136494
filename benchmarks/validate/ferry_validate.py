#!/usr/bin/env python3
"""Ferry's side of benchmarks/validate/run.sh: one `ferry data validate`, timed from the command's start to its exit.

    ferry_validate.py --ferry BIN --pid SERVER_PID --input CSV --mode path|upload --quarantine OUT_CSV --answer OUT_JSON
                      [--model fraud] [--version 1]

The CLI reads FERRY_SERVER and FERRY_API_KEY. Steps, on one clock (time.monotonic):
 1. resets the server's peak RSS (writes 5 to /proc/PID/clear_refs, so VmHWM restarts from the current RSS) and
    reads its CPU time;
 2. runs `BIN data validate CSV --model M --version V --json --quarantine OUT_CSV` (mode upload: the CLI streams
    the file to the server, which checks it as it arrives) or `BIN data validate --path CSV ...` (mode path: the
    server reads the file itself, from a folder of its --job-input-dir), its stdout (the server's JSON answer) going
    to OUT_JSON; the server stores the quarantine and the CLI then downloads it. Exit status 1 means an expectation failed, which this benchmark
    expects; any other status is an error;
 3. reads the server's VmHWM and CPU time again.

Prints one JSON object: `seconds` (the command's wall clock: Ferry's figure), `cli_cpu_seconds` (the CLI process's
user+system time), `server_cpu_seconds` (utime+stime of every server thread over step 2), the server's RSS before
and its peak (VmHWM) and after, and the command's exit status.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (all threads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--quarantine", required=True)
    ap.add_argument("--answer", required=True)
    ap.add_argument("--mode", choices=["path", "upload"], required=True)
    ap.add_argument("--model", default="fraud")
    ap.add_argument("--version", default="1")
    a = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")

    try:
        with open(f"/proc/{a.pid}/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False
    rss_before = status_kb(a.pid, "VmRSS")
    c0 = cpu_ticks(a.pid)
    source = ["--path", a.input] if a.mode == "path" else [a.input]
    cmd = [a.ferry, "data", "validate", *source, "--model", a.model, "--version", a.version, "--json", "--quarantine", a.quarantine]
    with open(a.answer, "wb") as out:
        t0 = time.monotonic()
        rc = subprocess.run(cmd, stdout=out).returncode
        t1 = time.monotonic()
    c1 = cpu_ticks(a.pid)
    peak = status_kb(a.pid, "VmHWM")
    rss_after = status_kb(a.pid, "VmRSS")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc not in (0, 1):
        sys.exit(f"ferry_validate.py: `{' '.join(cmd)}` exited with status {rc}")
    try:
        answer = json.load(open(a.answer))
    except ValueError as e:
        sys.exit(f"ferry_validate.py: the answer in {a.answer} is not JSON ({e}); exit status {rc}")
    if rc != (0 if answer.get("passed") else 1):
        sys.exit(f"ferry_validate.py: exit status {rc} but the answer says passed={answer.get('passed')}")
    print(json.dumps({
        "tool": "ferry",
        "mode": a.mode,
        "command": " ".join(cmd),
        "exit_status": rc,
        "seconds": round(t1 - t0, 3),
        "cli_cpu_seconds": round(ru.ru_utime + ru.ru_stime, 2),
        "server_cpu_seconds": round((c1 - c0) / hz, 2),
        "server_rss_before_mb": round(rss_before / 1024, 1),
        "server_rss_peak_mb": round(peak / 1024, 1) if reset else None,
        "server_rss_after_mb": round(rss_after / 1024, 1),
        "quarantine_bytes": os.path.getsize(a.quarantine) if os.path.exists(a.quarantine) else None,
    }))


if __name__ == "__main__":
    main()

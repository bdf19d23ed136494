#!/usr/bin/env python3
"""The traffic and the checks of scripts/retrain/run.sh, against a Ferry that run.sh started and set up (the example
model `fraud` version 1 behind endpoint fraud-ep, a drift reference, the alert rule amount-drift on `amount`'s PSI, and
a retraining policy that the alert triggers and that rolls a winner out on fraud-ep).

    python scenario.py BASE_URL   (FERRY_API_KEY: an admin or deployer key; RETRAIN_WHY: file for the failure reason)

Phases: normal traffic (the alert stays quiet), drifted traffic whose fraud pattern changed plus its ground truth,
alert evaluation until amount-drift fires, the retraining job the alert starts (to `succeeded`, with a candidate that
beats the champion on the held-out rows), live traffic through the endpoint until the canary the job started is
promoted, and the endpoint answering with the candidate. Exits 1 with the reason on the first failed check.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

import numpy as np

import data

MODEL, ENDPOINT, ALERT = "fraud", "fraud-ep", "amount-drift"
MIN_IMPROVEMENT = 0.01
WINDOW_ROWS, WINDOW_BATCH = 10_000, 200   # labelled rows the retraining learns from (30% held out)
WINDOW_SEED, LIVE_SEED = 5, 1005
LIVE_BATCH = 8                            # rows per request during the canary (the gates count requests)
JOB_TIMEOUT, ROLLOUT_TIMEOUT, ALERT_TIMEOUT = 120, 90, 30

BASE = sys.argv[1].rstrip("/")
KEY = os.environ["FERRY_API_KEY"]
START = time.monotonic()


class Failure(Exception):
    pass


def phase(text):
    print(f"\n== {text}  (+{time.monotonic() - START:.1f} s)", flush=True)


def say(text):
    print(f"   {text}", flush=True)


def call(method, path, body=None):
    request = urllib.request.Request(
        BASE + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
    except urllib.error.HTTPError as e:
        raise Failure(f"{method} {path} answered {e.code}: {e.read().decode(errors='replace')[:500]}") from None
    except OSError as e:
        raise Failure(f"{method} {path}: {e}") from None
    return json.loads(text) if text else None


def predict(X):
    """Rows through the endpoint, as a client calls it (V1): the answer and the version that served it."""
    answer = call("POST", f"/v1/models/{ENDPOINT}:predict", {"instances": data.instances(X)})
    if len(answer.get("predictions", [])) != len(X) or not answer.get("prediction_id"):
        raise Failure(f"the endpoint answered {len(X)} rows with {json.dumps(answer)[:300]}")
    return answer


def feedback(items):
    answer = call("POST", "/api/v1/feedback", {"items": items})
    if answer.get("matched") != len(items):
        raise Failure(f"feedback for {len(items)} rows was answered {answer}")


def alert_status():
    for item in call("GET", f"/api/v1/models/{MODEL}/alerts")["items"]:
        if item["rule"]["name"] == ALERT:
            return item["status"]
    raise Failure(f"model {MODEL} has no alert rule {ALERT}")


def rollout():
    return call("GET", f"/api/v1/endpoints/{ENDPOINT}/rollout")


def normal_traffic():
    phase("1. normal traffic: 500 rows like the model's training data; the drift alert stays quiet")
    X = data.reference(500, seed=2)
    for s in range(0, len(X), 100):
        predict(X[s:s + 100])
    # The prediction log is written off the request path: evaluate until the rule sees the rows (it has a value).
    deadline = time.monotonic() + 5
    while True:
        call("POST", "/api/v1/alerts/evaluate")
        status = alert_status()
        if status.get("value") is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    say(f"{ALERT}: {status.get('state')} (drift_psi[amount] {status.get('value', '-')})")
    if status.get("value") is None:
        raise Failure(f"alert {ALERT} has no value 5 s after 500 logged predictions: {status}")
    if status.get("state") == "firing":
        raise Failure(f"alert {ALERT} fired on traffic drawn like the reference: {status}")


def drifted_traffic():
    phase(f"2. drifted traffic: {WINDOW_ROWS} rows of the changed world through {ENDPOINT}, each with its ground truth")
    X, y = data.drifted(WINDOW_ROWS, np.random.default_rng(WINDOW_SEED))
    served = set()
    for s in range(0, WINDOW_ROWS, WINDOW_BATCH):
        answer = predict(X[s:s + WINDOW_BATCH])
        served.add(answer.get("served_by"))
        # Ground truth as it arrives (here at once), by prediction id and row.
        feedback([{"prediction_id": answer["prediction_id"], "row": r, "label": int(y[s + r])} for r in range(len(answer["predictions"]))])
    if served != {f"{MODEL}/1"}:
        raise Failure(f"before any retraining {ENDPOINT} should be served by {MODEL}/1 alone, was served by {sorted(map(str, served))}")
    say(f"{WINDOW_ROWS} predictions by {MODEL}/1 logged and labelled (fraud rate {y.mean():.3f}); "
        f"amount mean {np.nanmean(X[:, data.COLUMN['amount']]):.0f} (reference {np.nanmean(data.reference(2000, seed=1)[:, 0]):.0f})")


def alert_fires():
    phase(f"3. alert evaluation until {ALERT} fires")
    deadline = time.monotonic() + ALERT_TIMEOUT
    while True:
        changes = call("POST", "/api/v1/alerts/evaluate").get("changes", [])
        status = alert_status()
        if status.get("state") == "firing":
            say(f"{ALERT} firing: drift_psi[amount] = {status.get('value')} > 0.2 (changes: {json.dumps(changes)[:200]})")
            return
        if time.monotonic() > deadline:
            raise Failure(f"alert {ALERT} did not fire within {ALERT_TIMEOUT} s: {status}")
        time.sleep(1)


def retraining_job():
    phase(f"4. the retraining job the alert starts (the leader looks every 5 s), up to {JOB_TIMEOUT} s")
    deadline = time.monotonic() + JOB_TIMEOUT
    seen = ""
    while True:
        jobs = call("GET", f"/api/v1/models/{MODEL}/retrain/jobs?limit=10")["items"]
        job = next((j for j in jobs if j.get("trigger") == f"alert:{ALERT}"), None)
        if job and job["state"] != seen:
            seen = job["state"]
            say(f"job {job['id']} (trigger {job['trigger']}): {seen}")
        if job and job["state"] not in ("queued", "running"):
            break
        if time.monotonic() > deadline:
            others = [f"{j['id']} {j['trigger']} {j['state']}" for j in jobs]
            raise Failure(f"no job triggered by alert {ALERT} ended within {JOB_TIMEOUT} s (jobs: {others or 'none'})")
        time.sleep(1)
    job = call("GET", f"/api/v1/models/{MODEL}/retrain/jobs/{job['id']}")
    for line in (job.get("logs") or "").strip().splitlines():
        say(f"trainer | {line}")
    if job["state"] != "succeeded":
        print(json.dumps(job, indent=2))
        raise Failure(f"retraining job {job['id']} ended {job['state']}: {job.get('reason')}")
    return job


def verdict(job):
    phase("5. the verdict: candidate against champion on the held-out rows")
    e = job.get("evaluation") or {}
    say(f"data: {job.get('training_rows')} training rows, {job.get('holdout_rows')} held out ({job.get('data_digest')})")
    say(f"{e.get('metric')}: champion (version {job.get('champion')}) {e.get('champion', float('nan')):.4f}, "
        f"candidate (version {job.get('candidate')}) {e.get('challenger', float('nan')):.4f}, improvement {e.get('improvement', float('nan')):.4f} "
        f"(95% interval [{e.get('lower', float('nan')):.4f}, {e.get('upper', float('nan')):.4f}])")
    say(f"time per row: champion {e.get('champion_micros_per_row', 0):.1f} µs, candidate {e.get('challenger_micros_per_row', 0):.1f} µs")
    say(job.get("reason", ""))
    expected_holdout = round(WINDOW_ROWS * 0.3)
    if job.get("champion") != 1 or job.get("candidate") != 2:
        raise Failure(f"expected champion 1 and candidate 2, the job says {job.get('champion')} and {job.get('candidate')}")
    if (job.get("training_rows"), job.get("holdout_rows")) != (WINDOW_ROWS - expected_holdout, expected_holdout):
        raise Failure(f"expected {WINDOW_ROWS - expected_holdout} training and {expected_holdout} held-out rows, got "
                      f"{job.get('training_rows')} and {job.get('holdout_rows')}")
    if e.get("metric") != "roc_auc" or not e.get("challenger", 0) >= e.get("champion", 1) + MIN_IMPROVEMENT:
        raise Failure(f"the candidate should beat the champion's roc_auc by {MIN_IMPROVEMENT}: {e}")
    version = call("GET", f"/api/v1/models/{MODEL}/versions/2")
    lineage = version.get("lineage") or {}
    say(f"version 2: \"{version.get('description')}\"; lineage training data {lineage.get('training_data')}")
    if job["id"] not in json.dumps(version):
        raise Failure(f"version 2 does not name job {job['id']} in its description, params or lineage: {json.dumps(version)[:500]}")


def canary(job):
    phase(f"6. the canary on {ENDPOINT}: live traffic ({LIVE_BATCH} rows a request, ground truth as it comes) until it is promoted")
    state = rollout()
    r = state.get("rollout", {})
    if r.get("candidate") != {"model": MODEL, "version": 2} or r.get("status") != "running" or r.get("started_by") != f"retrain:{job['id']}":
        raise Failure(f"expected a running rollout of {MODEL}/2 started by retrain:{job['id']}, found {json.dumps(r)[:400]}")
    say(f"rollout {MODEL}/1 -> {MODEL}/2 started by {r['started_by']}: steps {r['plan']['steps']} %, bake {r['plan']['bake_seconds']} s, "
        f"gates: at least {r['plan']['gates']['min_requests']} candidate requests a step, output PSI <= {r['plan']['gates']['max_output_psi']}, "
        f"accuracy drop <= {r['plan']['gates']['max_accuracy_drop']}")
    X, y = data.drifted(20_000, np.random.default_rng(LIVE_SEED))
    deadline = time.monotonic() + ROLLOUT_TIMEOUT
    served, pending, s, percent, requests = {}, [], 0, None, 0
    while True:
        rows = slice(s, s + LIVE_BATCH)
        answer = predict(X[rows])
        requests += 1
        served[answer.get("served_by")] = served.get(answer.get("served_by"), 0) + 1
        pending += [{"prediction_id": answer["prediction_id"], "row": i, "label": int(v)} for i, v in enumerate(y[rows])]
        s = (s + LIVE_BATCH) % (len(X) - LIVE_BATCH)
        if requests % 25:
            continue
        feedback(pending)
        pending = []
        state = rollout()
        r = state["rollout"]
        if state.get("candidate_percent") != percent:
            percent = state.get("candidate_percent")
            say(f"{r['status']}: candidate at {percent:g}% after {requests} requests (served so far: {served})")
        if r["status"] == "promoted":
            break
        if r["status"] != "running":
            print(json.dumps(state, indent=2))
            raise Failure(f"the canary of {MODEL}/2 ended {r['status']}: {r.get('reason')}")
        if time.monotonic() > deadline:
            print(json.dumps(state, indent=2))
            raise Failure(f"the canary was not promoted within {ROLLOUT_TIMEOUT} s (at {percent}%, gates {state.get('gates')})")
    for event in call("GET", f"/api/v1/endpoints/{ENDPOINT}/rollout/events").get("items", []):
        gates = ", ".join(
            f"{g['gate']} {g['candidate']:.4g} (limit {g['limit']:.4g})" for g in event.get("gates") or [] if g.get("candidate") is not None and g.get("limit") is not None)
        say(f"event {event.get('action')}: {event.get('from_percent', 0):g}% -> {event.get('to_percent', 0):g}%{'; ' + gates if gates else ''}"
            f"{'; ' + event['reason'] if event.get('reason') else ''}")


def serving():
    phase(f"7. {ENDPOINT} now serves the candidate")
    endpoint = call("GET", f"/api/v1/endpoints/{ENDPOINT}")["endpoint"]
    variants = [(v["model"], v["version"], v["weight"]) for v in endpoint["variants"]]
    if variants != [(MODEL, 2, 100)]:
        raise Failure(f"after the promotion {ENDPOINT} should route all traffic to {MODEL}/2, it routes {variants}")
    X, _ = data.drifted(50, np.random.default_rng(7))
    served = {predict(X[i:i + 5]).get("served_by") for i in range(0, 50, 5)}
    if served != {f"{MODEL}/2"}:
        raise Failure(f"{ENDPOINT} answered from {sorted(map(str, served))}, not {MODEL}/2 alone")
    say(f"{ENDPOINT}: {variants}; 10 requests all served by {MODEL}/2")


def main():
    try:
        normal_traffic()
        drifted_traffic()
        alert_fires()
        job = retraining_job()
        verdict(job)
        canary(job)
        serving()
    except Failure as e:
        why = os.environ.get("RETRAIN_WHY")
        if why:
            with open(why, "w") as f:
                f.write(str(e))
        print(f"\n   check failed: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Crash-consistency load and checks for scripts/robustness/crash.sh (Python stdlib only).

  crash.py load  --server URL --key KEY --ledger FILE --round N --kill-pid PID [--kill-after A-B] [--threads N]
  crash.py check --server URL --key KEY --ledger FILE --data-dir DIR

`load` runs concurrent clients against a live server and records, in the ledger (JSON, accumulated over rounds),
every write the server acknowledged with a 2xx, then SIGKILLs the server while writes are in flight. A request that
got no answer (the kill cut it off) is recorded as uncertain: it may or may not have been applied.

`check` runs against the restarted server and its data folder and asserts only what is well defined:
  * every acknowledged version exists under its number with the artifact digest and description that were sent;
  * every alias (each is owned by one client thread, so its moves are ordered) points at the last acknowledged
    target, or at a target sent later whose answer the kill cut off;
  * every prediction the server had shown through GET /api/v1/predictions/{id} before the kill is still there
    (committed rows survive a process crash; predictions only acknowledged by /infer are best effort, not checked);
  * every acknowledged feedback item is stored with its label (read from predictions.sqlite's feedback table),
    and /api/v1/models/fraud/performance counts at least the acknowledged matched and unmatched items;
  * every registered version's artifact exists under artifacts/sha256/ and hashes to its recorded sha256 and size;
  * the audit trail has a version.register entry (same sha256) for every acknowledged registration and, per alias,
    its acknowledged moves appear in order among its alias.set entries; /api/v1/audit/verify says the chain is intact;
  * inference works after the restart: fraud's default version and every client alias answer with the prediction
    expected for examples/fraud/request.json (every registered artifact is the example model plus whitespace).
  * with --strict-audit (crash.sh's default), every committed change has its audit entry, acknowledged or not: stores
    append the entry in the change's own transaction, so a kill can never leave a change the trail does not mention.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

EXAMPLE = "examples/fraud"
MODELS = ["crash-a", "crash-b", "crash-c"]
TIMEOUT = 15


class Client:
    def __init__(self, server, key):
        self.server = server.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, content_type="application/json"):
        """(status, parsed JSON or text). Raises OSError/http.client errors when there is no answer."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.key}
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.server + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")


NO_ANSWER = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError)


def artifact_bytes(nonce):
    """The example model plus a unique run of trailing whitespace: a distinct, valid artifact per registration."""
    base = open(os.path.join(EXAMPLE, "model.json"), "rb").read().rstrip()
    tail = "".join(" \t"[(nonce >> bit) & 1] for bit in range(24))
    return base + b"\n" + tail.encode() + b"\n"


def load_ledger(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"next_nonce": 1, "versions": [], "versions_uncertain": [], "alias_moves": {}, "confirmed_predictions": [],
            "feedback": [], "feedback_uncertain": [], "rounds": []}


def save_ledger(path, ledger):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ledger, f)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------- load

class Load:
    def __init__(self, args, ledger):
        self.args = args
        self.client = Client(args.server, args.key)
        self.ledger = ledger
        self.lock = threading.Lock()
        self.killed_at = None          # monotonic time of the SIGKILL
        self.inflight = {"register": 0, "alias": 0, "feedback": 0, "infer": 0}
        self.errors = []               # answers that are not 2xx, and lost connections before the kill
        self.counts = {k: 0 for k in ("register", "alias", "infer", "confirmed", "feedback", "uncertain")}
        self.request = open(os.path.join(EXAMPLE, "request.json"), "rb").read()

    def nonce(self):
        with self.lock:
            n = self.ledger["next_nonce"]
            self.ledger["next_nonce"] = n + 1
            return n

    def send(self, kind, method, path, body=None, content_type="application/json"):
        """(status, body) on an answer; None when the connection died (the write is then uncertain)."""
        with self.lock:
            self.inflight[kind] += 1
        try:
            status, answer = self.client.call(method, path, body, content_type)
        except NO_ANSWER as error:
            with self.lock:
                if self.killed_at is None:
                    self.errors.append(f"{method} {path}: no answer before the kill: {error!r}")
                self.counts["uncertain"] += 1
            return None
        finally:
            with self.lock:
                self.inflight[kind] -= 1
        if not 200 <= status < 300:
            with self.lock:
                self.errors.append(f"{method} {path}: HTTP {status}: {str(answer)[:300]}")
            return None
        return status, answer

    def writer(self, index):
        """Registers versions of its model, moves its own alias, predicts, and sends feedback, until the server dies."""
        model = MODELS[index % len(MODELS)]
        alias = f"t{index}"
        key = f"{model}@{alias}"
        with self.lock:
            moves = self.ledger["alias_moves"].setdefault(key, [])
        mine = [m["version"] for m in moves if m["acked"]]
        iteration = 0
        while True:
            iteration += 1
            # 1. Register a distinct artifact, alternating JSON+base64 and raw octet-stream uploads.
            nonce = self.nonce()
            data = artifact_bytes(nonce)
            sha = hashlib.sha256(data).hexdigest()
            description = f"crash round {self.args.round} thread {index} nonce {nonce}"
            pending = {"model": model, "sha256": sha, "description": description, "round": self.args.round}
            if iteration % 2:
                got = self.send("register", "POST", f"/api/v1/models/{model}/versions",
                                {"artifact": base64.b64encode(data).decode(), "description": description})
            else:
                got = self.send("register", "POST",
                                f"/api/v1/models/{model}/versions?description={urllib.parse.quote(description)}",
                                data, "application/octet-stream")
            if got is None:
                with self.lock:
                    self.ledger["versions_uncertain"].append(pending)
                return
            version = got[1]["version"]
            if got[1]["artifact"]["sha256"] != sha:
                with self.lock:
                    self.errors.append(f"register {model}: answer has sha256 {got[1]['artifact']['sha256']}, sent {sha}")
            with self.lock:
                self.ledger["versions"].append(dict(pending, version=version))
                self.counts["register"] += 1
            mine.append(version)
            # 2. Move this thread's alias: to the new version, and every third time back to the previous one.
            targets = [version] + ([mine[-2]] if iteration % 3 == 0 and len(mine) > 1 else [])
            for target in targets:
                move = {"version": target, "acked": False, "round": self.args.round}
                with self.lock:
                    moves.append(move)
                got = self.send("alias", "PUT", f"/api/v1/models/{model}/aliases/{alias}",
                                {"version": target, "reason": f"crash round {self.args.round}"})
                if got is None:
                    return
                with self.lock:
                    move["acked"] = True
                    self.counts["alias"] += 1
            # 3. Predict, wait until the prediction is readable (then it is committed), and label it.
            got = self.send("infer", "POST", "/v2/models/fraud/versions/1/infer", self.request)
            if got is None:
                return
            prediction = got[1]["parameters"]["prediction_id"]
            with self.lock:
                self.counts["infer"] += 1
            deadline = time.monotonic() + 2
            while True:
                try:
                    status, _ = self.client.call("GET", f"/api/v1/predictions/{prediction}")
                except NO_ANSWER:
                    return
                if status == 200:
                    with self.lock:
                        self.ledger["confirmed_predictions"].append(prediction)
                        self.counts["confirmed"] += 1
                    break
                if status != 404 or time.monotonic() > deadline:
                    with self.lock:
                        self.errors.append(f"GET /api/v1/predictions/{prediction}: HTTP {status} (2 s after the prediction)")
                    return
                time.sleep(0.02)
            items = [{"prediction_id": prediction, "row": 0, "label": random.randint(0, 1)}]
            if iteration % 4 == 0:   # ground truth for an id that was never logged is kept too, as unmatched
                items.append({"prediction_id": f"ghost-{uuid.uuid4()}", "row": 0, "label": random.randint(0, 1)})
            got = self.send("feedback", "POST", "/api/v1/feedback", {"items": items})
            if got is None:
                with self.lock:
                    self.ledger["feedback_uncertain"] += items
                return
            answer = got[1]
            if (answer.get("accepted"), answer.get("matched")) != (len(items), 1):
                with self.lock:
                    self.errors.append(f"feedback for a readable prediction: sent {len(items)} items, answer {answer}")
            with self.lock:
                self.ledger["feedback"] += [dict(item, matched=not item["prediction_id"].startswith("ghost-"))
                                            for item in items]
                self.counts["feedback"] += len(items)

    def predictor(self):
        """Inference only, to keep the prediction log's queue busy when the kill comes."""
        while True:
            if self.send("infer", "POST", "/v2/models/fraud/infer", self.request) is None:
                return
            with self.lock:
                self.counts["infer"] += 1

    def run(self):
        threads = [threading.Thread(target=self.writer, args=(i,), daemon=True) for i in range(self.args.threads)]
        threads += [threading.Thread(target=self.predictor, daemon=True) for _ in range(self.args.predictors)]
        start = time.monotonic()
        for t in threads:
            t.start()
        low, high = (float(x) for x in self.args.kill_after.split("-"))
        time.sleep(random.uniform(low, high))
        # Kill while a durable write is in flight (wait at most 1 s more for one).
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            with self.lock:
                if self.inflight["register"] + self.inflight["alias"] + self.inflight["feedback"] > 0:
                    break
            time.sleep(0.001)
        with self.lock:
            os.kill(self.args.kill_pid, signal.SIGKILL)
            self.killed_at = time.monotonic()
            inflight = dict(self.inflight)
        for t in threads:
            t.join(TIMEOUT + 5)
        alive = [t for t in threads if t.is_alive()]
        if alive:
            self.errors.append(f"{len(alive)} client threads still blocked {TIMEOUT + 5} s after the kill")
        summary = {"round": self.args.round, "killed_after_s": round(self.killed_at - start, 2),
                   "inflight_at_kill": inflight, "acked": self.counts, "errors": self.errors}
        self.ledger["rounds"].append(summary)
        print(f"round {self.args.round}: SIGKILL after {summary['killed_after_s']} s with in flight {inflight}; "
              f"acknowledged: {self.counts['register']} registrations, {self.counts['alias']} alias moves, "
              f"{self.counts['infer']} predictions ({self.counts['confirmed']} read back), "
              f"{self.counts['feedback']} feedback items; {self.counts['uncertain']} requests cut off by the kill")
        return self.errors


# ---------------------------------------------------------------------------------------------------- check

class Check:
    def __init__(self, args, ledger):
        self.args = args
        self.client = Client(args.server, args.key)
        self.ledger = ledger
        self.failures = []
        self.notes = []

    def fail(self, message):
        self.failures.append(message)

    def get(self, path):
        status, body = self.client.call("GET", path)
        if status != 200:
            raise SystemExit(f"CHECK FAILED: GET {path} answered {status}: {str(body)[:300]}")
        return body

    def run(self):
        ledger = self.ledger
        # Versions: every acknowledged one, by number, with the bytes and description that were sent.
        registered = {}
        for model in ["fraud"] + MODELS:
            status, body = self.client.call("GET", f"/api/v1/models/{model}/versions")
            if status == 404 and model != "fraud" and not any(v["model"] == model for v in ledger["versions"]):
                continue   # this model's first registration was never acknowledged
            if status != 200:
                self.fail(f"GET /api/v1/models/{model}/versions answered {status}: {str(body)[:200]}")
                continue
            for v in body["items"]:
                registered[(model, v["version"])] = v
        for want in ledger["versions"]:
            got = registered.get((want["model"], want["version"]))
            if got is None:
                self.fail(f"LOST: acknowledged version {want['model']}/{want['version']} (round {want['round']}) is missing")
            elif got["artifact"]["sha256"] != want["sha256"] or got.get("description") != want["description"]:
                self.fail(f"acknowledged version {want['model']}/{want['version']} now holds sha256 "
                          f"{got['artifact']['sha256'][:12]} '{got.get('description')}', "
                          f"acknowledged as {want['sha256'][:12]} '{want['description']}'")
        acked_keys = {(v["model"], v["version"]) for v in ledger["versions"]}
        extra = [k for k in registered if k[0] != "fraud" and k not in acked_keys]
        uncertain_shas = {u["sha256"] for u in ledger["versions_uncertain"]}
        for key in extra:
            if registered[key]["artifact"]["sha256"] not in uncertain_shas:
                self.fail(f"version {key[0]}/{key[1]} exists but no client sent its bytes")

        # Artifacts: every registered version's file exists and verifies.
        root = os.path.join(self.args.data_dir, "artifacts")
        for (model, number), v in sorted(registered.items()):
            sha, size = v["artifact"]["sha256"], v["artifact"]["size"]
            path = os.path.join(root, "sha256", sha[:2], sha)
            try:
                data = open(path, "rb").read()
            except OSError as error:
                self.fail(f"artifact of {model}/{number} is missing: {error}")
                continue
            if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
                self.fail(f"artifact of {model}/{number} at {path} does not verify "
                          f"(sha256 {hashlib.sha256(data).hexdigest()[:12]}, {len(data)} bytes)")
        leftovers = os.listdir(os.path.join(root, "tmp")) if os.path.isdir(os.path.join(root, "tmp")) else []
        if leftovers:
            self.notes.append(f"{len(leftovers)} partial uploads left in artifacts/tmp (harmless, never referenced)")

        # Aliases: the last acknowledged target, or a later one whose answer the kill cut off.
        aliases = {}
        for model in MODELS:
            status, body = self.client.call("GET", f"/api/v1/models/{model}/aliases")
            if status == 200:
                aliases.update({f"{model}@{a['name']}": a["version"] for a in body["items"]})
        for key, moves in ledger["alias_moves"].items():
            acked = [i for i, m in enumerate(moves) if m["acked"]]
            allowed = {m["version"] for m in moves[(acked[-1] + 1 if acked else 0):]}
            if acked:
                allowed.add(moves[acked[-1]]["version"])
            got = aliases.get(key)
            if got not in allowed and not (not acked and got is None):
                last = moves[acked[-1]]["version"] if acked else None
                self.fail(f"LOST: alias {key} points at {got}, last acknowledged move was to {last} "
                          f"(allowed {sorted(allowed)})")

        # Predictions that were readable before the kill were committed: they must survive it.
        db = sqlite3.connect(f"file:{os.path.join(self.args.data_dir, 'predictions.sqlite')}?mode=ro", uri=True)
        present = {row[0] for row in db.execute("SELECT id FROM prediction")}
        gone = [p for p in ledger["confirmed_predictions"] if p not in present]
        if gone:
            self.fail(f"LOST: {len(gone)} predictions readable before a kill are gone, e.g. {gone[:3]}")
        for p in ledger["confirmed_predictions"][-5:]:   # and the API reads them back
            status, body = self.client.call("GET", f"/api/v1/predictions/{p}")
            if status != 200 or body.get("id") != p:
                self.fail(f"GET /api/v1/predictions/{p} answered {status} after the restart")

        # Feedback: every acknowledged item is stored with its label.
        stored = {(r[0], r[1]): r[2] for r in db.execute("SELECT prediction_id, row, label FROM feedback")}
        db.close()
        for item in ledger["feedback"]:
            label = stored.get((item["prediction_id"], item["row"]))
            if label is None:
                self.fail(f"LOST: acknowledged feedback for {item['prediction_id']} row {item['row']} is not stored")
            elif label != item["label"]:
                self.fail(f"feedback for {item['prediction_id']} stored label {label}, acknowledged {item['label']}")
        perf = self.get("/api/v1/models/fraud/performance?version=1")
        matched = sum(1 for f in ledger["feedback"] if f["matched"])
        ghosts = len(ledger["feedback"]) - matched
        if perf["overall"]["count"] < matched:
            self.fail(f"performance counts {perf['overall']['count']} labelled rows, {matched} were acknowledged")
        if perf.get("unmatched_feedback", 0) < ghosts:
            self.fail(f"performance counts {perf.get('unmatched_feedback')} unmatched items, {ghosts} were acknowledged")

        # Audit trail: an entry for every acknowledged registration and alias move, and an intact chain.
        entries, after = [], 0
        while True:
            page = self.get(f"/api/v1/audit?after={after}&limit=10000")["items"]
            entries += page
            if len(page) < 10000:
                break
            after = page[-1]["seq"]
        registrations = {e["target"]: e for e in entries if e["action"] == "version.register"}
        for v in ledger["versions"]:
            entry = registrations.get(f"{v['model']}/{v['version']}")
            if entry is None:
                self.fail(f"audit trail has no version.register entry for acknowledged {v['model']}/{v['version']}")
            elif (entry.get("after") or {}).get("sha256") != v["sha256"]:
                self.fail(f"audit entry for {v['model']}/{v['version']} records another sha256")
        alias_sets = {}
        for e in entries:
            if e["action"] == "alias.set":
                alias_sets.setdefault(e["target"], []).append(int(e["after"]["version"]))
        for key, moves in ledger["alias_moves"].items():
            trail = iter(alias_sets.get(key, []))
            for m in moves:
                if m["acked"] and not any(v == m["version"] for v in trail):
                    self.fail(f"audit trail lacks the acknowledged move of {key} to {m['version']} "
                              f"(in order; trail has {alias_sets.get(key, [])})")
                    break
        unaudited = [f"{m}/{n}" for (m, n) in registered if m != "fraud" and f"{m}/{n}" not in registrations]
        if unaudited:
            self.notes.append(f"committed but unacknowledged versions without an audit entry: {unaudited}")
        for key, current in aliases.items():
            if alias_sets.get(key, [None])[-1] != current:
                self.notes.append(f"alias {key} is at {current} but its last alias.set entry says "
                                  f"{alias_sets.get(key, [None])[-1]} (move committed, killed before its audit entry)")
        verify = self.get("/api/v1/audit/verify")
        if verify.get("intact") is not True or verify.get("problems"):
            self.fail(f"/api/v1/audit/verify: {json.dumps(verify)[:300]}")

        # Inference after the restart: the default version and every client alias.
        want = json.load(open(os.path.join(EXAMPLE, "expected.json")))["probabilities"][17]
        request = open(os.path.join(EXAMPLE, "request.json"), "rb").read()
        paths = ["/v2/models/fraud/infer"] + [
            f"/v2/models/{k.split('@')[0]}/versions/{k.split('@')[1]}/infer" for k in sorted(aliases)]
        for path in paths:
            status, body = self.client.call("POST", path, request)
            if status != 200:
                self.fail(f"POST {path} after the restart answered {status}: {str(body)[:200]}")
                continue
            got = body["outputs"][0]["data"][0]
            if abs(got - want) > 1e-6 * abs(want):
                self.fail(f"POST {path} predicts {got}, expected {want}")

        print(f"checked {len(ledger['versions'])} acknowledged versions ({len(registered)} registered), "
              f"{sum(len(m) for m in ledger['alias_moves'].values())} alias moves on {len(ledger['alias_moves'])} aliases, "
              f"{len(ledger['confirmed_predictions'])} committed predictions, {len(ledger['feedback'])} feedback items, "
              f"{len(entries)} audit entries, inference on {len(paths)} routes")
        for note in self.notes:
            print(f"note: {note}")
        if self.args.strict_audit:
            self.failures += [n for n in self.notes if "audit entry" in n]
        return self.failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["load", "check"])
    parser.add_argument("--server", required=True)
    parser.add_argument("--key", default=os.environ.get("FERRY_API_KEY"))
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--kill-pid", type=int)
    parser.add_argument("--kill-after", default="1.5-3.5", help="seconds range for the SIGKILL, e.g. 1.5-3.5")
    parser.add_argument("--strict-audit", action="store_true",
                        help="fail, not just note, when a committed but unacknowledged change has no audit entry")
    parser.add_argument("--threads", type=int, default=6, help="writer threads (each owns one alias)")
    parser.add_argument("--predictors", type=int, default=2, help="inference-only threads")
    args = parser.parse_args()
    ledger = load_ledger(args.ledger)
    if args.mode == "load":
        if not args.kill_pid:
            parser.error("load needs --kill-pid")
        errors = Load(args, ledger).run()
        save_ledger(args.ledger, ledger)
        label = "unexpected answers during the load"
    else:
        if not args.data_dir:
            parser.error("check needs --data-dir")
        errors = Check(args, ledger).run()
        label = "crash check failures"
    if errors:
        print(f"{len(errors)} {label}:")
        for e in errors[:40]:
            print(f"  {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()

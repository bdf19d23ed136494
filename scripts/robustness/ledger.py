"""The acknowledged-write ledger behind Ferry's SIGKILL proofs: its load and its checks (Python stdlib only).

Shared by scripts/robustness/crash.py (one server, SIGKILLed and restarted on its data folder) and scenario D of
scripts/replicas/scenario.py (a replica SIGKILLed under load behind nginx, checked through every survivor). Each
script subclasses LedgerLoad and LedgerCheck with what is its own: which server is killed and how, where each
request goes, how stored feedback is read, and what else it checks.

LedgerLoad: writer threads each own one alias of one model and, in turn, register a distinct artifact (JSON+base64
and raw octet-stream uploads alternate), move their alias to it (every third time back to the previous version too),
predict, wait until the prediction is readable (then it is committed) and label it (every fourth time with an item
for an id that was never logged, kept as unmatched); predictor threads only infer, to keep the prediction log busy.
Every write answered with a 2xx goes into the ledger as acknowledged; a request the kill cut off is uncertain (it
may or may not have been applied). The kill comes while a write to the killed server is in flight.

LedgerCheck: every acknowledged version exists under its number with the digest and description that were sent,
and no version exists that no client sent; every alias points at its last acknowledged target or at a later one whose
answer the kill cut off; every acknowledged feedback item is stored with its label and the performance report counts
them; the audit trail has an entry for every acknowledged registration and alias move, in order, and verifies;
inference answers with the example's expected prediction.
"""
import base64
import hashlib
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

EXAMPLE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "fraud"))
TIMEOUT = 15
NO_ANSWER = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError)


class Client:
    """One server (or nginx) with one key; every call opens a new connection (urllib)."""

    def __init__(self, base, key, name=None):
        self.base = base.rstrip("/")
        self.key = key
        self.name = name or self.base

    def call(self, method, path, body=None, content_type="application/json", key=None, timeout=TIMEOUT, headers=None):
        """(status, parsed JSON or text, headers). Raises NO_ANSWER errors when there is no answer."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        all_headers = {"Authorization": "Bearer " + (key or self.key)}
        if body is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), error.headers
        try:
            return status, json.loads(raw), answer_headers
        except ValueError:
            return status, raw.decode(errors="replace"), answer_headers


def artifact_bytes(nonce, bits=32):
    """The example model plus a unique run of trailing whitespace: a distinct, valid artifact per registration
    (`bits` spaces and tabs spell the nonce)."""
    base = open(os.path.join(EXAMPLE, "model.json"), "rb").read().rstrip()
    tail = "".join(" \t"[(nonce >> bit) & 1] for bit in range(bits))
    return base + b"\n" + tail.encode() + b"\n"


def new_ledger():
    """An empty ledger: acknowledged versions, alias moves, committed predictions and feedback, and what was
    uncertain (sent, but the kill cut the answer off)."""
    return {"versions": [], "versions_uncertain": [], "alias_moves": {}, "confirmed_predictions": [],
            "feedback": [], "feedback_uncertain": []}


def origin(entry):
    """Where a ledger entry came from, for messages: 'round 2' (crash.py) or 'via nginx' (scenario D)."""
    return ", ".join(f"{key} {entry[key]}" for key in ("round", "via") if key in entry)


# ------------------------------------------------------------------------------------------------ load

class LedgerLoad:
    """Writer and predictor threads that record every acknowledged write in `ledger` (see the module doc).

    A subclass says where requests go and what the kill is:
      front               the client predictors infer through and predictions are read back through;
      client_for(i, c)    the client writer i sends its next round through (c: the one it used last, None at first);
      next_nonce()        a number never used before, for the next artifact;
      tags(client)        what a version or alias move entry records about where it was sent;
      kill()              SIGKILLs the server (called with the lock held, killed_at already set);
    and may change:
      watched(client)     whether requests through `client` reach the server that is killed (their writes in flight
                          are counted: the kill waits for one);
      cut_off(client, s)  whether an answer with status s means the kill cut the request off (nginx: 502, 504);
      via(client)         how messages name the route (nothing with one server);
      keep_going          after a request without a 2xx answer, go on with the next round (other servers are up)
                          instead of ending the thread (the only server is dead);
      read_seconds, retry_statuses   how long a prediction may take to become readable, and the answers that mean
                          'not yet';
      nonce_bits          how many whitespace characters spell the nonce in each artifact.
    """

    front = None                   # set by the subclass
    keep_going = False
    read_seconds = 2
    retry_statuses = (404,)
    nonce_bits = 32

    def __init__(self, ledger, models, label, threads, predictors):
        self.ledger = ledger
        self.models = list(models)
        self.label = label             # in descriptions and alias move reasons, e.g. "crash round 2"
        self.threads_n = threads
        self.predictors_n = predictors
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.started = None            # monotonic time the load began
        self.killed_at = None          # monotonic time of the SIGKILL
        self.inflight = {"register": 0, "alias": 0, "feedback": 0, "infer": 0}   # on watched routes
        self.errors = []               # answers that are not 2xx, and lost connections before the kill
        self.counts = {k: 0 for k in ("register", "alias", "infer", "confirmed", "feedback", "uncertain")}
        self.request = open(os.path.join(EXAMPLE, "request.json"), "rb").read()

    # --- what a subclass says

    def client_for(self, index, current):
        raise NotImplementedError

    def next_nonce(self):
        raise NotImplementedError

    def tags(self, client):
        raise NotImplementedError

    def kill(self):
        raise NotImplementedError

    def watched(self, client):
        return True

    def cut_off(self, client, status):
        return False

    def via(self, client):
        return ""

    # --- the load

    def send(self, client, kind, method, path, body=None, content_type="application/json"):
        """(status, answer) on a 2xx answer; None when the kill cut it off (uncertain) or on an error (recorded)."""
        watched = self.watched(client)
        if watched:
            with self.lock:
                self.inflight[kind] += 1
        try:
            status, answer, _ = client.call(method, path, body, content_type)
        except NO_ANSWER as error:
            with self.lock:
                if self.killed_at is None:
                    self.errors.append(f"{method} {path}{self.via(client)}: no answer before the kill: {error!r}")
                self.counts["uncertain"] += 1
            return None
        finally:
            if watched:
                with self.lock:
                    self.inflight[kind] -= 1
        if self.cut_off(client, status):
            with self.lock:
                self.counts["uncertain"] += 1
            return None
        if not 200 <= status < 300:
            with self.lock:
                self.errors.append(f"{method} {path}{self.via(client)}: HTTP {status}: {str(answer)[:300]}")
            return None
        return status, answer

    def readable(self, prediction):
        """Whether GET /api/v1/predictions/{id} through the front answers 200 (then the prediction is committed)
        within read_seconds, asked every 20 ms while it answers one of retry_statuses. When it does not, that is an
        error unless the kill explains it: it cut the read off, or it came before the time was up (a killed server
        may never write the predictions it answered: its log is written off the request path, in batches)."""
        deadline = time.monotonic() + self.read_seconds
        while True:
            try:
                status = self.front.call("GET", f"/api/v1/predictions/{prediction}")[0]
            except NO_ANSWER as error:
                with self.lock:
                    if self.killed_at is None:
                        self.errors.append(f"GET /api/v1/predictions/{prediction}: no answer before the kill: {error!r}")
                return False
            if status == 200:
                return True
            if status not in self.retry_statuses or time.monotonic() > deadline:
                with self.lock:
                    if self.killed_at is None or self.killed_at > deadline:
                        self.errors.append(f"GET /api/v1/predictions/{prediction}: HTTP {status}, not readable "
                                           f"{self.read_seconds:g} s after the prediction")
                return False
            time.sleep(0.02)

    def writer(self, index):
        """Registers versions of its model, moves its own alias, predicts, and sends feedback, until the load stops
        (or, unless keep_going, until a request gets no 2xx answer)."""
        model, alias = self.owned(index)
        with self.lock:
            moves = self.ledger["alias_moves"].setdefault(f"{model}@{alias}", [])
            mine = [m["version"] for m in moves if m["acked"]]   # crash.py's ledger carries earlier rounds
        client, iteration = None, 0
        while not self.stop_event.is_set():
            iteration += 1
            client = self.client_for(index, client)
            if not self.write_round(index, iteration, client, moves, mine) and not self.keep_going:
                return

    def owned(self, index):
        """(model, alias) that writer `index` owns."""
        return self.models[index % len(self.models)], f"t{index}"

    def write_round(self, index, iteration, client, moves, mine):
        """One round of writer `index` (its alias moves so far in `moves`, its acknowledged versions in `mine`);
        False as soon as a request gets no 2xx answer."""
        model, alias = self.owned(index)
        # 1. Register a distinct artifact, alternating JSON+base64 and raw octet-stream uploads.
        nonce = self.next_nonce()
        data = artifact_bytes(nonce, self.nonce_bits)
        sha = hashlib.sha256(data).hexdigest()
        description = f"{self.label} thread {index} nonce {nonce}"
        pending = dict(self.tags(client), model=model, sha256=sha, description=description)
        if iteration % 2:
            got = self.send(client, "register", "POST", f"/api/v1/models/{model}/versions",
                            {"artifact": base64.b64encode(data).decode(), "description": description})
        else:
            got = self.send(client, "register", "POST",
                            f"/api/v1/models/{model}/versions?description={urllib.parse.quote(description)}",
                            data, "application/octet-stream")
        if got is None:
            with self.lock:
                self.ledger["versions_uncertain"].append(pending)
            return False
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
            move = dict(self.tags(client), version=target, acked=False)
            with self.lock:
                moves.append(move)
            if self.send(client, "alias", "PUT", f"/api/v1/models/{model}/aliases/{alias}",
                         {"version": target, "reason": self.label}) is None:
                if not self.keep_going:
                    return False
                break   # the next moves of this round are skipped; the round goes on with a prediction
            with self.lock:
                move["acked"] = True
                self.counts["alias"] += 1
        # 3. Predict, wait until the prediction is readable (then it is committed), and label it.
        got = self.send(client, "infer", "POST", "/v2/models/fraud/versions/1/infer", self.request)
        if got is None:
            return False
        prediction = got[1]["parameters"]["prediction_id"]
        with self.lock:
            self.counts["infer"] += 1
        if not self.readable(prediction):
            return False
        with self.lock:
            self.ledger["confirmed_predictions"].append(prediction)
            self.counts["confirmed"] += 1
        items = [{"prediction_id": prediction, "row": 0, "label": random.randint(0, 1)}]
        if iteration % 4 == 0:   # ground truth for an id that was never logged is kept too, as unmatched
            items.append({"prediction_id": f"ghost-{uuid.uuid4()}", "row": 0, "label": random.randint(0, 1)})
        got = self.send(client, "feedback", "POST", "/api/v1/feedback", {"items": items})
        if got is None:
            with self.lock:
                self.ledger["feedback_uncertain"] += items
            return False
        answer = got[1]
        if (answer.get("accepted"), answer.get("matched")) != (len(items), 1):
            with self.lock:
                self.errors.append(f"feedback for a readable prediction{self.via(client)}: sent {len(items)} items, "
                                   f"answer {answer}")
        with self.lock:
            self.ledger["feedback"] += [dict(item, matched=not item["prediction_id"].startswith("ghost-"))
                                        for item in items]
            self.counts["feedback"] += len(items)
        return True

    def predictor(self):
        """Inference only, to keep the prediction log's queue busy when the kill comes."""
        while not self.stop_event.is_set():
            if self.send(self.front, "infer", "POST", "/v2/models/fraud/infer", self.request) is not None:
                with self.lock:
                    self.counts["infer"] += 1
            elif not self.keep_going:
                return

    def run(self, kill_after, after_kill=0.0):
        """Starts the threads, kills after `kill_after` seconds while a write to the killed server is in flight (it
        waits at most 1 s more for one), lets the load go on `after_kill` seconds, then stops it and waits for every
        thread. Returns the requests in flight at the kill, by kind."""
        threads = [threading.Thread(target=self.writer, args=(i,), daemon=True) for i in range(self.threads_n)]
        threads += [threading.Thread(target=self.predictor, daemon=True) for _ in range(self.predictors_n)]
        self.started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(kill_after)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            with self.lock:
                if self.inflight["register"] + self.inflight["alias"] + self.inflight["feedback"] > 0:
                    break
            time.sleep(0.001)
        with self.lock:
            inflight = dict(self.inflight)
            # Marked before the signal: nginx may answer 502 for a request the kill cut off before kill() returns.
            self.killed_at = time.monotonic()
            self.kill()
        time.sleep(after_kill)
        self.stop_event.set()
        for t in threads:
            t.join(TIMEOUT + 5)
        alive = [t for t in threads if t.is_alive()]
        if alive:
            self.errors.append(f"{len(alive)} client threads still blocked {TIMEOUT + 5} s after the load ended")
        return inflight


# ------------------------------------------------------------------------------------------------ checks

class LedgerCheck:
    """The ledger's checks against one server after the kill (crash.py: the restarted server; scenario D: each
    survivor). What is wrong is recorded with fail(); a GET that must work goes through get(), which each script
    makes raise its own way."""

    def __init__(self, ledger, client, models):
        self.ledger = ledger
        self.client = client
        self.models = list(models)     # the writers' models
        self.failures = []
        self.request = open(os.path.join(EXAMPLE, "request.json"), "rb").read()
        self.want = json.load(open(os.path.join(EXAMPLE, "expected.json")))["probabilities"][17]

    def fail(self, message):
        self.failures.append(message)

    def get(self, path):
        """The parsed answer of a GET that must answer 200."""
        raise NotImplementedError

    def versions(self, also=()):
        """Every acknowledged version exists under its number with the artifact digest and description that were
        sent, and every version of the writers' models is one a client sent (acknowledged or uncertain).
        {(model, number): version as listed} of the models in `also` and the writers' models."""
        ledger = self.ledger
        registered = {}
        for model in list(also) + self.models:
            status, body, _ = self.client.call("GET", f"/api/v1/models/{model}/versions")
            if status == 404 and model in self.models and not any(v["model"] == model for v in ledger["versions"]):
                continue   # this model's first registration was never acknowledged
            if status != 200:
                self.fail(f"GET /api/v1/models/{model}/versions answered {status}: {str(body)[:200]}")
                continue
            for v in body["items"]:
                registered[(model, v["version"])] = v
        for want in ledger["versions"]:
            got = registered.get((want["model"], want["version"]))
            if got is None:
                self.fail(f"LOST: acknowledged version {want['model']}/{want['version']} ({origin(want)}) is missing")
            elif got["artifact"]["sha256"] != want["sha256"] or got.get("description") != want["description"]:
                self.fail(f"acknowledged version {want['model']}/{want['version']} now holds sha256 "
                          f"{got['artifact']['sha256'][:12]} '{got.get('description')}', "
                          f"acknowledged as {want['sha256'][:12]} '{want['description']}'")
        acked = {(v["model"], v["version"]) for v in ledger["versions"]}
        uncertain = {u["sha256"] for u in ledger["versions_uncertain"]}
        for key, v in registered.items():
            if key[0] in self.models and key not in acked and v["artifact"]["sha256"] not in uncertain:
                self.fail(f"version {key[0]}/{key[1]} exists but no client sent its bytes")
        return registered

    def aliases(self):
        """Every alias (each is owned by one writer thread, so its moves are ordered) points at the last
        acknowledged target, or at a target sent later whose answer the kill cut off. {"model@alias": version}."""
        aliases = {}
        for model in self.models:
            status, body, _ = self.client.call("GET", f"/api/v1/models/{model}/aliases")
            if status == 200:
                aliases.update({f"{model}@{a['name']}": a["version"] for a in body["items"]})
        for key, moves in self.ledger["alias_moves"].items():
            acked = [i for i, m in enumerate(moves) if m["acked"]]
            allowed = {m["version"] for m in moves[(acked[-1] + 1 if acked else 0):]}
            if acked:
                allowed.add(moves[acked[-1]]["version"])
            got = aliases.get(key)
            if got not in allowed and not (not acked and got is None):
                last = moves[acked[-1]]["version"] if acked else None
                self.fail(f"LOST: alias {key} points at {got}, last acknowledged move was to {last} "
                          f"(allowed {sorted(allowed)})")
        return aliases

    def feedback(self, stored):
        """Every acknowledged feedback item is stored with its label (`stored`: {(prediction id, row): label} as read
        from the store; None when it could not be read, which the caller has reported), and fraud/1's performance
        counts at least the acknowledged matched and unmatched items."""
        feedback = self.ledger["feedback"]
        for item in feedback if stored is not None else []:
            label = stored.get((item["prediction_id"], item["row"]))
            if label is None:
                self.fail(f"LOST: acknowledged feedback for {item['prediction_id']} row {item['row']} is not stored")
            elif label != item["label"]:
                self.fail(f"feedback for {item['prediction_id']} stored label {label}, acknowledged {item['label']}")
        perf = self.get("/api/v1/models/fraud/performance?version=1")
        matched = sum(1 for f in feedback if f["matched"])
        ghosts = len(feedback) - matched
        if perf["overall"]["count"] < matched:
            self.fail(f"performance counts {perf['overall']['count']} labelled rows of fraud/1, {matched} were acknowledged")
        if perf.get("unmatched_feedback", 0) < ghosts:
            self.fail(f"performance counts {perf.get('unmatched_feedback')} unmatched items, {ghosts} were acknowledged")

    def audit(self):
        """The audit trail (every page) has a version.register entry (same sha256) for every acknowledged
        registration and, per alias, its acknowledged moves in order among its alias.set entries; its sequence
        numbers strictly increase, and GET /api/v1/audit/verify says the chain is intact. (entries, {target:
        version.register entry}, {"model@alias": [versions of its alias.set entries, in order]})."""
        entries, after = [], 0
        while True:
            page = self.get(f"/api/v1/audit?after={after}&limit=10000")["items"]
            entries += page
            if len(page) < 10000:
                break
            after = page[-1]["seq"]
        registrations = {e["target"]: e for e in entries if e["action"] == "version.register"}
        for v in self.ledger["versions"]:
            entry = registrations.get(f"{v['model']}/{v['version']}")
            if entry is None:
                self.fail(f"audit trail has no version.register entry for acknowledged {v['model']}/{v['version']}")
            elif (entry.get("after") or {}).get("sha256") != v["sha256"]:
                self.fail(f"audit entry for {v['model']}/{v['version']} records another sha256")
        alias_sets = {}
        for e in entries:
            if e["action"] == "alias.set":
                alias_sets.setdefault(e["target"], []).append(int(e["after"]["version"]))
        for key, moves in self.ledger["alias_moves"].items():
            trail = iter(alias_sets.get(key, []))
            for m in moves:
                if m["acked"] and not any(v == m["version"] for v in trail):
                    self.fail(f"audit trail lacks the acknowledged move of {key} to {m['version']} "
                              f"(in order; trail has {alias_sets.get(key, [])})")
                    break
        seqs = [e["seq"] for e in entries]
        if seqs != sorted(set(seqs)):
            self.fail("audit sequence numbers are not strictly increasing")
        verify = self.get("/api/v1/audit/verify")
        if verify.get("intact") is not True or verify.get("problems"):
            self.fail(f"GET /api/v1/audit/verify: {json.dumps(verify)[:300]}")
        return entries, registrations, alias_sets

    def inference(self, path, note=""):
        """POST examples/fraud/request.json to `path`: it answers 200 with the example's expected probability."""
        status, body, _ = self.client.call("POST", path, self.request)
        if status != 200:
            self.fail(f"POST {path}{note} answered {status}: {str(body)[:200]}")
            return
        got = body["outputs"][0]["data"][0]
        if abs(got - self.want) > 1e-6 * abs(self.want):
            self.fail(f"POST {path}{note} predicts {got}, expected {self.want}")

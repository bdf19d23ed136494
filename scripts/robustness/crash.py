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
    its acknowledged moves appear in order among its alias.set entries; its sequence numbers strictly increase, and
    /api/v1/audit/verify says the chain is intact;
  * inference works after the restart: fraud's default version and every client alias answer with the prediction
    expected for examples/fraud/request.json (every registered artifact is the example model plus whitespace).
  * with --strict-audit (crash.sh's default), every committed change has its audit entry, acknowledged or not: stores
    append the entry in the change's own transaction, so a kill can never leave a change the trail does not mention.

The load and the checks that do not depend on one server and its data folder are in ledger.py, shared with the
multi-replica proof (scripts/replicas/scenario.py, scenario D).
"""
import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import sys

from ledger import Client, LedgerCheck, LedgerLoad, new_ledger

MODELS = ["crash-a", "crash-b", "crash-c"]


def load_ledger(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return dict(new_ledger(), next_nonce=1, rounds=[])


def save_ledger(path, ledger):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ledger, f)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------- load

class Load(LedgerLoad):
    """ledger.py's load against the one server, which is SIGKILLed (--kill-pid): every request goes to it, and a
    writer ends at its first request without an answer (after the kill, none will come)."""

    nonce_bits = 24

    def __init__(self, args, ledger):
        super().__init__(ledger, MODELS, f"crash round {args.round}", args.threads, args.predictors)
        self.args = args
        self.front = Client(args.server, args.key)

    def client_for(self, index, current):
        return self.front

    def next_nonce(self):
        with self.lock:
            n = self.ledger["next_nonce"]
            self.ledger["next_nonce"] = n + 1
            return n

    def tags(self, client):
        return {"round": self.args.round}

    def kill(self):
        os.kill(self.args.kill_pid, signal.SIGKILL)

    def run(self):
        low, high = (float(x) for x in self.args.kill_after.split("-"))
        inflight = super().run(random.uniform(low, high))
        summary = {"round": self.args.round, "killed_after_s": round(self.killed_at - self.started, 2),
                   "inflight_at_kill": inflight, "acked": self.counts, "errors": self.errors}
        self.ledger["rounds"].append(summary)
        print(f"round {self.args.round}: SIGKILL after {summary['killed_after_s']} s with in flight {inflight}; "
              f"acknowledged: {self.counts['register']} registrations, {self.counts['alias']} alias moves, "
              f"{self.counts['infer']} predictions ({self.counts['confirmed']} read back), "
              f"{self.counts['feedback']} feedback items; {self.counts['uncertain']} requests cut off by the kill")
        return self.errors


# ---------------------------------------------------------------------------------------------------- check

class Check(LedgerCheck):
    """ledger.py's checks against the restarted server, and what its data folder holds (artifacts, the predictions
    and feedback in predictions.sqlite)."""

    def __init__(self, args, ledger):
        super().__init__(ledger, Client(args.server, args.key), MODELS)
        self.args = args
        self.notes = []

    def get(self, path):
        status, body, _ = self.client.call("GET", path)
        if status != 200:
            raise SystemExit(f"CHECK FAILED: GET {path} answered {status}: {str(body)[:300]}")
        return body

    def run(self):
        ledger = self.ledger
        # Versions: every acknowledged one, by number, with the bytes and description that were sent.
        registered = self.versions(also=["fraud"])

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
        aliases = self.aliases()

        # Predictions that were readable before the kill were committed: they must survive it.
        db = sqlite3.connect(f"file:{os.path.join(self.args.data_dir, 'predictions.sqlite')}?mode=ro", uri=True)
        present = {row[0] for row in db.execute("SELECT id FROM prediction_id")}   # one row per stored record
        gone = [p for p in ledger["confirmed_predictions"] if p not in present]
        if gone:
            self.fail(f"LOST: {len(gone)} predictions readable before a kill are gone, e.g. {gone[:3]}")
        for p in ledger["confirmed_predictions"][-5:]:   # and the API reads them back
            status, body, _ = self.client.call("GET", f"/api/v1/predictions/{p}")
            if status != 200 or body.get("id") != p:
                self.fail(f"GET /api/v1/predictions/{p} answered {status} after the restart")

        # Feedback: every acknowledged item is stored with its label (predictions.sqlite's feedback table).
        stored = {(r[0], r[1]): r[2] for r in db.execute("SELECT prediction_id, row, label FROM feedback")}
        db.close()
        self.feedback(stored)

        # Audit trail: an entry for every acknowledged registration and alias move, and an intact chain.
        entries, registrations, alias_sets = self.audit()
        unaudited = [f"{m}/{n}" for (m, n) in registered if m != "fraud" and f"{m}/{n}" not in registrations]
        if unaudited:
            self.notes.append(f"committed but unacknowledged versions without an audit entry: {unaudited}")
        for key, current in aliases.items():
            if alias_sets.get(key, [None])[-1] != current:
                self.notes.append(f"alias {key} is at {current} but its last alias.set entry says "
                                  f"{alias_sets.get(key, [None])[-1]} (move committed, killed before its audit entry)")

        # Inference after the restart: the default version and every client alias.
        paths = ["/v2/models/fraud/infer"] + [
            f"/v2/models/{k.split('@')[0]}/versions/{k.split('@')[1]}/infer" for k in sorted(aliases)]
        for path in paths:
            self.inference(path, " after the restart")

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

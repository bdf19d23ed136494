#!/usr/bin/env python3
"""Write the benchmark's runs straight into a stopped server's SQLite database.

    python populate.py ferry  DB --runs N --metrics M --seed S --out stats.json
    python populate.py mlflow DB --runs N --metrics M --seed S --out stats.json

DB must be a database the server created itself (so the schema is the server's own) holding no
experiment 1 yet. The rows (tracking_data.py) go in with Python's sqlite3 in one transaction with
executemany: experiment 1 'bench', the runs, their params, tags, metric history and latest metrics.
Going through the REST API instead (5M metrics) takes hours on either server.

To make a bulk load of millions of rows take seconds rather than minutes, for the duration of the
load: the journal is off (the previous journal mode, WAL for Ferry, is set again afterwards),
synchronous is off, the page cache is large, and the secondary indexes of the tables written are
dropped and created again afterwards from their own SQL in sqlite_master, so the schema ends up as
the server made it. Rows go in primary-key order. No ANALYZE is run: neither server runs one, so
both plan their queries without statistics, as on a database filled through the API.

Writes {"target", "runs", "metrics", "rows": {table: count}, "seconds", "db_bytes"} to --out.
"""
import argparse
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracking_data as td  # noqa: E402


def ferry_rows(d: td.Data, now_ms: int):
    order = sorted(range(d.runs), key=lambda i: d.run_ids[i])  # primary-key order
    keys = sorted(range(d.n_metrics), key=lambda k: d.metric_keys[k])
    vals = d.values.tolist()
    ts = d.metric_ts.tolist()
    st, et = d.start_time.tolist(), d.end_time.tolist()
    ptab = sorted(range(len(td.PARAM_KEYS)), key=lambda j: td.PARAM_KEYS[j])
    ttab = sorted(range(len(td.TAG_KEYS)), key=lambda j: td.TAG_KEYS[j])
    yield "tracking_experiment", "INSERT INTO tracking_experiment VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (td.EXPERIMENT_ID, td.EXPERIMENT_NAME, f"mlflow-artifacts:/{td.EXPERIMENT_ID}", "active", now_ms, now_ms, "{}")]
    yield "tracking_run", ("INSERT INTO tracking_run (run_id, experiment_id, run_name, user_id, status, start_time, "
                           "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), (
        (d.run_ids[i], td.EXPERIMENT_ID, d.run_names[i], td.USER, "FINISHED", st[i], et[i], d.artifact_uri(i), "active")
        for i in order)
    yield "tracking_param", "INSERT INTO tracking_param (run_id, key, value) VALUES (?, ?, ?)", (
        (d.run_ids[i], td.PARAM_KEYS[j], d.params[j][i]) for i in order for j in ptab)
    yield "tracking_tag", "INSERT INTO tracking_tag (run_id, key, value) VALUES (?, ?, ?)", (
        (d.run_ids[i], td.TAG_KEYS[j], d.tags[j][i]) for i in order for j in ttab)
    for table in ("tracking_metric", "tracking_latest_metric"):
        yield table, (f"INSERT INTO {table} (run_id, key, step, timestamp, value, is_nan) "
                      "VALUES (?, ?, 0, ?, ?, 0)"), (
            (d.run_ids[i], d.metric_keys[k], ts[i], vals[k][i]) for i in order for k in keys)


def mlflow_rows(d: td.Data, now_ms: int):
    order = sorted(range(d.runs), key=lambda i: d.run_ids[i])
    keys = sorted(range(d.n_metrics), key=lambda k: d.metric_keys[k])
    vals = d.values.tolist()
    ts = d.metric_ts.tolist()
    st, et = d.start_time.tolist(), d.end_time.tolist()
    yield "experiments", ("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                          "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)"), [
        (td.EXPERIMENT_ID, td.EXPERIMENT_NAME, f"mlflow-artifacts:/{td.EXPERIMENT_ID}", "active", now_ms, now_ms)]
    yield "runs", ("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                   "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
                   "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'FINISHED', ?, ?, '', 'active', ?, ?, NULL)"), (
        (d.run_ids[i], d.run_names[i], td.USER, st[i], et[i], d.artifact_uri(i), td.EXPERIMENT_ID) for i in order)
    # params / tags: primary key (key, run_uuid)
    yield "params", "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", (
        (td.PARAM_KEYS[j], d.params[j][i], d.run_ids[i])
        for j in sorted(range(len(td.PARAM_KEYS)), key=lambda j: td.PARAM_KEYS[j]) for i in order)
    yield "tags", "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", (
        (td.TAG_KEYS[j], d.tags[j][i], d.run_ids[i])
        for j in sorted(range(len(td.TAG_KEYS)), key=lambda j: td.TAG_KEYS[j]) for i in order)
    # latest_metrics: primary key (key, run_uuid)
    yield "latest_metrics", ("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                             "VALUES (?, ?, ?, 0, 0, ?)"), (
        (d.metric_keys[k], vals[k][i], ts[i], d.run_ids[i]) for k in keys for i in order)
    # metrics: primary key (key, timestamp, step, run_uuid, value, is_nan); timestamps grow with the run index
    yield "metrics", ("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                      "VALUES (?, ?, ?, ?, 0, 0)"), (
        (d.metric_keys[k], vals[k][i], ts[i], d.run_ids[i]) for k in keys for i in range(d.runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=["ferry", "mlflow"])
    ap.add_argument("db")
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--metrics", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not os.path.exists(a.db):
        raise SystemExit(f"populate: {a.db} does not exist (start the server once to create it)")

    t0 = time.perf_counter()
    d = td.Data(a.runs, a.metrics, a.seed)
    gen_s = time.perf_counter() - t0
    now_ms = int(time.time() * 1000)
    tables = ferry_rows(d, now_ms) if a.target == "ferry" else mlflow_rows(d, now_ms)
    exp_table = "tracking_experiment" if a.target == "ferry" else "experiments"
    id_col = "id" if a.target == "ferry" else "experiment_id"

    con = sqlite3.connect(a.db, isolation_level=None)
    if con.execute(f"SELECT COUNT(*) FROM {exp_table} WHERE {id_col} = ?", (td.EXPERIMENT_ID,)).fetchone()[0]:
        raise SystemExit(f"populate: {a.db} already has experiment {td.EXPERIMENT_ID} (use a fresh database)")
    journal = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -1048576")  # 1 GiB
    con.execute("PRAGMA temp_store = MEMORY")

    rows = {}
    t1 = time.perf_counter()
    con.execute("BEGIN")
    dropped = []
    for table, sql, data in tables:
        idx = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                          (table,)).fetchall()
        for name, isql in idx:
            con.execute(f'DROP INDEX "{name}"')
        dropped += idx
        before = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        con.executemany(sql, data)
        rows[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] - before
    for _, isql in dropped:
        con.execute(isql)
    con.execute("COMMIT")
    load_s = time.perf_counter() - t1
    con.execute(f"PRAGMA journal_mode = {journal}")
    con.close()
    total_s = time.perf_counter() - t0

    stats = {"target": a.target, "runs": a.runs, "metrics": a.metrics, "seed": a.seed, "rows": rows,
             "generate_seconds": round(gen_s, 2), "load_seconds": round(load_s, 2), "seconds": round(total_s, 2),
             "db_bytes": os.path.getsize(a.db), "indexes_rebuilt": [n for n, _ in dropped], "journal_mode": journal}
    with open(a.out, "w") as fh:
        json.dump(stats, fh, indent=1)
    print(f"populate {a.target}: {sum(rows.values()):,} rows in {total_s:.1f} s "
          f"({', '.join(f'{k} {v:,}' for k, v in rows.items())}); {stats['db_bytes'] / 2**20:,.0f} MiB",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

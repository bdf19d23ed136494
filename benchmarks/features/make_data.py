#!/usr/bin/env python3
"""Build the synthetic data of the feature-store benchmark, for Ferry and for Feast.

    python benchmarks/features/make_data.py SIZE_DIR [--entities N] [--rows-per-entity R]
        [--feature-rows M] [--cards C] [--entity-rows K] [--days D] [--seed S] [--force]

Deterministic (fixed numpy seeds). One entity `card` (join key card_id, int64) and one
feature view `card_stats` with 10 features (5 int64, 5 float64; about 1% of every float
value is null), event_timestamp + created columns spread over D (30) days from
2024-01-01T00:00:00Z. Two independent data sets, each with its own Ferry definitions
and Feast repo, because the two halves of the benchmark need different shapes:

  SIZE_DIR/online/      materialization + online reads: N (100,000) cards with R (2)
                        rows each (N*R source rows, shuffled); materializing keeps the
                        latest row per card, so N cards x 10 features reach the online store.
                        ttl 0 (no bound): the data is from 2024, and an online read
                        happens "now".
  SIZE_DIR/training/    training set: M (10,000,000) feature rows over C (100,000) cards,
                        and an entity file of K (1,000,000) rows (card_id, event_timestamp):
                        99% known cards, 1% unknown ids (no candidate -> nulls), timestamps
                        from 1 day before the data to 1 day after it; ttl 7d. About 1% of
                        the feature rows repeat a (card_id, event_timestamp) of another row
                        with a later `created`, so the created tie-break matters.

Each folder holds:
  card_stats.csv          Ferry's source: header, ISO 8601 UTC timestamps ("...T..:..:..Z"),
                          empty field = null
  card_stats.parquet      the same rows for Feast (its file source reads Parquet, not CSV):
                          timestamps as timestamp[us, UTC]
  definitions.json        Ferry's definitions (contract format; the source path is relative
                          to this folder)
  feast_repo/             feature_store.yaml (file offline store, SQLite online store),
                          feature_store.duckdb.yaml (DuckDB offline store) and
                          definitions.py (Entity, FileSource, FeatureView)
  entities.csv            (training only) card_id,event_timestamp

SIZE_DIR/manifest.json records the arguments, row counts, file sizes and a generator hash
(this script's sha256 + the numpy and pyarrow versions). Nothing is rewritten when it
matches; --force (or REGEN_DATA=1) regenerates anyway. The CSVs and Parquet files are
written in chunks of CHUNK_ROWS, so 10M rows never sit in memory at once.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SCHEMA_VERSION = 1
CHUNK_ROWS = 1_000_000
BASE = np.datetime64("2024-01-01T00:00:00", "s")
CARD_ID_BASE = 4_000_000_000  # beyond int32, so int64 join keys are exercised
NULL_FRACTION = 0.01
DUPLICATE_FRACTION = 0.01
VIEW = "card_stats"
ENTITY = "card"
JOIN_KEY = "card_id"
FEATURES = [  # (name, type)
    ("txn_count_1d", "int64"),
    ("txn_count_7d", "int64"),
    ("txn_count_30d", "int64"),
    ("declined_count_7d", "int64"),
    ("distinct_merchants_7d", "int64"),
    ("avg_amount_7d", "float64"),
    ("max_amount_7d", "float64"),
    ("std_amount_7d", "float64"),
    ("amount_sum_1d", "float64"),
    ("risk_score", "float64"),
]
TTL = {"online": 0, "training": 7 * 86_400}  # seconds; 0 = no bound


def log(msg):
    print(f"[make_data] {msg}", file=sys.stderr, flush=True)


def iso(ts_s: np.ndarray) -> np.ndarray:
    """int64 epoch-offset seconds from BASE -> "2024-01-01T05:00:00Z" strings."""
    return np.char.add(np.datetime_as_string(BASE + ts_s.astype("timedelta64[s]"), unit="s"), "Z")


def feature_arrays(rng: np.random.Generator, n: int) -> dict:
    """The 10 feature columns for n rows, as pyarrow arrays (floats ~1% null, 4 decimals)."""
    c1 = rng.poisson(2.0, n)
    c7 = c1 + rng.poisson(12.0, n)
    c30 = c7 + rng.poisson(40.0, n)
    cols = {
        "txn_count_1d": c1,
        "txn_count_7d": c7,
        "txn_count_30d": c30,
        "declined_count_7d": rng.binomial(c7, 0.05),
        "distinct_merchants_7d": np.minimum(c7, rng.poisson(6.0, n)),
        "avg_amount_7d": np.round(rng.lognormal(3.5, 0.8, n), 4),
        "max_amount_7d": np.round(rng.lognormal(5.0, 1.0, n), 4),
        "std_amount_7d": np.round(rng.gamma(2.0, 15.0, n), 4),
        "amount_sum_1d": np.round(rng.lognormal(4.0, 1.2, n), 4),
        "risk_score": np.round(rng.random(n), 4),
    }
    out = {}
    for name, typ in FEATURES:
        v = cols[name]
        if typ == "int64":
            out[name] = pa.array(v.astype(np.int64), type=pa.int64())
        else:
            mask = rng.random(n) < NULL_FRACTION
            out[name] = pa.array(v.astype(np.float64), type=pa.float64(), mask=mask)
    return out


class csv_writer:
    """pyarrow's CSV writer with a bare header line (pyarrow always quotes header names) and no quoting:
    every value is a number, a bare ISO timestamp or empty (null)."""

    def __init__(self, path: str, schema: pa.Schema):
        self.fh = open(path, "wb")
        self.fh.write((",".join(schema.names) + "\n").encode())
        self.w = pacsv.CSVWriter(self.fh, schema,
                                 write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))

    def write_table(self, t: pa.Table):
        self.w.write_table(t)

    def close(self):
        self.w.close()
        self.fh.close()


class Writer:
    """Writes the same rows to card_stats.csv (Ferry) and card_stats.parquet (Feast), chunk by chunk."""

    def __init__(self, folder: str):
        self.csv_path = os.path.join(folder, "card_stats.csv")
        self.pq_path = os.path.join(folder, "card_stats.parquet")
        self.csv = None
        self.pq = None
        self.rows = 0

    def write(self, card_ids: np.ndarray, event_s: np.ndarray, created_s: np.ndarray, feats: dict):
        n = len(card_ids)
        csv_cols = {JOIN_KEY: pa.array(card_ids, type=pa.int64()),
                    "event_timestamp": pa.array(iso(event_s)),
                    "created": pa.array(iso(created_s)), **feats}
        csv_table = pa.table(csv_cols)
        ts = pa.timestamp("us", tz="UTC")
        pq_cols = {JOIN_KEY: csv_cols[JOIN_KEY],
                   "event_timestamp": pa.array((BASE + event_s.astype("timedelta64[s]")).astype("datetime64[us]"),
                                               type=pa.timestamp("us")).cast(ts),
                   "created": pa.array((BASE + created_s.astype("timedelta64[s]")).astype("datetime64[us]"),
                                       type=pa.timestamp("us")).cast(ts),
                   **feats}
        pq_table = pa.table(pq_cols)
        if self.csv is None:
            self.csv = csv_writer(self.csv_path + ".tmp", csv_table.schema)
            self.pq = pq.ParquetWriter(self.pq_path + ".tmp", pq_table.schema, compression="snappy")
        self.csv.write_table(csv_table)
        self.pq.write_table(pq_table)
        self.rows += n

    def close(self):
        self.csv.close()
        self.pq.close()
        os.replace(self.csv_path + ".tmp", self.csv_path)
        os.replace(self.pq_path + ".tmp", self.pq_path)


def write_online(folder: str, entities: int, rows_per_entity: int, days: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    total = entities * rows_per_entity
    # Every card gets rows_per_entity rows; the file order is shuffled.
    order = rng.permutation(total)
    cards_all = CARD_ID_BASE + (order % entities).astype(np.int64)
    w = Writer(folder)
    span = days * 86_400
    for lo in range(0, total, CHUNK_ROWS):
        hi = min(total, lo + CHUNK_ROWS)
        n = hi - lo
        event_s = rng.integers(0, span, n, dtype=np.int64)
        created_s = event_s + rng.integers(0, 3_600, n, dtype=np.int64)
        w.write(cards_all[lo:hi], event_s, created_s, feature_arrays(rng, n))
    w.close()
    return {"source_rows": total, "entities": entities, "rows_per_entity": rows_per_entity,
            "first_card_id": CARD_ID_BASE, "last_card_id": CARD_ID_BASE + entities - 1}


def write_training(folder: str, feature_rows: int, cards: int, entity_rows: int, days: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    span = days * 86_400
    w = Writer(folder)
    dups = 0
    for lo in range(0, feature_rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, feature_rows - lo)
        card_ids = CARD_ID_BASE + rng.integers(0, cards, n, dtype=np.int64)
        event_s = rng.integers(0, span, n, dtype=np.int64)
        created_s = event_s + rng.integers(0, 3_600, n, dtype=np.int64)
        # ~1%: the same (card, event_timestamp) as another row of the chunk, created later:
        # the point-in-time join must pick the later-created one.
        d = rng.random(n) < DUPLICATE_FRACTION
        src = rng.integers(0, n, int(d.sum()))
        src = src[~d[src]]  # copy only from rows that are not copies themselves
        dst = np.flatnonzero(d)[: len(src)]
        card_ids[dst] = card_ids[src]
        event_s[dst] = event_s[src]
        created_s[dst] = created_s[src] + 1 + rng.integers(0, 600, len(dst), dtype=np.int64)
        dups += len(dst)
        w.write(card_ids, event_s, created_s, feature_arrays(rng, n))
    w.close()

    # Entity rows: card_id, event_timestamp (1% unknown cards; timestamps 1 day either side of the data).
    path = os.path.join(folder, "entities.csv")
    writer = None
    unknown = 0
    for lo in range(0, entity_rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, entity_rows - lo)
        card_ids = CARD_ID_BASE + rng.integers(0, cards, n, dtype=np.int64)
        u = rng.random(n) < 0.01
        card_ids[u] = CARD_ID_BASE + cards + rng.integers(0, 1_000_000, int(u.sum()), dtype=np.int64)
        unknown += int(u.sum())
        ts = rng.integers(-86_400, span + 86_400, n, dtype=np.int64)
        t = pa.table({JOIN_KEY: pa.array(card_ids, type=pa.int64()), "event_timestamp": pa.array(iso(ts))})
        if writer is None:
            writer = csv_writer(path + ".tmp", t.schema)
        writer.write_table(t)
    writer.close()
    os.replace(path + ".tmp", path)
    return {"source_rows": feature_rows, "cards": cards, "duplicate_key_rows": dups,
            "entity_rows": entity_rows, "unknown_entity_rows": unknown}


def ferry_definitions(ttl_s: int) -> dict:
    return {
        "entities": [{"name": ENTITY, "join_keys": [{"name": JOIN_KEY, "type": "int64"}],
                      "description": "A payment card"}],
        "feature_views": [{
            "name": VIEW,
            "entities": [ENTITY],
            "ttl": ttl_s,
            "features": [{"name": n, "type": t} for n, t in FEATURES],
            "source": {"type": "file", "path": "card_stats.csv", "format": "csv",
                       "timestamp_field": "event_timestamp", "created_timestamp_field": "created"},
            "owner": "bench@example.com",
            "description": "Synthetic card statistics (benchmarks/features/make_data.py)",
            "tags": {"benchmark": "features"},
        }],
    }


FEAST_DEFINITIONS = '''\
# Generated by benchmarks/features/make_data.py: the same entity and view as definitions.json.
import os
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

HERE = os.path.dirname(os.path.abspath(__file__))

card = Entity(name="{entity}", join_keys=["{key}"], value_type=ValueType.INT64, description="A payment card")

card_stats_source = FileSource(
    name="card_stats_source",
    path=os.path.join(HERE, "..", "card_stats.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

card_stats = FeatureView(
    name="{view}",
    entities=[card],
    ttl=timedelta(seconds={ttl}),
    schema=[
{fields}
    ],
    online=True,
    source=card_stats_source,
    owner="bench@example.com",
    tags={{"benchmark": "features"}},
)
'''

FEAST_YAML = """\
project: ferry_bench
registry: {data}/registry.db
provider: local
online_store:
  type: sqlite
  path: {data}/online.db
offline_store:
  type: {offline}
entity_key_serialization_version: 3
"""


def write_feast_repo(folder: str, ttl_s: int):
    repo = os.path.join(folder, "feast_repo")
    os.makedirs(repo, exist_ok=True)
    fields = "\n".join(f'        Field(name="{n}", dtype={"Int64" if t == "int64" else "Float64"}),' for n, t in FEATURES)
    with open(os.path.join(repo, "definitions.py"), "w") as fh:
        fh.write(FEAST_DEFINITIONS.format(entity=ENTITY, key=JOIN_KEY, view=VIEW, ttl=ttl_s, fields=fields))
    # Relative paths resolve against the repo folder; bench_feast.py points `data` at a scratch folder per run.
    for name, offline in (("feature_store.yaml", "file"), ("feature_store.duckdb.yaml", "duckdb")):
        with open(os.path.join(repo, name), "w") as fh:
            fh.write(FEAST_YAML.format(data="data", offline=offline))


def generator_hash() -> str:
    with open(os.path.abspath(__file__), "rb") as fh:
        src = fh.read()
    return hashlib.sha256(src + f"\nnumpy {np.__version__} pyarrow {pa.__version__}".encode()).hexdigest()


def is_current(size_dir: str, want_hash: str, args: dict) -> bool:
    try:
        with open(os.path.join(size_dir, "manifest.json")) as fh:
            m = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return False
    if m.get("generator_sha256") != want_hash or m.get("args") != args:
        return False
    return all(os.path.isfile(os.path.join(size_dir, f)) and os.path.getsize(os.path.join(size_dir, f)) == b
               for f, b in m.get("file_bytes", {}).items())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("size_dir")
    p.add_argument("--entities", type=int, default=100_000, help="online: cards (default 100,000)")
    p.add_argument("--rows-per-entity", type=int, default=2, help="online: source rows per card (default 2)")
    p.add_argument("--feature-rows", type=int, default=10_000_000, help="training: feature rows (default 10M)")
    p.add_argument("--cards", type=int, default=100_000, help="training: distinct cards (default 100,000)")
    p.add_argument("--entity-rows", type=int, default=1_000_000, help="training: entity rows (default 1M)")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    args = {k: v for k, v in vars(a).items() if k not in ("size_dir", "force")}
    size_dir = os.path.abspath(a.size_dir)
    force = a.force or os.environ.get("REGEN_DATA") == "1"
    gh = generator_hash()
    if not force and is_current(size_dir, gh, args):
        log(f"data is current ({size_dir}/manifest.json)")
        return 0

    os.makedirs(size_dir, exist_ok=True)
    manifest_path = os.path.join(size_dir, "manifest.json")
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # no stale manifest while the files are rewritten
    t0 = time.perf_counter()
    sets = {}
    for name in ("online", "training"):
        folder = os.path.join(size_dir, name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        t = time.perf_counter()
        if name == "online":
            info = write_online(folder, a.entities, a.rows_per_entity, a.days, a.seed)
        else:
            info = write_training(folder, a.feature_rows, a.cards, a.entity_rows, a.days, a.seed + 1)
        with open(os.path.join(folder, "definitions.json"), "w") as fh:
            json.dump(ferry_definitions(TTL[name]), fh, indent=2)
            fh.write("\n")
        write_feast_repo(folder, TTL[name])
        info["ttl_seconds"] = TTL[name]
        sets[name] = info
        log(f"{name}: {info['source_rows']:,} feature rows [{time.perf_counter() - t:.1f}s]")

    file_bytes = {}
    for root, _, files in os.walk(size_dir):
        for f in files:
            if f == "manifest.json" or "/feast_repo/data" in root:
                continue
            rel = os.path.relpath(os.path.join(root, f), size_dir)
            file_bytes[rel] = os.path.getsize(os.path.join(root, f))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "args": args,
        "entity": ENTITY, "join_key": JOIN_KEY, "view": VIEW,
        "features": [{"name": n, "type": t} for n, t in FEATURES],
        "feature_refs": [f"{VIEW}:{n}" for n, _ in FEATURES],
        "time_range": {"start": "2024-01-01T00:00:00Z",
                       "end": str(BASE + np.timedelta64(a.days * 86_400, "s")) + "Z"},
        # A window that holds every source row (created can be up to ~1h40 after event_timestamp).
        "materialize_window": {"start": "2023-12-01T00:00:00Z",
                               "end": str(BASE + np.timedelta64((a.days + 1) * 86_400, "s")) + "Z"},
        "online": sets["online"],
        "training": sets["training"],
        "null_fraction_float_features": NULL_FRACTION,
        "numpy": np.__version__, "pyarrow": pa.__version__,
        "generator_sha256": gh,
        "file_bytes": file_bytes,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    with open(manifest_path + ".tmp", "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    log(f"wrote {manifest_path} [{manifest['elapsed_s']}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

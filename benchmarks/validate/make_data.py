#!/usr/bin/env python3
"""Writes the input of benchmarks/validate/run.sh: the batch-scoring file of benchmarks/jobs (same shape) with a
few repeated keys and repeated rows added, so the uniqueness checks have something to find.

    make_data.py EXPECTED_JSON OUT_CSV ROWS

OUT_CSV gets a header `id,<the 12 feature names>` and ROWS rows written as benchmarks/jobs/make_input.py writes
them: row r (1-based) is example row (r-1) % 20 of examples/fraud/expected.json (a null is an empty field) with
id 1,000,000,000 + r. Then, every DUP = 1000 rows:
  - row r with r % 1000 == 0 is a copy of row r-1, byte for byte (its id too): a repeated row and a repeated key;
  - row r with r % 1000 == 500 keeps its own features but takes the id of row r-1: a repeated key only.
Each repeated key or row occurs exactly twice.

Beside OUT_CSV, OUT_CSV.meta.json records what was written and the truth the tools are checked against:
`example_counts` (how many rows carry each example row's features), `repeated_rows` (rows equal to an earlier
row), `repeated_keys` (rows whose id an earlier row has; every repeated row is one), `repeated_key_example_counts`
(those rows per example row), and the generator's sha256. The file is rewritten only
when that does not match. Stdlib only; about 6-8 s per 10M rows.
"""
import hashlib
import json
import os
import sys
import time

BLOCK = 500_000  # a multiple of DUP
ID_BASE = 1_000_000_000
DUP = 1000


def field(v):
    if v is None:
        return ""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def truth(rows, period):
    """Rows per example, repeated rows, repeated keys and the repeated-key rows per example, from the layout alone
    (no pass over the file)."""
    counts = [len(range(e + 1, rows + 1, period)) for e in range(period)]  # rows r with (r-1) % period == e
    key_counts = [0] * period
    repeated_rows = 0
    for r in range(DUP, rows + 1, DUP):  # a copy of row r-1: its features are example (r-2) % period
        counts[(r - 1) % period] -= 1
        counts[(r - 2) % period] += 1
        key_counts[(r - 2) % period] += 1
        repeated_rows += 1
    for r in range(DUP // 2, rows + 1, DUP):  # the id of row r-1, its own features
        key_counts[(r - 1) % period] += 1
    return counts, repeated_rows, sum(key_counts), key_counts


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make_data.py EXPECTED_JSON OUT_CSV ROWS")
    expected_path, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if rows < 1:
        sys.exit(f"make_data.py: ROWS must be at least 1 (it is {rows})")
    expected = json.load(open(expected_path))
    names = expected["feature_names"]
    examples = expected["rows"]
    if not examples or any(len(r) != len(names) for r in examples):
        sys.exit(f"make_data.py: {expected_path}: every row must have {len(names)} values")
    texts = [",".join(field(v) for v in r) for r in examples]
    period = len(texts)
    counts, repeated_rows, repeated_keys, key_counts = truth(rows, period)
    want = {
        "rows": rows,
        "columns": ["id"] + names,
        "id_base": ID_BASE,
        "dup_every": DUP,
        "example_rows": period,
        "example_texts": texts,
        "example_counts": counts,
        "repeated_rows": repeated_rows,
        "repeated_keys": repeated_keys,
        "repeated_key_example_counts": key_counts,
        "generator_sha256": sha256(os.path.abspath(__file__)),
        "expected_sha256": sha256(expected_path),
    }
    meta_path = out + ".meta.json"
    try:
        have = json.load(open(meta_path))
        if {k: have.get(k) for k in want} == want and os.path.getsize(out) == have.get("bytes"):
            print(f"make_data.py: {out} is current ({rows:,} rows, {have['bytes']:,} bytes); reusing it", file=sys.stderr)
            return
    except (OSError, ValueError):
        pass

    t0 = time.perf_counter()
    tmp = out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(tmp, "w", buffering=1 << 22, newline="\n") as fh:
        fh.write("id," + ",".join(names) + "\n")
        for start in range(1, rows + 1, BLOCK):  # start % DUP == 1
            end = min(start + BLOCK, rows + 1)
            lines = [f"{ID_BASE + r},{texts[(r - 1) % period]}\n" for r in range(start, end)]
            for r in range(start - 1 + DUP // 2, end, DUP):  # r % DUP == DUP/2: the id of row r-1
                if r >= 2:
                    lines[r - start] = f"{ID_BASE + r - 1},{texts[(r - 1) % period]}\n"
            for r in range(start - 1 + DUP, end, DUP):  # r % DUP == 0: a copy of row r-1
                lines[r - start] = lines[r - 1 - start]
            fh.write("".join(lines))
    os.replace(tmp, out)
    want["bytes"] = os.path.getsize(out)
    want["seconds"] = round(time.perf_counter() - t0, 2)
    with open(meta_path, "w") as fh:
        json.dump(want, fh, indent=2)
        fh.write("\n")
    print(f"make_data.py: wrote {out}: {rows:,} rows, {want['bytes']:,} bytes in {want['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()

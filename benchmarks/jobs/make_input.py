#!/usr/bin/env python3
"""Writes the batch-scoring input for benchmarks/jobs/run.sh.

    make_input.py EXPECTED_JSON OUT_CSV ROWS

OUT_CSV gets a header `id,<the 12 feature names>` and ROWS rows that cycle over the example rows of
examples/fraud/expected.json (row r, 1-based, is example row (r-1) % 20; a null is an empty field). The id of
row r is 1,000,000,000 + r, so an output that mixes up `row` and `id` is caught. Numbers are written as
rows.csv writes them: whole values without a decimal point, others with Python's shortest repr (the example
values are float32 values, so the float64 text is exact).

Beside OUT_CSV, OUT_CSV.meta.json records what was written (rows, bytes, sha256 of this script and of
expected.json); the file is rewritten only when that does not match. Stdlib only; about 5-6 s per 10M rows.
"""
import hashlib
import json
import os
import sys
import time

BLOCK = 500_000
ID_BASE = 1_000_000_000


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


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make_input.py EXPECTED_JSON OUT_CSV ROWS")
    expected_path, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if rows < 1:
        sys.exit(f"make_input.py: ROWS must be at least 1 (it is {rows})")
    expected = json.load(open(expected_path))
    names = expected["feature_names"]
    examples = expected["rows"]
    if not examples or any(len(r) != len(names) for r in examples):
        sys.exit(f"make_input.py: {expected_path}: every row must have {len(names)} values")
    want = {
        "rows": rows,
        "columns": ["id"] + names,
        "id_base": ID_BASE,
        "example_rows": len(examples),
        "generator_sha256": sha256(os.path.abspath(__file__)),
        "expected_sha256": sha256(expected_path),
    }
    meta_path = out + ".meta.json"
    try:
        have = json.load(open(meta_path))
        if {k: have.get(k) for k in want} == want and os.path.getsize(out) == have.get("bytes"):
            print(f"make_input.py: {out} is current ({rows:,} rows, {have['bytes']:,} bytes); reusing it", file=sys.stderr)
            return
    except (OSError, ValueError):
        pass

    t0 = time.perf_counter()
    texts = [",".join(field(v) for v in r) for r in examples]
    period = len(texts)
    tmp = out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(tmp, "w", buffering=1 << 22, newline="\n") as fh:
        fh.write("id," + ",".join(names) + "\n")
        for start in range(1, rows + 1, BLOCK):
            end = min(start + BLOCK, rows + 1)
            fh.write("".join([f"{ID_BASE + r},{texts[(r - 1) % period]}\n" for r in range(start, end)]))
    os.replace(tmp, out)
    want["bytes"] = os.path.getsize(out)
    want["seconds"] = round(time.perf_counter() - t0, 2)
    with open(meta_path, "w") as fh:
        json.dump(want, fh, indent=2)
        fh.write("\n")
    print(f"make_input.py: wrote {out}: {rows:,} rows, {want['bytes']:,} bytes in {want['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()

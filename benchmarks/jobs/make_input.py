#!/usr/bin/env python3
"""Writes the batch-scoring input for benchmarks/jobs/run.sh.

    make_input.py EXPECTED_JSON OUT_CSV ROWS [ORDER]

OUT_CSV gets a header `id,<the 12 feature names>` and ROWS rows, each one of the example rows of
examples/fraud/expected.json (a null is an empty field). Which one, for row r (1-based), is `example(r, n)`:
with ORDER `shuffled` (the default) a fixed hash of r, so the examples come in no order a branch predictor can
learn, as real rows do not; with `cycle` (the input before 2026-11-28) example (r-1) % n. The id of
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
MASK64 = (1 << 64) - 1


def field(v):
    if v is None:
        return ""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def example(r, n, order):
    """The example row that input row r (1-based) repeats; check.py computes the same."""
    if order == "cycle":
        return (r - 1) % n
    x = (r * 0x9E3779B97F4A7C15) & MASK64  # a SplitMix64-style mix of r
    x ^= x >> 29
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 32
    return x % n


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: make_input.py EXPECTED_JSON OUT_CSV ROWS [ORDER]")
    expected_path, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    order = sys.argv[4] if len(sys.argv) == 5 else "shuffled"
    if order not in ("shuffled", "cycle"):
        sys.exit(f"make_input.py: ORDER must be shuffled or cycle (it is {order!r})")
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
        "order": order,
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
            fh.write("".join([f"{ID_BASE + r},{texts[example(r, period, order)]}\n" for r in range(start, end)]))
    os.replace(tmp, out)
    want["bytes"] = os.path.getsize(out)
    want["seconds"] = round(time.perf_counter() - t0, 2)
    with open(meta_path, "w") as fh:
        json.dump(want, fh, indent=2)
        fh.write("\n")
    print(f"make_input.py: wrote {out}: {rows:,} rows, {want['bytes']:,} bytes in {want['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()

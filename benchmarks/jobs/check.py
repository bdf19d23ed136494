#!/usr/bin/env python3
"""Checks that the batch-scoring outputs of benchmarks/jobs/run.sh agree.

    check.py EXPECTED_JSON ROWS TOLERANCE SAMPLE ORDER NAME=OUTPUT_CSV...

Every output must have the header `row,id,predict` and ROWS rows, and on every row: row = 1..ROWS in order,
id = 1,000,000,000 + row (the input's key, see make_input.py), and predict within TOLERANCE of the example's
probability in EXPECTED_JSON of the example row r repeats (make_input.py's `example` for ORDER). The outputs are
also compared with each other on every row, and on SAMPLE rows drawn with a fixed seed (the figure the
report shows). Prints one JSON object; exits 1, naming the output and the first bad rows, if anything differs.
"""
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ID_BASE = 1_000_000_000


def main():
    if len(sys.argv) < 7:
        sys.exit("usage: check.py EXPECTED_JSON ROWS TOLERANCE SAMPLE ORDER NAME=OUTPUT_CSV...")
    expected = json.load(open(sys.argv[1]))
    rows, tol, sample, order = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    outputs = dict(arg.split("=", 1) for arg in sys.argv[6:])
    probs = np.asarray(expected["probabilities"], dtype=np.float64)
    want_row = np.arange(1, rows + 1, dtype=np.int64)
    n = len(probs)
    if order == "cycle":
        want_pred = probs[(want_row - 1) % n]
    else:  # make_input.py's example(r, n, "shuffled")
        x = want_row.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # wraps modulo 2^64, as make_input.py masks
        x ^= x >> np.uint64(29)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(32)
        want_pred = probs[x % np.uint64(n)]
    problems, preds, report = [], {}, {"rows": rows, "tolerance": tol, "outputs": {}}
    for name, path in outputs.items():
        try:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={"row": pa.int64(), "id": pa.int64(), "predict": pa.float64()}))
        except Exception as e:  # noqa: BLE001 - any parse failure is a failed check
            problems.append(f"{name}: {path} cannot be read as CSV: {e}")
            continue
        if table.column_names != ["row", "id", "predict"]:
            problems.append(f"{name}: header is {','.join(table.column_names)}; want row,id,predict")
            continue
        if table.num_rows != rows:
            problems.append(f"{name}: {table.num_rows:,} rows; want {rows:,}")
            continue
        if any(table.column(c).null_count for c in table.column_names):
            problems.append(f"{name}: empty fields in " + ", ".join(c for c in table.column_names if table.column(c).null_count))
            continue
        row = table.column("row").to_numpy()
        ids = table.column("id").to_numpy()
        pred = table.column("predict").to_numpy()
        bad_row = np.flatnonzero(row != want_row)
        bad_id = np.flatnonzero(ids != ID_BASE + want_row)
        diff = np.abs(pred - want_pred)
        bad_pred = np.flatnonzero(~(diff <= tol))
        for what, bad, got, want in (("row", bad_row, row, want_row), ("id", bad_id, ids, ID_BASE + want_row),
                                     ("predict", bad_pred, pred, want_pred)):
            if len(bad):
                shown = ", ".join(f"line {i + 2}: {got[i]!r} (want {want[i]!r})" for i in bad[:5])
                problems.append(f"{name}: {len(bad):,} rows with a wrong {what}; first: {shown}")
        preds[name] = pred
        report["outputs"][name] = {"path": path, "rows": int(table.num_rows),
                                   "max_abs_diff_vs_expected": float(diff.max()) if rows else 0.0}
    names = list(preds)
    rng = np.random.default_rng(12345)
    idx = np.sort(rng.choice(rows, size=min(sample, rows), replace=False))
    report["sample_rows"] = int(len(idx))
    report["pairs"] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.abs(preds[a] - preds[b])
            report["pairs"][f"{a}-{b}"] = {"max_abs_diff_all": float(d.max()), "max_abs_diff_sample": float(d[idx].max())}
            if not (d.max() <= tol):
                problems.append(f"{a} and {b} differ by up to {d.max():.3g} (tolerance {tol:g}) on {int((d > tol).sum()):,} rows")
    report["ok"] = not problems
    report["problems"] = problems
    print(json.dumps(report))
    for p in problems:
        print(f"check.py: MISMATCH: {p}", file=sys.stderr)
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()

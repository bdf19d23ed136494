#!/usr/bin/env python3
"""One peer of benchmarks/jobs/run.sh: score a CSV file with xgboost and write `row,id,predict`.

    peer.py pandas|polars MODEL_JSON EXPECTED_JSON INPUT_CSV OUTPUT_CSV

  pandas: pd.read_csv -> Booster.inplace_predict(df[feature_names]) -> DataFrame(row, id, predict).to_csv
          (PANDAS_ENGINE=pyarrow reads with pandas' pyarrow engine; default: pandas' C engine; to_csv has one engine)
  polars: pl.read_csv -> select(feature_names).to_numpy() -> Booster.inplace_predict -> DataFrame.write_csv

`row` is the 1-based row number in the input, as Ferry's results file has it. xgboost runs with its default
nthread (every core), as pandas and polars do their own work. Prints one JSON object on stdout: the timed
phases (load_model, read, predict, write; `seconds` is their sum, from before reading the model to after the
output file is closed; imports are timed apart as `import_seconds`), the rows, the process's CPU time and its
peak RSS (ru_maxrss, including the imports).
"""
import json
import os
import resource
import sys
import time

t_import = time.perf_counter()
tool = sys.argv[1] if len(sys.argv) > 1 else ""
if len(sys.argv) != 6 or tool not in ("pandas", "polars"):
    sys.exit("usage: peer.py pandas|polars MODEL_JSON EXPECTED_JSON INPUT_CSV OUTPUT_CSV")
model_path, expected_path, input_path, output_path = sys.argv[2:6]

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

if tool == "pandas":
    import pandas as pd
else:
    import polars as pl
import_seconds = time.perf_counter() - t_import

names = json.load(open(expected_path))["feature_names"]
phases = {}
engine = os.environ.get("PANDAS_ENGINE", "c") if tool == "pandas" else None
if engine not in (None, "c", "pyarrow"):
    sys.exit(f"peer.py: PANDAS_ENGINE must be c or pyarrow (it is {engine!r})")

t0 = time.perf_counter()
booster = xgb.Booster(model_file=model_path)
t1 = time.perf_counter()
phases["load_model"] = t1 - t0

if tool == "pandas":
    df = pd.read_csv(input_path, engine=engine)
    t2 = time.perf_counter()
    pred = booster.inplace_predict(df[names])
    t3 = time.perf_counter()
    out = pd.DataFrame({"row": np.arange(1, len(df) + 1, dtype=np.int64), "id": df["id"], "predict": pred})
    out.to_csv(output_path, index=False)
    rows = len(df)
else:
    df = pl.read_csv(input_path)
    t2 = time.perf_counter()
    pred = booster.inplace_predict(df.select(names).to_numpy())
    t3 = time.perf_counter()
    out = pl.DataFrame({"row": pl.int_range(1, df.height + 1, eager=True), "id": df["id"], "predict": pred})
    out.write_csv(output_path)
    rows = df.height
t4 = time.perf_counter()
phases["read"] = t2 - t1
phases["predict"] = t3 - t2
phases["write"] = t4 - t3

ru = resource.getrusage(resource.RUSAGE_SELF)
versions = {"xgboost": xgb.__version__, "numpy": np.__version__}
versions[tool] = (pd if tool == "pandas" else pl).__version__
print(json.dumps({
    "tool": tool,
    "engine": engine,
    "rows": rows,
    "seconds": round(t4 - t0, 3),
    "phases": {k: round(v, 3) for k, v in phases.items()},
    "import_seconds": round(import_seconds, 3),
    "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 2),
    "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
    "xgboost_nthread": "default (every core)",
    "cpus": os.cpu_count(),
    "versions": versions,
    "output_bytes": os.path.getsize(output_path),
}))

#!/usr/bin/env python3
"""Build the reference and current windows for the drift benchmark.

    python benchmarks/drift/make_data.py OUTDIR [--force]

Deterministic (fixed numpy seeds). 30 numeric features of four kinds, 7 or 8 of
each: uniform [0,1), small integer counts (Poisson, many ties, so some decile
edges coincide), lognormal (heavy tail) and standard normal. About 1% of every
file's values are NaN. In the current windows the odd-numbered features
(f01, f03, ..., f29: half of them) are shifted slightly; the even-numbered ones
are drawn like the reference. Writes into OUTDIR:

  reference.bin      100,000 x 30   float64 little-endian, row-major, no header
  current_100k.bin   100,000 x 30   (same layout)
  current_1m.bin   1,000,000 x 30   (same layout)
  manifest.json      {features, reference: {file, rows}, currents: [{name, file, rows}],
                      feature_names, ...}; paths relative to OUTDIR

Nothing is rewritten when manifest.json records the same generator hash (this
script's sha256 and the numpy version) and every file has the expected size;
--force (or REGEN_DATA=1) regenerates anyway.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

SCHEMA_VERSION = 1
FEATURES = 30
REFERENCE_ROWS = 100_000
CURRENTS = [("100k", "current_100k.bin", 100_000, 2), ("1m", "current_1m.bin", 1_000_000, 3)]
NAN_FRACTION = 0.01
CHUNK_ROWS = 100_000  # generate and write in chunks, so the 1M file never needs a second copy in memory
FEATURE_NAMES = [f"f{i:02d}" for i in range(FEATURES)]
KINDS = ["uniform", "count", "lognormal", "normal"]

# Slight shifts applied to the shifted features of the current windows.
SHIFT = {
    "uniform": "x + 0.03 (values in [0.03, 1.03))",
    "count": "Poisson rate 3.0 -> 3.3",
    "lognormal": "log-mean 0.0 -> 0.1",
    "normal": "mean 0.0 -> 0.1",
}


def kind_of(j: int) -> str:
    return KINDS[j % len(KINDS)]


def is_shifted(j: int) -> bool:
    return j % 2 == 1


def draw(rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    x = np.empty((n, FEATURES), dtype=np.float64)
    for j in range(FEATURES):
        s = shifted and is_shifted(j)
        k = kind_of(j)
        if k == "uniform":
            x[:, j] = rng.random(n) + (0.03 if s else 0.0)
        elif k == "count":
            x[:, j] = rng.poisson(3.3 if s else 3.0, n)
        elif k == "lognormal":
            x[:, j] = rng.lognormal(0.1 if s else 0.0, 1.0, n)
        else:
            x[:, j] = rng.normal(0.1 if s else 0.0, 1.0, n)
    x[rng.random((n, FEATURES)) < NAN_FRACTION] = np.nan
    return x


def write_window(path: str, rows: int, seed: int, shifted: bool) -> dict:
    """Write `rows` rows in chunks; returns sha256 and the NaN fraction."""
    rng = np.random.default_rng(seed)
    h = hashlib.sha256()
    nans = 0
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        done = 0
        while done < rows:
            n = min(CHUNK_ROWS, rows - done)
            x = draw(rng, n, shifted)
            b = x.astype("<f8", copy=False).tobytes(order="C")
            fh.write(b)
            h.update(b)
            nans += int(np.isnan(x).sum())
            done += n
    os.replace(tmp, path)
    return {"sha256": h.hexdigest(), "nan_fraction": round(nans / (rows * FEATURES), 6)}


def generator_hash() -> str:
    with open(os.path.abspath(__file__), "rb") as fh:
        src = fh.read()
    return hashlib.sha256(src + b"\nnumpy " + np.__version__.encode()).hexdigest()


def is_current(outdir: str, want: str) -> bool:
    try:
        with open(os.path.join(outdir, "manifest.json")) as fh:
            m = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return False
    if m.get("generator_sha256") != want:
        return False
    for e in [m["reference"], *m["currents"]]:
        p = os.path.join(outdir, e["file"])
        if not os.path.isfile(p) or os.path.getsize(p) != e["rows"] * m["features"] * 8:
            return False
    return True


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--force"]
    force = "--force" in sys.argv[1:] or os.environ.get("REGEN_DATA") == "1"
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = os.path.abspath(args[0])
    os.makedirs(outdir, exist_ok=True)
    gh = generator_hash()
    if not force and is_current(outdir, gh):
        print(f"[make_data] data is current ({outdir}/manifest.json)", file=sys.stderr)
        return 0

    manifest_path = os.path.join(outdir, "manifest.json")
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # no stale manifest while the files are rewritten
    t0 = time.perf_counter()
    windows = [("reference", "reference.bin", REFERENCE_ROWS, 1, False)] + [
        (name, file, rows, seed, True) for name, file, rows, seed in CURRENTS]
    entries = {}
    for name, file, rows, seed, shifted in windows:
        t = time.perf_counter()
        info = write_window(os.path.join(outdir, file), rows, seed, shifted)
        entries[name] = {"name": name, "file": file, "rows": rows, "file_bytes": rows * FEATURES * 8,
                         "seed": seed, **info}
        print(f"[make_data] {file}: {rows:,} x {FEATURES}, NaN {info['nan_fraction']:.4%} "
              f"[{time.perf_counter() - t:.1f}s]", file=sys.stderr)

    ref = entries.pop("reference")
    del ref["name"]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "features": FEATURES,
        "feature_names": FEATURE_NAMES,
        "dtype": "float64",
        "byte_order": "little",
        "layout": "row-major",
        "reference": ref,
        "currents": [entries[name] for name, *_ in CURRENTS],
        "feature_kinds": [kind_of(j) for j in range(FEATURES)],
        "shifted_features": [FEATURE_NAMES[j] for j in range(FEATURES) if is_shifted(j)],
        "shifts": SHIFT,
        "nan_fraction": NAN_FRACTION,
        "numpy": np.__version__,
        "generator_sha256": gh,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    with open(manifest_path + ".tmp", "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"[make_data] wrote {manifest_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

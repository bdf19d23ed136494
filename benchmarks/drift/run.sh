#!/usr/bin/env bash
# Drift benchmark: Ferry's drift statistics (ferry-bench-drift, Swift) vs the same
# statistics with scipy + numpy and vs Evidently's DataDriftPreset, on the same
# 30-feature reference (100,000 rows) and current windows (100,000 and 1,000,000
# rows), wall clock, in one run. See benchmarks/README.md.
#
#   bash benchmarks/drift/run.sh
#
# Env knobs (all optional):
#   DRIFT_WORK=path        data and results (default benchmarks/.work/drift)
#   FERRY_DRIFT_BIN=path   use this binary instead of .build/release/ferry-bench-drift
#   FERRY_DRIFT_BUILD=1    run `swift build -c release --product ferry-bench-drift` even if the binary exists
#   SKIP_PEERS=1           keep the existing peers.json (no Python benchmark)
#   SKIP_FERRY=1           no Swift side: report the peers only
#   SKIP_EVIDENTLY=1       no Evidently (scipy_numpy only)
#   SKIP_1M=1              only the 100k window (Ferry gets a manifest without the 1M window)
#   REGEN_DATA=1           regenerate the data even if it is current
#   REPEATS=3              best of REPEATS for the peers
#   EVIDENTLY_TIMEOUT_S=120 EVIDENTLY_BUDGET_S=400 EVIDENTLY_MEM_LIMIT_GB=16
#                          Evidently limits (per run / all repeats of a window / address space)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/drift"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/drift-venv"
OUT="${DRIFT_WORK:-$WORK/drift}"
SKIP_PEERS="${SKIP_PEERS:-0}"
SKIP_FERRY="${SKIP_FERRY:-0}"
SKIP_1M="${SKIP_1M:-0}"
FERRY_DRIFT_BUILD="${FERRY_DRIFT_BUILD:-0}"
export SKIP_EVIDENTLY="${SKIP_EVIDENTLY:-0}" SKIP_1M REGEN_DATA="${REGEN_DATA:-0}"

BENCH_TAG=drift-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

# ---------------------------------------------------------------- tools
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v sha256sum >/dev/null || die "sha256sum (coreutils) is required"

mkdir -p "$WORK" "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---------------------------------------------------------------- venv
# Rebuilt when requirements.txt changes (its sha256 is kept in the venv).
setup_venv "$VENV" "$HERE/requirements.txt"
PY="$VENV/bin/python"

# ---------------------------------------------------------------- data
# make_data.py skips the work when manifest.json records the same generator hash
# (make_data.py's sha256 + the numpy version) and the files have the right size.
log "data: make_data.py $OUT (about 290 MB; a few seconds when it has to be written)"
"$PY" "$HERE/make_data.py" "$OUT" || die "make_data.py failed"
[[ -f "$OUT/manifest.json" ]] || die "make_data.py wrote no $OUT/manifest.json"

# ---------------------------------------------------------------- peers
if [[ "$SKIP_PEERS" == 1 ]]; then
  [[ -f "$OUT/peers.json" ]] || die "SKIP_PEERS=1 but $OUT/peers.json does not exist"
  log "SKIP_PEERS=1: keeping $OUT/peers.json"
else
  log "measuring the peers (bench_peers.py: scipy_numpy, evidently; a full run takes about 4 minutes)"
  "$PY" "$HERE/bench_peers.py" "$OUT" || die "bench_peers.py failed"
fi

# ---------------------------------------------------------------- Ferry
if [[ "$SKIP_FERRY" == 1 ]]; then
  log "SKIP_FERRY=1: no Swift side"
  rm -f "$OUT/ferry.json"
else
  if [[ -z "${FERRY_DRIFT_BIN:-}" ]]; then
    FERRY_DRIFT_BIN="$ROOT/.build/release/ferry-bench-drift"
    if [[ ! -x "$FERRY_DRIFT_BIN" || "$FERRY_DRIFT_BUILD" == 1 ]]; then
      log "building: swift build -c release --product ferry-bench-drift"
      swift build -c release --product ferry-bench-drift || die "swift build --product ferry-bench-drift failed"
    fi
  fi
  [[ -x "$FERRY_DRIFT_BIN" ]] || die "ferry-bench-drift binary not executable: $FERRY_DRIFT_BIN"
  MANIFEST="$OUT/manifest.json"
  if [[ "$SKIP_1M" == 1 ]]; then
    # Same directory, so the relative file names still resolve.
    MANIFEST="$OUT/manifest.100k.json"
    "$PY" - "$OUT/manifest.json" "$MANIFEST" <<'EOF' || die "could not write $MANIFEST"
import json, sys
m = json.load(open(sys.argv[1]))
m["currents"] = [c for c in m["currents"] if c.get("name") != "1m"]
json.dump(m, open(sys.argv[2], "w"), indent=2)
EOF
  fi
  log "measuring Ferry: $FERRY_DRIFT_BIN $MANIFEST"
  "$FERRY_DRIFT_BIN" "$MANIFEST" >"$OUT/ferry.json.tmp" || die "ferry-bench-drift failed (output kept in $OUT/ferry.json.tmp)"
  "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/ferry.json.tmp" ||
    die "ferry-bench-drift did not print valid JSON (kept in $OUT/ferry.json.tmp)"
  mv "$OUT/ferry.json.tmp" "$OUT/ferry.json"
fi

# ---------------------------------------------------------------- report
"$PY" "$HERE/report.py" "$OUT"

#!/usr/bin/env bash
# In-process tree-inference benchmark: Ferry's native Swift tree engine vs
# xgboost, lightgbm, tl2cgen (treelite compiled to C) and onnxruntime, all
# single-threaded, on the same models and the same rows, in one run.
# See benchmarks/README.md.
#
#   bash benchmarks/trees/run.sh
#
# Env knobs (all optional):
#   TREES_WORK=path       models, rows and results (default benchmarks/.work/trees)
#   FERRY_TREES_BIN=path  use this binary instead of .build/release/ferry-bench-trees
#   FERRY_TREES_BUILD=1   run `swift build -c release --product ferry-bench-trees` even if the binary exists
#   SKIP_PEERS=1          keep the existing peers.json (no Python benchmark)
#   SKIP_FERRY=1          no Swift side: report the peers only
#   REGEN_MODELS=1        rebuild the models and rows even if they look current
#   PEERS_MODELS=a,b      only these models in bench_peers.py (default all)
#   PEERS_LIBS=a,b        only these peer libraries (xgboost, xgboost-dmatrix, lightgbm, tl2cgen, onnxruntime)
#   SINGLE_MIN_CALLS=2000 SINGLE_MAX_CALLS=20000 SINGLE_TARGET_S=0.5 BATCH_REPEATS=3 TL2CGEN_OPT=-O3
#                         bench_peers.py measurement knobs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/trees"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/trees-venv"
OUT="${TREES_WORK:-$WORK/trees}"
SKIP_PEERS="${SKIP_PEERS:-0}"
SKIP_FERRY="${SKIP_FERRY:-0}"
REGEN_MODELS="${REGEN_MODELS:-0}"
FERRY_TREES_BUILD="${FERRY_TREES_BUILD:-0}"

BENCH_TAG=trees-bench
# shellcheck source=../lib.sh
source "$ROOT/benchmarks/lib.sh"

# ---------------------------------------------------------------- tools
command -v python3 >/dev/null || { log "installing python3 (apt)"; apt_install python3; }
command -v sha256sum >/dev/null || die "sha256sum (coreutils) is required"
# tl2cgen compiles each model to a shared library with gcc
command -v gcc >/dev/null || { log "installing gcc (apt)"; apt_install gcc libc6-dev; }

mkdir -p "$WORK" "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---------------------------------------------------------------- venv
# Rebuilt when requirements.txt changes (its sha256 is kept in the venv).
setup_venv "$VENV" "$HERE/requirements.txt"
PY="$VENV/bin/python"

# ---------------------------------------------------------------- models and rows
# Regenerated when make_models.py or requirements.txt (the library versions that
# train the models) change, or when manifest.json is missing.
MODELS_HASH="$(cat "$HERE/make_models.py" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [[ "$REGEN_MODELS" != 1 && -f "$OUT/manifest.json" && "$(cat "$OUT/.make_models.sha256" 2>/dev/null || true)" == "$MODELS_HASH" ]]; then
  log "models and rows are current ($OUT/manifest.json)"
else
  log "generating models and rows into $OUT (make_models.py; about 2 minutes on 2 cores)"
  rm -f "$OUT/manifest.json" "$OUT/.make_models.sha256"
  "$PY" "$HERE/make_models.py" "$OUT" || die "make_models.py failed"
  echo "$MODELS_HASH" >"$OUT/.make_models.sha256"
fi

# ---------------------------------------------------------------- peers
if [[ "$SKIP_PEERS" == 1 ]]; then
  [[ -f "$OUT/peers.json" ]] || die "SKIP_PEERS=1 but $OUT/peers.json does not exist"
  log "SKIP_PEERS=1: keeping $OUT/peers.json"
else
  log "measuring the peer libraries (bench_peers.py; the first run also compiles the tl2cgen libraries)"
  "$PY" "$HERE/bench_peers.py" "$OUT" 2> >(grep -v -e 'newer Treelite version' -e 'Currently running Treelite' \
    -e 'checkpoint was generated from Treelite' >&2) || die "bench_peers.py failed"
fi

# ---------------------------------------------------------------- Ferry
if [[ "$SKIP_FERRY" == 1 ]]; then
  log "SKIP_FERRY=1: no Swift side"
  rm -f "$OUT/ferry.json"
else
  if [[ -z "${FERRY_TREES_BIN:-}" ]]; then
    FERRY_TREES_BIN="$ROOT/.build/release/ferry-bench-trees"
    if [[ ! -x "$FERRY_TREES_BIN" || "$FERRY_TREES_BUILD" == 1 ]]; then
      log "building: swift build -c release --product ferry-bench-trees"
      swift build -c release --product ferry-bench-trees
    fi
  fi
  [[ -x "$FERRY_TREES_BIN" ]] || die "ferry-bench-trees binary not executable: $FERRY_TREES_BIN"
  log "measuring Ferry: $FERRY_TREES_BIN $OUT/manifest.json"
  "$FERRY_TREES_BIN" "$OUT/manifest.json" >"$OUT/ferry.json.tmp" || die "ferry-bench-trees failed"
  "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/ferry.json.tmp" ||
    die "ferry-bench-trees did not print valid JSON (kept in $OUT/ferry.json.tmp)"
  mv "$OUT/ferry.json.tmp" "$OUT/ferry.json"
fi

# ---------------------------------------------------------------- report
"$PY" "$HERE/report.py" "$OUT"

#!/usr/bin/env bash
# In-process ONNX benchmark: Ferry's native Swift ONNX runtime vs onnxruntime, one thread
# each, on the same skl2onnx models and the same rows, in one run. See benchmarks/README.md.
#
#   bash benchmarks/onnx/run.sh
#
# Env knobs (all optional):
#   ONNX_WORK=path        models, rows and results (default benchmarks/.work/onnx)
#   FERRY_ONNX_BIN=path   use this binary instead of .build/release/ferry-bench-onnx
#   FERRY_ONNX_BUILD=1    run `swift build -c release --product ferry-bench-onnx` even if the binary exists
#   SKIP_PEERS=1          keep the existing ort.json (no onnxruntime measurement)
#   SKIP_FERRY=1          no Swift side: report onnxruntime only
#   REGEN_MODELS=1        rebuild the models, rows and references even if they look current
#   ORT_MODELS=a,b        only these models in bench_ort.py (default all)
#   SINGLE_MIN_CALLS=2000 SINGLE_MAX_CALLS=200000 SINGLE_TARGET_S=0.5 SINGLE_DISTINCT_ROWS=1000
#   BATCH_REPEATS=3 BATCH100_REPEATS=50
#                         bench_ort.py measurement knobs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/benchmarks/onnx"
WORK="$ROOT/benchmarks/.work"
VENV="$WORK/onnx-venv"
OUT="${ONNX_WORK:-$WORK/onnx}"
SKIP_PEERS="${SKIP_PEERS:-0}"
SKIP_FERRY="${SKIP_FERRY:-0}"
REGEN_MODELS="${REGEN_MODELS:-0}"
FERRY_ONNX_BUILD="${FERRY_ONNX_BUILD:-0}"

BENCH_TAG=onnx-bench
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

# ---------------------------------------------------------------- models, rows and references
# Regenerated when make_models.py or requirements.txt (the versions that train, convert and
# compute the references) change, or when manifest.json is missing.
MODELS_HASH="$(cat "$HERE/make_models.py" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [[ "$REGEN_MODELS" != 1 && -f "$OUT/manifest.json" && "$(cat "$OUT/.make_models.sha256" 2>/dev/null || true)" == "$MODELS_HASH" ]]; then
  log "models and rows are current ($OUT/manifest.json)"
else
  log "generating models, rows and references into $OUT (make_models.py; about 1-2 minutes)"
  rm -f "$OUT/manifest.json" "$OUT/.make_models.sha256"
  "$PY" "$HERE/make_models.py" "$OUT" || die "make_models.py failed"
  echo "$MODELS_HASH" >"$OUT/.make_models.sha256"
fi

# ---------------------------------------------------------------- onnxruntime
if [[ "$SKIP_PEERS" == 1 ]]; then
  [[ -f "$OUT/ort.json" ]] || die "SKIP_PEERS=1 but $OUT/ort.json does not exist"
  log "SKIP_PEERS=1: keeping $OUT/ort.json"
else
  log "measuring onnxruntime (bench_ort.py)"
  "$PY" "$HERE/bench_ort.py" "$OUT" || die "bench_ort.py failed"
fi

# ---------------------------------------------------------------- Ferry
if [[ "$SKIP_FERRY" == 1 ]]; then
  log "SKIP_FERRY=1: no Swift side"
  rm -f "$OUT/ferry.json"
else
  if [[ -z "${FERRY_ONNX_BIN:-}" ]]; then
    FERRY_ONNX_BIN="$ROOT/.build/release/ferry-bench-onnx"
    if [[ ! -x "$FERRY_ONNX_BIN" || "$FERRY_ONNX_BUILD" == 1 ]]; then
      log "building: swift build -c release --product ferry-bench-onnx"
      swift build -c release --product ferry-bench-onnx
    fi
  fi
  [[ -x "$FERRY_ONNX_BIN" ]] || die "ferry-bench-onnx binary not executable: $FERRY_ONNX_BIN"
  log "measuring Ferry: $FERRY_ONNX_BIN $OUT/manifest.json"
  "$FERRY_ONNX_BIN" "$OUT/manifest.json" >"$OUT/ferry.json.tmp" || die "ferry-bench-onnx failed"
  "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/ferry.json.tmp" ||
    die "ferry-bench-onnx did not print valid JSON (kept in $OUT/ferry.json.tmp)"
  mv "$OUT/ferry.json.tmp" "$OUT/ferry.json"
fi

# ---------------------------------------------------------------- report
"$PY" "$HERE/report.py" "$OUT"

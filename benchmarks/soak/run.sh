#!/usr/bin/env bash
# The long soak: a release build under 10 minutes of wrk (CI runs the same script for 2 minutes on the debug build).
# Prints requests, req/s, errors and resident memory before and after; fails on any error or on growth over the bound.
#   bash benchmarks/soak/run.sh            # DURATION=600s by default; any soak.sh knob works (see that script)
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product ferry
DURATION=${DURATION:-600s} exec bash scripts/robustness/soak.sh .build/release/ferry

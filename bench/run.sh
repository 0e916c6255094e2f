#!/usr/bin/env sh
# The full benchmark run recorded in BENCHMARKS.md: about 15 minutes on 2 cores.
# Run it alone on the machine (other work skews every figure); results land in bench/results/ (git-ignored).
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
.venv/bin/rnngen bench --json "bench/results/bench-$stamp.json" "$@" | tee "bench/results/bench-$stamp.txt"

#!/usr/bin/env bash
# Engine benchmark: builds the native engine (Release) and runs engine_bench, which measures the
# roofline (read bandwidth, F32 FMA peak) and the engine in the same run and prints JSON.
# Usage: bench/engine/run.sh [threads] [hidden] [intermediate] [layers]
# Writes bench/results/engine-<date>.json. Run on an otherwise idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/worker/target/cmake-bench}"
cmake -S "$ROOT/worker/src/main/cpp" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target engine_bench >/dev/null
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/engine-$(date -u +%Y%m%dT%H%M%SZ).json"
"$BUILD/engine_bench" "${1:-2}" "${2:-2048}" "${3:-5632}" "${4:-2}" | tee "$OUT"
echo "wrote $OUT" >&2

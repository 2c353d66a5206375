#!/usr/bin/env bash
# The engine on a real GPU: kernels against host references, logits against transformers + PEFT
# (float32), 64 rows with 64 adapters against their solo tokens, compute-sanitizer, and decode /
# prefill / load speed against the limits measured in the same run (device-to-device copy, torch
# bf16 matmul), with transformers + PEFT as the peer. Writes bench/results/gpu-<date>.txt; its last
# line is one JSON object. Checks that cannot run report null with a reason; the rest go on.
#
# Runs a carried build, compiles nothing. On the development machine (nvcc, no GPU):
#   cmake -S worker/src/main/cpp -B worker/target/cmake-build -DCMAKE_BUILD_TYPE=Release
#   cmake --build worker/target/cmake-build --target gpu_check
# then on the GPU machine (torch, transformers, peft, safetensors; no JDK, no network):
#   bench/gpu/run.sh [BUILD_DIR] [SCRATCH_DIR]
# When $OUT names a directory (a lent machine's result folder), the report is copied there too.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-worker/target/cmake-build}
WORK=${2:-${TMPDIR:-/tmp}/flotilla-gpu}
REPORT=bench/results/gpu-$(date +%Y-%m-%d).txt
CHECK=$BUILD/gpu_check
if [[ ! -x $CHECK ]]; then
  echo "no $CHECK: build the gpu_check target with nvcc first (see the top of this script)" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 bench/gpu/gpu_check.py --check "$CHECK" --work "$WORK" --out "$REPORT" --budget "${FLOTILLA_GPU_BUDGET:-450}"
echo "wrote $REPORT"
if [[ -n ${OUT:-} && -d ${OUT:-} ]]; then cp "$REPORT" "$OUT/"; fi

#!/usr/bin/env bash
# Sampler cost per generated token at batch 32: penalties, logit bias + min_tokens, top logprobs,
# against plain temperature/top-p sampling, for vocabularies of 32000 and 128256 (rows of 512 prompt
# + 256 generated tokens). Builds the engine (Release) and sampling_bench, runs it on one thread (the
# worker samples on its engine thread), and writes bench/results/sampling-<date>.txt (header, table, JSON line).
# Usage: bench/engine/sampling.sh [rounds=30]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-30}"
BUILD="${BUILD_DIR:-$ROOT/worker/target/cmake-bench}"
cmake -S worker/src/main/cpp -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFLOTILLA_CUDA=OFF >/dev/null
cmake --build "$BUILD" --target sampling_bench >/dev/null

mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/sampling-$STAMP.txt"
{
  echo "# command: bench/engine/sampling.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)" \
       "$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$BUILD/sampling_bench" "$ROUNDS" >"$OUT.body"
  grep -v '^{' "$OUT.body"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  tail -1 "$OUT.body" # the JSON line, last
} | tee "$OUT"
rm -f "$OUT.body"
echo "wrote $OUT" >&2

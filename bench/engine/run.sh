#!/usr/bin/env bash
# Engine benchmark on the testkit medium model: builds the native engine (Release) and engine_bench,
# generates the medium model once with BF16 weights (target/bench-models/medium, shared with
# bench/coldstart), the same model with F32 weights (target/bench-models/medium-f32) and 32 PEFT
# adapters of rank 16 on all seven projections (target/bench-models/medium-lora16), then runs
# engine_bench on both dtypes: the machine's limits (read bandwidth, F32 FMA and BF16 dot rates, with
# the engine's thread count), decode at batch 1/4/16/32 x {no adapter, one shared, one per row},
# prefill of 512 tokens, each against its roofline (the prefill also in process CPU time against the
# 1-thread rate, which a shared host does not move), and the process's resident size against
# weights + KV budget + adapters + 10%. Adapters are stored as the engine stores them by default (F32
# for the F32 model, BF16 for the BF16 one); the BF16 model's b16 distinct row runs again with F32
# adapters. Prints a table and, last, one JSON line. (engine_bench --b16: the batch-16 rows only.)
# Usage: bench/engine/run.sh [threads=2] [prefill]
#   prefill: the limits and the prefill rows only (a minute instead of several; quick iteration)
# Writes bench/results/engine-<date>.txt (header, table, JSON) and engine-<date>.json (the JSON line).
# Run on an otherwise idle machine. The generated models are gitignored (target/); never commit them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
THREADS="${1:-2}"
ONLY="${2:-}"
BUILD="${BUILD_DIR:-$ROOT/worker/target/cmake-bench}"
MODELS="$ROOT/target/bench-models"

cmake -S worker/src/main/cpp -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target engine_bench >/dev/null
./mvnw -B -q -DskipTests package -pl testkit -am >/dev/null
./mvnw -B -q dependency:build-classpath -pl testkit -Dmdep.outputFile=target/classpath.txt >/dev/null
java -Xmx1g -cp "testkit/target/classes:$(cat testkit/target/classpath.txt)" bench/engine/GenerateModels.java \
  "$MODELS/medium" "$MODELS/medium-f32" "$MODELS/medium-lora16" 32

mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="bench/results/engine-$STAMP.txt"
{
  echo "# command: bench/engine/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)" \
       "$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$BUILD/engine_bench" "$THREADS" "$MODELS/medium-f32" "$MODELS/medium" "$MODELS/medium-lora16" $ONLY >"$OUT.body"
  grep -v '^{' "$OUT.body"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  tail -1 "$OUT.body" # the JSON line, last
} | tee "$OUT"
tail -1 "$OUT.body" >"bench/results/engine-$STAMP.json"
rm -f "$OUT.body"
echo "wrote $OUT and bench/results/engine-$STAMP.json" >&2

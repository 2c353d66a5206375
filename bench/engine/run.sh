#!/usr/bin/env bash
# Engine benchmark on the testkit medium model: builds the native engine (Release) and engine_bench,
# generates the medium model once with BF16 weights (target/bench-models/medium, shared with
# bench/coldstart), the same model with F32 weights (target/bench-models/medium-f32) and 32 PEFT
# adapters of rank 16 on all seven projections (target/bench-models/medium-lora16), then runs
# engine_bench on both dtypes and on the BF16 model quantized to int8 at load (rows suffixed _int8): the
# machine's limits (read bandwidth, F32 FMA, int8 dot and BF16 dot rates, with the engine's thread count), decode at batch 1/4/16/32 x {no adapter, one shared, one per row},
# prefill of 512 tokens, each against its roofline (the prefill also in process CPU time against the
# 1-thread rate, which a shared host does not move), and the process's resident size against
# weights + KV budget + adapters + 10%. Adapters are stored as the engine stores them by default (F32
# for the F32 model, BF16 for the BF16 one); the BF16 model's b16 distinct row runs again with F32
# adapters. The int8 engine's logits are compared with the BF16 engine's over 256 greedy tokens
# (int8_vs_bf16_rel_l2, int8_greedy_agreement). Prints a table and, last, one JSON line. (engine_bench --b16: the batch-16 rows only.)
# Then the KV-dtype row (engine_bench --kv): batch-32 decode at a 2,048-position context with a BF16
# KV cache against an F32 one, on target/bench-models/medium-kv (two layers of the medium model; see
# GenerateModels), its keys merged into the JSON line (kv_bf16_vs_f32_b32_ctx2048, ...).
# Then the 4-bit row (engine_bench --int4): the BF16 model written as an AWQ checkpoint by a plain
# round-to-nearest group quantizer (target/bench-models/medium-awq), decode at batch 1 beside BF16 and
# its logits against BF16's over 256 greedy tokens, its keys merged too (decode_b1_tok_s_int4,
# weight_bytes_int4, int4_vs_bf16_rel_l2, int4_greedy_agreement, ...).
# Then the long-prompt row (engine_bench --prefill-long): prompts of 512, 2,048 and 4,000 tokens
# prefilled in chunks of 512 with the BF16 KV cache on target/bench-models/medium-long (the medium
# model with 4,096 positions), its keys merged too (prefill4000_vs_512, prefill2048_vs_512, ...).
# Usage: bench/engine/run.sh [threads=2] [prefill|kv|int4|prefill-long]
#   prefill: the limits and the prefill rows only (a minute instead of several; quick iteration)
#   kv: the KV-dtype row only (it needs no AVX-512; about 10 minutes on 2 shared cores, most of it
#   filling the two caches)
#   prefill-long: the long-prompt row only (about 5 minutes on 2 idle cores)
#   int4: the 4-bit row only (a few minutes; it needs AVX2)
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
GEN=(java -Xmx1g -cp "testkit/target/classes:$(cat testkit/target/classpath.txt)" bench/engine/GenerateModels.java)
if [ "$ONLY" = kv ]; then
  "${GEN[@]}" --kv "$MODELS/medium-kv"
elif [ "$ONLY" = int4 ]; then
  "${GEN[@]}" --medium "$MODELS/medium"
elif [ "$ONLY" = prefill-long ]; then
  "${GEN[@]}" --long "$MODELS/medium-long"
else
  "${GEN[@]}" "$MODELS/medium" "$MODELS/medium-f32" "$MODELS/medium-lora16" 32 "$MODELS/medium-kv"
  [ -n "$ONLY" ] || "${GEN[@]}" --long "$MODELS/medium-long"
fi

mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
NAME="engine${ONLY:+-$ONLY}-$STAMP" # engine-kv-<date>, engine-prefill-long-<date> for one row alone
OUT="bench/results/$NAME.txt"
{
  echo "# command: bench/engine/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)" \
       "$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$ONLY" = kv ]; then
    "$BUILD/engine_bench" --kv "$THREADS" "$MODELS/medium-kv" >"$OUT.body"
  elif [ "$ONLY" = int4 ]; then
    "$BUILD/engine_bench" --int4 "$THREADS" "$MODELS/medium" "$MODELS/medium-awq" >"$OUT.body"
  elif [ "$ONLY" = prefill-long ]; then
    "$BUILD/engine_bench" --prefill-long "$THREADS" "$MODELS/medium-long" >"$OUT.body"
  else
    "$BUILD/engine_bench" "$THREADS" "$MODELS/medium-f32" "$MODELS/medium" "$MODELS/medium-lora16" $ONLY >"$OUT.body"
    if [ -z "$ONLY" ]; then # the KV-dtype, long-prompt and 4-bit rows, their JSON keys merged into the main line
      "$BUILD/engine_bench" --kv "$THREADS" "$MODELS/medium-kv" >"$OUT.kv"
      "$BUILD/engine_bench" --prefill-long "$THREADS" "$MODELS/medium-long" >"$OUT.long"
      "$BUILD/engine_bench" --int4 "$THREADS" "$MODELS/medium" "$MODELS/medium-awq" >"$OUT.int4"
      MAIN="$(tail -1 "$OUT.body")" KV="$(tail -1 "$OUT.kv")" LONG="$(tail -1 "$OUT.long")" INT4="$(tail -1 "$OUT.int4")"
      KV="${KV#\{}" LONG="${LONG#\{\"isa\": *, \"threads\": *, }" # isa and threads: in the main line
      { grep -v '^{' "$OUT.body"; grep -v '^{' "$OUT.kv"; grep -v '^{' "$OUT.long"; grep -v '^{' "$OUT.int4"
        echo "${MAIN%\}}, ${KV%\}}, ${LONG%\}}, ${INT4#\{}"; } >"$OUT.merged"
      mv "$OUT.merged" "$OUT.body"
      rm -f "$OUT.kv" "$OUT.long" "$OUT.int4"
    fi
  fi
  grep -v '^{' "$OUT.body"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  tail -1 "$OUT.body" # the JSON line, last
} | tee "$OUT"
tail -1 "$OUT.body" >"bench/results/$NAME.json"
rm -f "$OUT.body"
echo "wrote $OUT and bench/results/$NAME.json" >&2

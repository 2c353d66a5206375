#!/usr/bin/env bash
# The engine beside llama.cpp on the same model and thread count, in one run, alternating.
#
# Fetches llama.cpp (git clone, or LLAMACPP_SRC: an existing checkout) into LLAMACPP_DIR (default
# ../llamacpp, beside the repository: never inside it, never committed), builds llama-bench,
# llama-batched-bench and llama-quantize (CPU, native, Release), converts the engine benchmark's
# medium model (target/bench-models/medium, generated as bench/engine/run.sh generates it) to GGUF
# F16 and BF16 with bench/engine/llamacpp_gguf.py (numpy + llama.cpp's gguf-py), and quantizes the
# BF16 file to Q8_0 (and Q4_0 with --q4) with llama-quantize. With --q4 the engine's 4-bit model is
# the same BF16 model written as an AWQ checkpoint (target/bench-models/medium-awq) by
# engine_bench --int4, whose run also compares the 4-bit engine's logits with the BF16 engine's
# (relative L2, greedy agreement over 256 tokens; its output goes into the results file).
# The shared adapter of llama.cpp's batch-16 rows is the engine's first bench adapter
# (medium-lora16/lora0, rank 16, all seven projections, alpha 32), written as a GGUF LoRA adapter
# in F16 (convert_lora_to_gguf.py's default) by llamacpp_gguf.py --lora. llama-batched-bench
# parses --lora but never applies it, so those rows run with bench/engine/llamacpp_lora_preload.c
# preloaded, which applies each --lora file through llama.cpp's own adapter API. Checked on this
# model (BF16 GGUF, one thread): with the adapter llama.cpp's logits move as the engine's do (the
# two adapter deltas agree to 0.8% relative L2, as close as the base models' logits, 0.55%) and
# its greedy tokens change; without the shim a --lora run times the same as one without.
# Then ROUNDS rounds (default 2), each running, one after the other:
#   engine BF16 (as stored)  | llama.cpp F16, BF16  | engine INT8 | llama.cpp Q8_0 |
#   [--q4: engine INT4 (AWQ as stored) | llama.cpp Q4_0] |
#   llama.cpp batched Q8_0, none then shared | [--q4: batched Q4_0, none then shared] |
#   llama.cpp batched F16, none then shared
# engine rows: engine_bench --rows (prefill512, decode_b1_none, decode_b16_distinct: 16 rows, 16
# distinct rank-16 adapters); llama.cpp rows: llama-bench pp512 / tg32 (batch 1) and
# llama-batched-bench at 16 parallel sequences (32-token prompts, 16 generated tokens each), its
# S_TG t/s (generated tokens per second over all 16), with no adapter (decode_b16) and with the
# one shared adapter (decode_b16_shared, the peer the batch-16 target names). Best of the rounds.
# Usage: bench/engine/llamacpp.sh [--q4] [threads=2] [rounds=2]
# On a host whose cores other processes keep busy, llama.cpp's threads wait for each other at every
# op (a descheduled thread stalls the rest): its 2-thread decode then falls 10x or more below its
# 1-thread figure, while the engine's holds. Run on an idle host, or compare at threads=1 too.
# Writes bench/results/llamacpp-<date>.txt: the llama.cpp commit, every command, every raw output,
# and a summary table with the ratios the targets name.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ARGS="$*"
Q4=0
if [ "${1:-}" = --q4 ]; then Q4=1; shift; fi
THREADS="${1:-2}"
ROUNDS="${2:-2}"
LL="${LLAMACPP_DIR:-$(dirname "$ROOT")/llamacpp}"
BUILD="${BUILD_DIR:-$ROOT/worker/target/cmake-bench}"
MODELS="$ROOT/target/bench-models"
GGUF="$MODELS/gguf"

if [ ! -d "$LL/.git" ] && [ ! -f "$LL/.git" ]; then
  git clone "${LLAMACPP_SRC:-https://github.com/ggerganov/llama.cpp}" "$LL"
fi
case "$(cd "$LL" && pwd)/" in "$ROOT"/*) echo "llama.cpp must live outside the repository: $LL" >&2; exit 2 ;; esac
LLBIN="$LL/build/bin"
if [ ! -x "$LLBIN/llama-batched-bench" ]; then
  cmake -S "$LL" -B "$LL/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$LL/build" -j2 --target llama-bench llama-batched-bench llama-quantize >/dev/null
fi

# built beside llama.cpp's libllama, whose headers (llama_context_params, passed by value) it uses
PRELOAD="$LL/build/flotilla-lora-preload.so"
if [ ! -f "$PRELOAD" ] || [ bench/engine/llamacpp_lora_preload.c -nt "$PRELOAD" ] || [ "$LLBIN/libllama.so" -nt "$PRELOAD" ]; then
  cc -O2 -shared -fPIC -I"$LL/include" -I"$LL/ggml/include" bench/engine/llamacpp_lora_preload.c -o "$PRELOAD" -ldl
fi

GEN=()
[ -f "$BUILD/CMakeCache.txt" ] || GEN=(-G Ninja)
cmake -S worker/src/main/cpp -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target engine_bench >/dev/null
if [ ! -f "$MODELS/medium/.complete" ] || [ ! -f "$MODELS/medium-lora16/lora15/.complete" ]; then
  ./mvnw -B -q -DskipTests package -pl testkit -am >/dev/null
  ./mvnw -B -q dependency:build-classpath -pl testkit -Dmdep.outputFile=target/classpath.txt >/dev/null
  java -Xmx1g -cp "testkit/target/classes:$(cat testkit/target/classpath.txt)" bench/engine/GenerateModels.java \
    "$MODELS/medium" "$MODELS/medium-f32" "$MODELS/medium-lora16" 32
fi
mkdir -p "$GGUF"
for k in f16 bf16; do
  [ -f "$GGUF/medium-$k.gguf" ] || PYTHONPATH="$LL/gguf-py" python3 bench/engine/llamacpp_gguf.py "$MODELS/medium" "$GGUF/medium-$k.gguf" $k
done
LORA="$GGUF/medium-lora16-lora0-f16.gguf"
if [ ! -f "$LORA" ]; then
  PYTHONPATH="$LL/gguf-py" python3 bench/engine/llamacpp_gguf.py --lora "$MODELS/medium-lora16/lora0" "$MODELS/medium" "$LORA.tmp" f16
  mv "$LORA.tmp" "$LORA"
fi
QUANTS="q8_0"
[ "$Q4" = 1 ] && QUANTS="q8_0 q4_0"
for q in $QUANTS; do
  [ -f "$GGUF/medium-$q.gguf" ] || "$LLBIN/llama-quantize" "$GGUF/medium-bf16.gguf" "$GGUF/medium-$q.gguf" "${q^^}" "$THREADS" >/dev/null 2>&1
done

mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
# the code engine_bench was built from (the header is written after the rounds)
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo none)$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (with uncommitted changes)' || true)"
OUT="bench/results/llamacpp-$STAMP.txt"
RAW="$(mktemp)"
trap 'rm -f "$RAW"' EXIT
# weights stay in process memory (-mmp 0 / --no-mmap): idle pages of mmap'd files are reclaimed here
ours() { echo "$BUILD/engine_bench --rows $THREADS $MODELS/${2:-medium} $1 $MODELS/medium-lora16"; }
llb() { echo "$LLBIN/llama-bench -m $GGUF/medium-$1.gguf -t $THREADS -p 512 -n 32 -r 2 -mmp 0 -o csv"; }
llbb() { echo "$LLBIN/llama-batched-bench -m $GGUF/medium-$1.gguf -t $THREADS -c 4096 -b 2048 -ub 512 -npp 32 -ntg 16 -npl 16 --no-mmap"; }
# the same with the one adapter every sequence shares, applied by the preloaded shim
llbbs() { echo "env LD_PRELOAD=$PRELOAD $(llbb "$1") --lora $LORA"; }
run() { # label, command: raw output into $RAW, prefixed
  echo "### $1: $2" >>"$RAW"
  if ! $2 >"$RAW.one" 2>&1; then echo "### $1 FAILED" >>"$RAW"; fi
  sed "s|^|$1 | " "$RAW.one" >>"$RAW"
  rm -f "$RAW.one"
}
if [ "$Q4" = 1 ]; then
  # the AWQ checkpoint, written afresh from the BF16 model (the quantizer is deterministic)
  rm -rf "$MODELS/medium-awq.tmp"
  run "int4-compare" "$BUILD/engine_bench --int4 $THREADS $MODELS/medium $MODELS/medium-awq.tmp"
  rm -rf "$MODELS/medium-awq"
  mv "$MODELS/medium-awq.tmp" "$MODELS/medium-awq"
fi
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  echo "### round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"
  run "ours-bf16" "$(ours as_stored)"
  for k in f16 bf16; do run "ll-$k" "$(llb $k)"; done
  run "ours-int8" "$(ours int8)"
  run "ll-q8_0" "$(llb q8_0)"
  if [ "$Q4" = 1 ]; then
    run "ours-int4" "$(ours as_stored medium-awq)"
    run "ll-q4_0" "$(llb q4_0)"
  fi
  for q in $QUANTS f16; do
    run "llbb-$q" "$(llbb $q)"
    run "llbb-$q-shared" "$(llbbs $q)"
  done
done

python3 - "$RAW" >"$RAW.sum" <<'EOF'
import csv, io, json, re, sys
best = {}
compare = None
warnings = []
def put(k, v):
    best[k] = max(best.get(k, 0.0), v)
lines = open(sys.argv[1]).read().splitlines()
groups = {}
for l in lines:
    if l.startswith("###"):
        continue
    label, _, rest = l.partition(" ")
    groups.setdefault(label, []).append(rest)
for label, rows in groups.items():
    if label.startswith("ours-"):
        for r in rows:
            f = r.split()
            if len(f) == 3 and re.match(r"^[a-z0-9_]+$", f[0]):
                put(f"{label} {f[0]}", float(f[2]))
    elif label.startswith("ll-"):
        text = "\n".join(r for r in rows if r.startswith("build_commit") or r.startswith('"'))
        for row in csv.DictReader(io.StringIO(text)):
            if row.get("build_commit") == "build_commit":
                continue
            test = "prefill512" if row["n_prompt"] == "512" else "decode_b1" if row["n_gen"] == "32" else None
            if test:
                put(f"{label} {test}", float(row["avg_ts"]))
    elif label == "int4-compare":
        for r in rows:
            if r.startswith("{"):
                j = json.loads(r)
                compare = (f"INT4 vs BF16 logits over 256 greedy tokens: relative L2 {j['int4_vs_bf16_rel_l2']:.4f}, "
                           f"arg-max agreement {j['int4_greedy_agreement']:.3f} (projections alone: relative L2 "
                           f"{j['int4_weight_rel_l2']:.4f}); INT4 weights {j['weight_bytes_int4'] / 1048576:.1f} MiB")
    elif label.startswith("llbb-"):
        shared = label.endswith("-shared")
        if shared and not any(r.startswith("llamacpp_lora_preload: applied") for r in rows):
            warnings.append(f"{label}: no 'llamacpp_lora_preload: applied' line, so no adapter row")
            continue
        key = f"{label.removesuffix('-shared')} decode_b16{'_shared' if shared else ''}"
        for r in rows:
            f = [x.strip() for x in r.split("|")]
            if len(f) > 10 and f[3] == "16":
                put(key, float(f[8]))  # S_TG t/s
for k in sorted(best):
    print(f"{k:36s} {best[k]:10.1f} tok/s")
def ratio(a, b, what):
    if a in best and b in best:
        print(f"{what:100s} {best[a] / best[b]:6.2f}x")
print()
ratio("ours-int8 decode_b1_none", "ll-q8_0 decode_b1", "decode b1: engine INT8 / llama.cpp Q8_0 (target >= 1.0)")
ratio("ours-int8 decode_b16_distinct", "llbb-q8_0 decode_b16_shared", "decode b16: engine INT8, 16 distinct adapters / llama.cpp Q8_0, one shared adapter (target >= 3)")
ratio("ours-int8 decode_b16_distinct", "llbb-q8_0 decode_b16", "decode b16: engine INT8, 16 distinct adapters / llama.cpp Q8_0, no adapter")
ratio("ours-int8 prefill512", "ll-q8_0 prefill512", "prefill 512: engine INT8 / llama.cpp Q8_0")
ratio("ours-bf16 decode_b1_none", "ll-f16 decode_b1", "decode b1: engine BF16 / llama.cpp F16")
ratio("ours-bf16 decode_b1_none", "ll-bf16 decode_b1", "decode b1: engine BF16 / llama.cpp BF16")
ratio("ours-bf16 decode_b16_distinct", "llbb-f16 decode_b16_shared", "decode b16: engine BF16, 16 distinct adapters / llama.cpp F16, one shared adapter")
ratio("ours-bf16 decode_b16_distinct", "llbb-f16 decode_b16", "decode b16: engine BF16, 16 distinct adapters / llama.cpp F16, no adapter")
ratio("ours-bf16 prefill512", "ll-f16 prefill512", "prefill 512: engine BF16 / llama.cpp F16")
ratio("ours-bf16 prefill512", "ll-bf16 prefill512", "prefill 512: engine BF16 / llama.cpp BF16")
ratio("ours-int4 decode_b1_none", "ll-q4_0 decode_b1", "decode b1: engine INT4 / llama.cpp Q4_0 (target >= 1.0)")
ratio("ours-int4 decode_b16_distinct", "llbb-q4_0 decode_b16_shared", "decode b16: engine INT4, 16 distinct adapters / llama.cpp Q4_0, one shared adapter")
ratio("ours-int4 decode_b16_distinct", "llbb-q4_0 decode_b16", "decode b16: engine INT4, 16 distinct adapters / llama.cpp Q4_0, no adapter")
ratio("ours-int4 prefill512", "ll-q4_0 prefill512", "prefill 512: engine INT4 / llama.cpp Q4_0")
ratio("ll-q4_0 decode_b1", "ll-q8_0 decode_b1", "decode b1: llama.cpp Q4_0 / Q8_0")
ratio("llbb-q8_0 decode_b16_shared", "llbb-q8_0 decode_b16", "decode b16: llama.cpp Q8_0, one shared adapter / no adapter")
if compare:
    print(compare)
for w in warnings:
    print("WARNING:", w)
EOF

{
  echo "# command: bench/engine/llamacpp.sh $ARGS"
  echo "# started: $STAMP  finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $COMMIT"
  echo "# llama.cpp: $(git -C "$LL" rev-parse HEAD) ($(git -C "$LL" log -1 --format=%cs)), built -DGGML_NATIVE=ON Release"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB; load average before the rounds: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# model: $MODELS/medium (testkit medium, BF16); GGUF: bench/engine/llamacpp_gguf.py -> F16/BF16, llama-quantize -> ${QUANTS^^}"
  echo "# shared adapter: $MODELS/medium-lora16/lora0 (rank 16, 7 projections, alpha 32) -> $LORA (llamacpp_gguf.py --lora)"
  [ "$Q4" = 1 ] && echo "# 4-bit: $MODELS/medium-awq, the BF16 model as AWQ (round to nearest, group 128; engine_bench --int4): layers INT4, head INT8, embedding BF16"
  echo "# $ROUNDS rounds, each in this order; best of the rounds per row"
  echo "# commands:"
  echo "#   $(ours 'as_stored|int8')"
  [ "$Q4" = 1 ] && echo "#   $(ours as_stored medium-awq)"
  echo "#   $(llb 'f16|bf16|q8_0|q4_0')"
  echo "#   $(llbb 'f16|q8_0|q4_0')"
  echo "#   $(llbbs 'f16|q8_0|q4_0')"
  echo "## summary (best per row)"
  cat "$RAW.sum"
  echo "## raw output"
  cat "$RAW"
} >"$OUT"
rm -f "$RAW.sum"
sed -n '/## summary/,/## raw/p' "$OUT"
echo "wrote $OUT" >&2

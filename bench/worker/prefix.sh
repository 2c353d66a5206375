#!/usr/bin/env bash
# Prefix-cache benchmark: the packaged worker (its own JVM) on the testkit's medium model (~200 M
# parameters, BF16) under the shared-prefix chat workload (PrefixBench: 8 system prompts of 1,024
# tokens, each request one of them plus a fresh 32-token user turn, closed-loop streams over gRPC
# on loopback, plaintext), run twice in this one run: the worker with FLOTILLA_PREFIX_CACHE=true
# (warmed with the 8 system prompts once), then the same worker with it false (warmed with one).
# Each phase runs a fixed number of requests, so a loaded machine gives slower phases, not empty
# ones. Prints both phases and, last, one JSON line: prefix_ttft_ratio (TTFT p50 cached /
# uncached), prefix_tok_s_ratio (output tokens/s cached / uncached), each phase's numbers and the
# cached phase's hit rate. The host is shared: compare only ratios from one run.
# Usage: bench/worker/prefix.sh [requests per phase=8] [streams=2] [max tokens=16] [threads=2]
# Writes bench/results/worker-prefix-<date>.txt with the machine and the command. With
# BENCH_NESTED=1 (how bench/worker/run.sh runs it) it builds nothing, takes the worker and the
# classpath that run.sh built, and writes no file: the caller records its output.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REQUESTS="${1:-8}"
STREAMS="${2:-2}"
MAX_TOKENS="${3:-16}"
THREADS="${4:-2}"
GRPC_PORT=19191
HTTP_PORT=18191

NESTED="${BENCH_NESTED:-}"

# the packaged worker and the test classes, built in the reactor (nothing is installed into ~/.m2)
CP_FILE=worker/target/bench-classpath.txt
if [ -z "$NESTED" ]; then
  ./mvnw -B -q -o -pl worker -am package dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE" >/dev/null
fi
CP="worker/target/test-classes:worker/target/classes:$(cat "$CP_FILE")"
JAVA_OPTS=(-XX:+UseParallelGC -Dflotilla.engine.library="$ROOT/worker/target/cmake-build/libflotilla_engine.so"
  -Djava.util.logging.manager=org.jboss.logmanager.LogManager)
MODELS=worker/target/bench-models
java "${JAVA_OPTS[@]}" -Xmx256m -cp "$CP" dev.flotilla.worker.bench.BenchModels "$MODELS" 0

if [ -n "$NESTED" ]; then
  OUT=/dev/null
else
  mkdir -p bench/results
  OUT="bench/results/worker-prefix-$(date -u +%Y%m%dT%H%M%SZ).txt"
fi
WORKER_LOG=worker/target/bench-prefix-worker.log
if curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/live" >/dev/null 2>&1; then
  echo "port $HTTP_PORT is taken (a worker left from an earlier run?); stop it first" >&2
  exit 1
fi

# phase CACHE WARMUPS: starts the worker with FLOTILLA_PREFIX_CACHE=CACHE, runs PrefixBench after
# WARMUPS warm-up requests, stops it; prints PrefixBench's JSON line
phase() {
  FLOTILLA_PREFIX_CACHE="$1" FLOTILLA_MTLS_ENABLED=false FLOTILLA_MODEL_SOURCE="file://$ROOT/$MODELS/medium" FLOTILLA_MODEL_NAME=bench/medium \
  FLOTILLA_MAX_BATCH_SIZE=64 FLOTILLA_KV_CACHE_BYTES=$((1 << 30)) FLOTILLA_THREADS="$THREADS" \
  FLOTILLA_MAX_STEP_TOKENS=256 FLOTILLA_PREFILL_CHUNK=256 QUARKUS_GRPC_SERVER_PORT=$GRPC_PORT QUARKUS_HTTP_PORT=$HTTP_PORT \
    java -XX:+UseParallelGC -jar worker/target/quarkus-app/quarkus-run.jar >"$WORKER_LOG.$1" 2>&1 &
  WORKER_PID=$!
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/ready" >/dev/null 2>&1 && break
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "worker exited; see $WORKER_LOG.$1" >&2; exit 1; }
    sleep 0.5
  done
  java "${JAVA_OPTS[@]}" -Xmx512m -cp "$CP" dev.flotilla.worker.bench.PrefixBench \
    "$GRPC_PORT" "$HTTP_PORT" "$REQUESTS" "$STREAMS" "$MAX_TOKENS" "$2" | tail -1
  kill "$WORKER_PID" && wait "$WORKER_PID" 2>/dev/null || true
  WORKER_PID=
}

# value KEY JSON: a number from a flat JSON line
value() { echo "$2" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

{
  cleanup() { [ -n "${WORKER_PID:-}" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true; }
  trap cleanup EXIT
  echo "# command: bench/worker/prefix.sh $*"
  if [ -z "$NESTED" ]; then
    echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
         "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  fi
  echo "# model: testkit medium (BF16), base model; worker: batch 64, KV 1 GiB (blocks of 16), step 256 rows, prefill chunk 256, $THREADS threads;" \
       "requests: one of 8 system prompts of 1024 tokens + 32 fresh tokens, $MAX_TOKENS generated, greedy;" \
       "$STREAMS closed-loop streams, $REQUESTS requests per phase"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: compare only within one run)"
  CACHED=$(phase true 8)
  echo "cache on:  $CACHED"
  UNCACHED=$(phase false 1)
  echo "cache off: $UNCACHED"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  awk -v tc="$(value ttft_p50_ms "$CACHED")" -v tu="$(value ttft_p50_ms "$UNCACHED")" \
      -v sc="$(value output_tokens_per_s "$CACHED")" -v su="$(value output_tokens_per_s "$UNCACHED")" \
      -v hit="$(value prefix_hit_rate "$CACHED")" \
      -v pc="$(value ttft_p99_ms "$CACHED")" -v pu="$(value ttft_p99_ms "$UNCACHED")" \
    'BEGIN { printf "{\"prefix_ttft_ratio\":%.3f,\"prefix_tok_s_ratio\":%.2f,\"ttft_p50_ms_cached\":%.1f,\"ttft_p50_ms_uncached\":%.1f,\"ttft_p99_ms_cached\":%.1f,\"ttft_p99_ms_uncached\":%.1f,\"tok_s_cached\":%.1f,\"tok_s_uncached\":%.1f,\"prefix_hit_rate\":%.3f}\n", tc / tu, sc / su, tc, tu, pc, pu, sc, su, hit }'
} 2>&1 | tee "$OUT"
[ -n "$NESTED" ] || echo "wrote $OUT" >&2

#!/usr/bin/env bash
# Worker benchmark: the packaged worker (its own JVM) on the testkit's medium model (~200 M
# parameters, BF16) with 1,000 rank-16 adapters, driven over gRPC on loopback by closed-loop clients
# at 1, 8, 32 and 64 concurrent streams, each request with a random adapter from a pool of 8 or 64,
# and at 32 streams over all 1,000 (each loaded once before that phase, so it measures adapters in
# memory: the KV-budget pool or the 4 GiB host tier). The worker has no adapter cap: adapters are
# paged in its KV budget. The engine's raw batch-32 decode rate (EngineContext driven
# directly, rows spread over the same 8 adapters) is measured first in the same run, then the
# headline phase's own work through the engine alone (EngineMixBench: prompts' prefill included,
# steps planned as the scheduler plans them), so stream32_vs_engine_mix is what the scheduler,
# detokenizer and gRPC cost and stream32_vs_engine_b32 also charges the prompts' prefill. Each
# phase counts the last three quarters of its time (the first is every stream starting at once).
# Prints a table and, last, one JSON line: stream32_vs_engine_b32, stream32_vs_engine_mix,
# tbt_p50_ms, tbt_p99_ms, ttft_p50_ms, ttft_p99_ms, output_tokens_per_s, adapter_loads,
# ttft_p99_ms_64_over_8 (32 streams: TTFT p99 over 64 adapters / over 8), tok_s_1000_over_8
# (32 streams: tokens/s over 1,000 adapters / over 8), ...
# Usage: bench/worker/run.sh [seconds per phase=30] [prompt tokens=16] [max tokens=64] [threads=2]
# BENCH_PHASES=32x8,32x64,32x1000 runs only those (streams x adapters) worker phases.
# Writes bench/results/worker-<date>.txt with the machine and the command. Run on an idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SECONDS_PER_PHASE="${1:-30}"
PROMPT="${2:-16}"
MAX_TOKENS="${3:-64}"
THREADS="${4:-2}"
GRPC_PORT=19190
HTTP_PORT=18190

# One reactor build (never install: the modules resolve from their target/ folders). Every module
# writes the classpath file in turn; the worker, built last, leaves its own.
CP_FILE=worker/target/bench-classpath.txt
./mvnw -B -q -o -pl worker -am package dependency:build-classpath -DskipTests \
  -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE" >/dev/null
CP="worker/target/test-classes:worker/target/classes:$(cat "$CP_FILE")"
JAVA_OPTS=(-XX:+UseParallelGC -Dflotilla.engine.library="$ROOT/worker/target/cmake-build/libflotilla_engine.so"
  -Djava.util.logging.manager=org.jboss.logmanager.LogManager)
MODELS=worker/target/bench-models
java "${JAVA_OPTS[@]}" -Xmx256m -cp "$CP" dev.flotilla.worker.bench.BenchModels "$MODELS" 1000

mkdir -p bench/results
OUT="bench/results/worker-$(date -u +%Y%m%dT%H%M%SZ).txt"
WORKER_LOG=worker/target/bench-worker.log
if curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/live" >/dev/null 2>&1; then
  echo "port $HTTP_PORT is taken (a worker left from an earlier run?); stop it first" >&2
  exit 1
fi
{
  # this group runs in a subshell (it is piped to tee): stop the worker when it ends
  cleanup() { [ -n "${WORKER_PID:-}" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true; }
  trap cleanup EXIT
  echo "# command: ${BENCH_PHASES:+BENCH_PHASES=$BENCH_PHASES }bench/worker/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# model: testkit medium (BF16), 1000 adapters rank 16 on q/k/v/o ($(du -sh "$MODELS/adapters" | cut -f1) on disk);" \
       "worker: batch 64, adapters paged in the KV budget (no cap), host tier 4 GiB, KV 1 GiB, $THREADS threads; requests: $PROMPT prompt tokens, $MAX_TOKENS generated, greedy; $SECONDS_PER_PHASE s per phase"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: compare only within one run)"
  ENGINE_JSON=$(java "${JAVA_OPTS[@]}" -cp "$CP" dev.flotilla.worker.bench.EngineDecodeBench \
    "$MODELS/medium" "$MODELS/adapters" 32 8 "$THREADS" 10 | tail -1)
  echo "engine: $ENGINE_JSON"
  ENGINE_B32=$(echo "$ENGINE_JSON" | sed -E 's/.*"engine_tokens_per_s":([0-9.]+).*/\1/')
  # The headline phase's work (32 closed-loop streams, these prompts and lengths, 8 adapters)
  # through the engine alone, planned as the scheduler plans steps: prompts' prefill included.
  MIX_JSON=$(java "${JAVA_OPTS[@]}" -cp "$CP" dev.flotilla.worker.bench.EngineMixBench \
    "$MODELS/medium" "$MODELS/adapters" 32 8 "$THREADS" "$SECONDS_PER_PHASE" "$PROMPT" "$MAX_TOKENS" | tail -1)
  echo "engine mix: $MIX_JSON"
  ENGINE_MIX=$(echo "$MIX_JSON" | sed -E 's/.*"engine_mix_tokens_per_s":([0-9.]+).*/\1/')

  FLOTILLA_MODEL_SOURCE="file://$ROOT/$MODELS/medium" FLOTILLA_MODEL_NAME=bench/medium \
  FLOTILLA_MTLS_ENABLED=false FLOTILLA_ADAPTERS_DIR="$ROOT/$MODELS/adapters" FLOTILLA_MAX_BATCH_SIZE=64 \
  FLOTILLA_ADAPTER_HOST_CACHE_BYTES=$((4 << 30)) \
  FLOTILLA_KV_CACHE_BYTES=$((1 << 30)) FLOTILLA_THREADS="$THREADS" FLOTILLA_MAX_STEP_TOKENS=256 \
  QUARKUS_GRPC_SERVER_PORT=$GRPC_PORT QUARKUS_HTTP_PORT=$HTTP_PORT \
    java -XX:+UseParallelGC -jar worker/target/quarkus-app/quarkus-run.jar >"$WORKER_LOG" 2>&1 &
  WORKER_PID=$!
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/ready" >/dev/null 2>&1 && break
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "worker exited; see $WORKER_LOG"; exit 1; }
    sleep 0.5
  done
  java "${JAVA_OPTS[@]}" -Xmx512m -Dbench.phases="${BENCH_PHASES:-}" -cp "$CP" dev.flotilla.worker.bench.WorkerBench \
    "$GRPC_PORT" "$HTTP_PORT" "$ENGINE_B32" "$SECONDS_PER_PHASE" "$PROMPT" "$MAX_TOKENS" "$ENGINE_MIX" > worker/target/bench-client.out
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  cat worker/target/bench-client.out
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

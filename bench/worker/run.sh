#!/usr/bin/env bash
# Worker benchmark: three workloads in one run, one after another (a workload's JVMs stop before
# the next one starts).
# - adapters: the packaged worker (its own JVM) on the testkit's medium model (~200 M parameters,
# BF16) with 1,000 rank-16 adapters, driven over gRPC on loopback by closed-loop clients
# at 1, 8, 32 and 64 concurrent streams, each request with a random adapter from a pool of 8 or 64,
# and at 32 streams over all 1,000 (each loaded once before that phase, so it measures adapters in
# memory: the KV-budget pool or the 4 GiB host tier). The worker has no adapter cap: adapters are
# paged in its KV budget. The engine's raw batch-32 decode rate (EngineContext driven
# directly, rows spread over the same 8 adapters) is measured first in the same run, then the
# headline phase's own work through the engine alone (EngineMixBench: prompts' prefill included,
# steps planned as the scheduler plans them), so stream32_vs_engine_mix is what the scheduler,
# detokenizer and gRPC cost and stream32_vs_engine_b32 also charges the prompts' prefill. Each
# phase counts the last three quarters of its time (the first is every stream starting at once).
# Prints a table and its JSON line ("adapters: {...}"): stream32_vs_engine_b32,
# stream32_vs_engine_mix, tbt_p50_ms, tbt_p99_ms, ttft_p50_ms, ttft_p99_ms, output_tokens_per_s,
# adapter_loads, ttft_p99_ms_64_over_8 (32 streams: TTFT p99 over 64 adapters / over 8),
# tok_s_1000_over_8 (32 streams: tokens/s over 1,000 adapters / over 8), ...
# - prefix: bench/worker/prefix.sh, the shared-prefix chat workload (8 system prompts of 1,024
# tokens, user turns of 32) on the same model with the worker's prefix cache on, then off
# ("prefix: {...}"): prefix_ttft_ratio (TTFT p50 cached / uncached), prefix_tok_s_ratio, ...
# - routing: bench/gateway/routing.sh (it builds the gateway's test classes), two workers on the
# tiny model behind the gateway, prefix-aware against plain routing ("routing: {...}"):
# routed_prefix_hit_rate (the gateway's count of requests sent to a worker holding their prefix),
# worker_prefix_hit_rate (the workers' own prefix caches: prompt tokens reused / offered), each
# also with _plain, ...
# Last, one JSON line with every workload's keys: the adapter keys as they are, the others under
# their workload's name where they do not carry it (prefix_..., routing_...).
# Usage: bench/worker/run.sh [seconds per phase=30] [prompt tokens=16] [max tokens=64] [threads=2]
# (the adapter workload's phases; threads for the prefix workload's worker too). Environment:
# BENCH_WORKLOADS=adapters,prefix,routing runs only those workloads;
# BENCH_PHASES=32x8,32x64,32x1000 runs only those (streams x adapters) adapter phases;
# BENCH_PREFIX_REQUESTS (16 per phase), BENCH_PREFIX_STREAMS (2), BENCH_PREFIX_MAX_TOKENS (16);
# BENCH_ROUTING_REQUESTS (240 per mode), BENCH_ROUTING_CLIENTS (4).
# Writes bench/results/worker-<date>.txt with the machine and the command. Run on an idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SECONDS_PER_PHASE="${1:-30}"
PROMPT="${2:-16}"
MAX_TOKENS="${3:-64}"
THREADS="${4:-2}"
WORKLOADS=",${BENCH_WORKLOADS:-adapters,prefix,routing},"
PREFIX_ARGS=("${BENCH_PREFIX_REQUESTS:-16}" "${BENCH_PREFIX_STREAMS:-2}" "${BENCH_PREFIX_MAX_TOKENS:-16}" "$THREADS")
ROUTING_ARGS=("${BENCH_ROUTING_REQUESTS:-240}" "${BENCH_ROUTING_CLIENTS:-4}")
GRPC_PORT=19190
HTTP_PORT=18190
# runs WORKLOAD: whether this run includes it
runs() { [[ "$WORKLOADS" == *",$1,"* ]]; }
for w in ${WORKLOADS//,/ }; do
  case "$w" in adapters | prefix | routing) ;; *) echo "unknown workload $w in BENCH_WORKLOADS" >&2; exit 2 ;; esac
done

# One reactor build (never install: the modules resolve from their target/ folders). Every module
# writes the classpath file in turn; the worker, built last, leaves its own.
CP_FILE=worker/target/bench-classpath.txt
./mvnw -B -q -o -pl worker -am package dependency:build-classpath -DskipTests \
  -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE" >/dev/null
CP="worker/target/test-classes:worker/target/classes:$(cat "$CP_FILE")"
JAVA_OPTS=(-XX:+UseParallelGC -Dflotilla.engine.library="$ROOT/worker/target/cmake-build/libflotilla_engine.so"
  -Djava.util.logging.manager=org.jboss.logmanager.LogManager)
MODELS=worker/target/bench-models
runs adapters && java "${JAVA_OPTS[@]}" -Xmx256m -cp "$CP" dev.flotilla.worker.bench.BenchModels "$MODELS" 1000

mkdir -p bench/results
OUT="bench/results/worker-$(date -u +%Y%m%dT%H%M%SZ).txt"
WORKER_LOG=worker/target/bench-worker.log
if runs adapters && curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/live" >/dev/null 2>&1; then
  echo "port $HTTP_PORT is taken (a worker left from an earlier run?); stop it first" >&2
  exit 1
fi

# The adapter workload: the engine's own rates, then the worker's phases; stops its worker at the
# end and sets ADAPTERS_JSON.
adapters_workload() {
  echo "# model: testkit medium (BF16), 1000 adapters rank 16 on q/k/v/o ($(du -sh "$MODELS/adapters" | cut -f1) on disk);" \
       "worker: batch 64, adapters paged in the KV budget (no cap), host tier 4 GiB, KV 1 GiB, $THREADS threads; requests: $PROMPT prompt tokens, $MAX_TOKENS generated, greedy; $SECONDS_PER_PHASE s per phase"
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
  kill "$WORKER_PID" && wait "$WORKER_PID" 2>/dev/null || true
  WORKER_PID=
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  sed -e 's/^{/adapters: {/' worker/target/bench-client.out
  ADAPTERS_JSON=$(grep '^{' worker/target/bench-client.out | tail -1)
}

# nested workload SCRIPT ARGS...: runs another bench script as part of this run (it builds nothing
# of the worker's and writes no results file of its own), its JSON line labelled with the
# workload's name; sets the workload's JSON from it
nested() {
  local name="$1" script="$2"
  shift 2
  BENCH_NESTED=1 "$script" "$@" | tee "worker/target/bench-$name.out" | sed -u -e "s/^{/$name: {/"
  grep '^{' "worker/target/bench-$name.out" | tail -1 >"worker/target/bench-$name.json" ||
    { echo "$script printed no JSON line" >&2; exit 1; }
}

{
  # this group runs in a subshell (it is piped to tee): stop the worker when it ends
  cleanup() { [ -n "${WORKER_PID:-}" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true; }
  trap cleanup EXIT
  echo "# command: $(env | grep -E '^BENCH_(WORKLOADS|PHASES|PREFIX_[A-Z_]+|ROUTING_[A-Z_]+)=' | sort | tr '\n' ' ')bench/worker/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: compare only within one run)"
  ADAPTERS_JSON=
  if runs adapters; then
    echo "## adapters"
    adapters_workload
  fi
  if runs prefix; then
    echo "## prefix"
    nested prefix bench/worker/prefix.sh "${PREFIX_ARGS[@]}"
  fi
  if runs routing; then
    echo "## routing"
    nested routing bench/gateway/routing.sh "${ROUTING_ARGS[@]}"
  fi
  python3 bench/worker/merge_json.py adapters "$ADAPTERS_JSON" \
    prefix "$(runs prefix && cat worker/target/bench-prefix.json)" \
    routing "$(runs routing && cat worker/target/bench-routing.json)"
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

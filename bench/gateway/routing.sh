#!/usr/bin/env bash
# Prefix-aware against plain routing through the gateway, in one run: two packaged workers (their
# own JVMs, the native engine, the testkit's tiny model with a 4,096-token context) behind one
# gateway pipeline per mode, a chat workload of 8 system prompts (~4,000 chars each) with a new user
# turn per request, from a few concurrent clients. Each worker's KV cache holds about five of the
# system prompts (BENCH_KV_BYTES, default 7.5 MiB: 7,680 tokens, against ~1,540 a prompt), so a worker that sees all eight keeps only some:
# plain routing then finds the prompt held about half the time, and prefix-aware routing, which
# keeps each system prompt on one worker, nearly always.
# Prints a line per mode and one JSON line: routed_prefix_hit_rate (affinity on) and
# routed_prefix_hit_rate_plain (off), the fraction of requests routed to a worker that held their
# longest prefix, from the gateway's flotilla_gateway_routed_requests_total; worker_prefix_hit_rate
# and worker_prefix_hit_rate_plain, what the workers' own prefix caches saw in each mode (prompt
# tokens reused over tokens offered, both workers together, from each worker's /q/metrics before
# and after the mode; worker_prefix_hit_rates[_plain]: each worker's); the mean TTFT of each mode;
# the held-prefix filter's bytes in each worker's report at the end.
# Usage: bench/gateway/routing.sh [requests per mode=240] [clients=4]
# Writes bench/results/routing-<date>.txt with the machine and the command. With BENCH_NESTED=1
# (how bench/worker/run.sh runs it) it takes the packaged worker that run.sh built and writes no
# file: the caller records its output.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
NESTED="${BENCH_NESTED:-}"
CP_FILE=gateway/target/bench-classpath.txt
# -am: the sibling modules (api) come from this tree, not from whatever ~/.m2 last had installed.
./mvnw -B -q -o -pl gateway -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE" >/dev/null
CP="gateway/target/test-classes:gateway/target/classes:$(cat "$CP_FILE")"
[ -n "$NESTED" ] || ./mvnw -B -q -o -pl worker -am package -DskipTests >/dev/null
./mvnw -B -q -o dependency:build-classpath -pl testkit -Dmdep.outputFile=target/classpath.txt >/dev/null
MODEL_DIR=gateway/target/bench-routing-model
java -cp "testkit/target/classes:$(cat testkit/target/classpath.txt)" bench/gateway/GenerateRoutingModel.java "$MODEL_DIR"

PIDS=()
METRICS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done' EXIT
WORKERS=()
for i in 1 2; do
  GRPC_PORT=$((19390 + i))
  HTTP_PORT=$((18390 + i))
  if curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/live" >/dev/null 2>&1; then
    echo "port $HTTP_PORT is taken (a worker left from an earlier run?); stop it first" >&2
    exit 1
  fi
  FLOTILLA_MODEL_SOURCE="file://$ROOT/$MODEL_DIR" FLOTILLA_MODEL_NAME=default/bench-model \
  FLOTILLA_WORKER_ID="worker-$i" FLOTILLA_MAX_BATCH_SIZE=16 FLOTILLA_THREADS=1 FLOTILLA_MTLS_ENABLED=false \
  FLOTILLA_KV_CACHE_BYTES="${BENCH_KV_BYTES:-$((15 << 19))}" \
  QUARKUS_GRPC_SERVER_PORT=$GRPC_PORT QUARKUS_HTTP_PORT=$HTTP_PORT \
    java -XX:+UseParallelGC -jar worker/target/quarkus-app/quarkus-run.jar >"gateway/target/bench-routing-worker-$i.log" 2>&1 &
  PIDS+=($!)
  WORKERS+=("127.0.0.1:$GRPC_PORT")
  METRICS+=("http://127.0.0.1:$HTTP_PORT/q/metrics")
done
for i in 1 2; do
  HTTP_PORT=$((18390 + i))
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/ready" >/dev/null 2>&1 && break
    kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || { echo "worker $i exited; see gateway/target/bench-routing-worker-$i.log"; exit 1; }
    sleep 0.5
  done
done

if [ -n "$NESTED" ]; then
  OUT=/dev/null
else
  mkdir -p bench/results
  OUT="bench/results/routing-$(date -u +%Y%m%dT%H%M%SZ).txt"
fi
{
  echo "# command: bench/gateway/routing.sh $*${BENCH_KV_BYTES:+ (BENCH_KV_BYTES=$BENCH_KV_BYTES)}"
  if [ -z "$NESTED" ]; then
    echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
         "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  fi
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  # the JBoss LogManager on the classpath is also the JDK's System.Logger (the HTTP client's)
  java -XX:+UseParallelGC -Xmx1g -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
    -Dbench.workerMetrics="$(IFS=,; echo "${METRICS[*]}")" -cp "$CP" \
    dev.flotilla.gateway.bench.RoutingBench "${WORKERS[0]}" "${WORKERS[1]}" "${1:-240}" "${2:-4}"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
[ -n "$NESTED" ] || echo "wrote $OUT" >&2

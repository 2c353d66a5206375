#!/usr/bin/env bash
# Gateway overhead benchmark: streaming requests straight to a worker and the same requests through
# the gateway pipeline (its own JVM), at 1 and 64 concurrent clients, in one run. Prints a line per
# phase and, last, one JSON line (added_ttft_p50_ms, added_ttft_p99_ms, throughput_ratio,
# gateway_cpu_ms_per_1000 at 64 clients; the same with _c1 at 1 client), with
# gateway_leg_ttft_mean_ms (the client's mean TTFT less the gateway's own arrival-to-first-token mean:
# the gateway's leg, which moves little with the worker's speed) and worker_ttft_mean_ratio (the
# worker's own mean TTFT in gateway phases over direct ones: how much of the added TTFT was the worker
# running slower). Each phase counts its last three quarters; its first quarter, where every client
# sends at once, is the "start burst", whose TTFT p99 is printed apart (added_start_burst_ttft_p99_ms).
# Direct and gateway phases alternate over BENCH_ROUNDS rounds (default 3) and each side's rounds are
# pooled, so the host's drift over the run falls on both sides alike. Every phase line also breaks
# the mean TTFT down by the processes' own timers (client, gateway arrival to the worker's first
# token, worker arrival to its first token).
# Usage: bench/gateway/run.sh [seconds per phase=10] [tokens=16] [token interval us=2000] [fake|tiny]
#   fake (default): an in-process worker that streams the tokens at a fixed interval, so the run
#     measures the gateway alone (the load generator, the fake worker and the gateway share the
#     cores, but no engine competes for them).
#   tiny: the packaged worker (its own JVM, the native engine) on the testkit's tiny model. The
#     engine gets one thread (BENCH_WORKER_THREADS=2 for two): on a 2-core machine a two-thread
#     engine spins on both cores and the gateway's CPU then comes straight out of the engine's, so
#     the ratio would measure the sharing of two cores more than the gateway.
#     The gateway gets the first core(s) to itself; the worker and the load generator share the last
#     (BENCH_PIN=0: no pinning).
# Writes bench/results/gateway-<date>.txt with the machine, the command and the load average.
# Run on an idle machine. BENCH_GATEWAY_JAVA_OPTS adds options to the gateway JVM only (e.g.
# -XX:StartFlightRecording=filename=/tmp/gw.jfr,settings=profile to profile it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CP_FILE=gateway/target/bench-classpath.txt
# -am: the sibling modules (api) come from this tree, not from whatever ~/.m2 last had installed.
./mvnw -B -q -pl gateway -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE" >/dev/null
CP="gateway/target/test-classes:gateway/target/classes:$(cat "$CP_FILE")"
MODE="${4:-fake}"
GRPC_PORT=19290
HTTP_PORT=18290
WORKER_CPUS=""
CLIENT_CPUS=""
if [ "$MODE" = tiny ] && [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  # The gateway on cores of its own, as production runs it on other nodes than the workers; the
  # worker (engine and its gRPC) and the load generator share the last core in both phases, so the
  # gateway is the only difference between them. Unpinned (BENCH_PIN=0) on two cores, the
  # gateway's CPU comes straight out of the engine's and the throughput ratio measures the sharing
  # of two cores more than the gateway. The load generator stays beside the worker: on the
  # gateway's core instead, every message from it would wake the worker's core.
  LAST=$(($(nproc) - 1))
  WORKER_CPUS="taskset -c $LAST"
  CLIENT_CPUS="taskset -c $LAST"
  export BENCH_GATEWAY_CPUS="0-$((LAST - 1))"
fi
if [ "$MODE" = tiny ]; then
  ./mvnw -B -q -pl worker -am package -DskipTests >/dev/null
  ./mvnw -B -q dependency:build-classpath -pl testkit -Dmdep.outputFile=target/classpath.txt >/dev/null
  java -cp "testkit/target/classes:$(cat testkit/target/classpath.txt)" bench/gateway/GenerateTinyModel.java \
    gateway/target/bench-tiny
  if curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/live" >/dev/null 2>&1; then
    echo "port $HTTP_PORT is taken (a worker left from an earlier run?); stop it first" >&2
    exit 1
  fi
  export BENCH_WORKER_METRICS="http://127.0.0.1:$HTTP_PORT/q/metrics"
  FLOTILLA_MTLS_ENABLED=false FLOTILLA_MODEL_SOURCE="file://$ROOT/gateway/target/bench-tiny" FLOTILLA_MODEL_NAME=default/bench-model \
  FLOTILLA_MAX_BATCH_SIZE=64 FLOTILLA_THREADS="${BENCH_WORKER_THREADS:-1}" FLOTILLA_KV_CACHE_BYTES=$((256 << 20)) \
  QUARKUS_GRPC_SERVER_PORT=$GRPC_PORT QUARKUS_HTTP_PORT=$HTTP_PORT \
    $WORKER_CPUS java -XX:+UseParallelGC -jar worker/target/quarkus-app/quarkus-run.jar >gateway/target/bench-worker.log 2>&1 &
  WORKER_PID=$!
  trap 'kill $WORKER_PID 2>/dev/null; wait $WORKER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/q/health/ready" >/dev/null 2>&1 && break
    kill -0 "$WORKER_PID" 2>/dev/null || { echo "worker exited; see gateway/target/bench-worker.log"; exit 1; }
    sleep 0.5
  done
  export BENCH_WORKER="127.0.0.1:$GRPC_PORT"
fi
mkdir -p bench/results
OUT="bench/results/gateway-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# command: bench/gateway/run.sh $*${BENCH_GATEWAY_JAVA_OPTS:+ (BENCH_GATEWAY_JAVA_OPTS=$BENCH_GATEWAY_JAVA_OPTS)}"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# pinning: worker ${WORKER_CPUS:-not pinned}; load generator ${CLIENT_CPUS:-not pinned}; gateway ${BENCH_GATEWAY_CPUS:+taskset -c $BENCH_GATEWAY_CPUS}"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  $CLIENT_CPUS java -XX:+UseParallelGC -Xmx1g -cp "$CP" dev.flotilla.gateway.bench.GatewayBench "${1:-10}" "${2:-16}" "${3:-2000}"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

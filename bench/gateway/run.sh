#!/usr/bin/env bash
# Gateway overhead benchmark: streaming requests straight to a fixed-rate fake worker and the same
# requests through the gateway pipeline (its own JVM), at 1 and 64 concurrent clients, in one run.
# Prints a line per phase and, last, one JSON line (added_ttft_p50_ms, added_ttft_p99_ms,
# throughput_ratio, gateway_cpu_ms_per_1000 at 64 clients; the same with _c1 at 1 client).
# Usage: bench/gateway/run.sh [seconds per phase=10] [tokens=16] [token interval us=2000]
# Each phase line also gives the CPU of the bench process (clients + fake worker) and how busy
# the whole host was, in cores: on a 2-core machine all three processes share them.
# The gateway is warmed for about 3.5 phases' length first (JIT): a short warm-up left C2
# compiling through the measured phases and counted as gateway CPU.
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
mkdir -p bench/results
OUT="bench/results/gateway-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# command: bench/gateway/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  java -XX:+UseParallelGC -Xmx1g -cp "$CP" dev.flotilla.gateway.bench.GatewayBench "$@"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

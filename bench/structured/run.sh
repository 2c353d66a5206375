#!/usr/bin/env bash
# Grammar-masking benchmark: the cost per generated token of structured output at batch 32
# (GrammarMaskBench: allowed-token lookup, fl_mask_logits and automaton step, timed apart from
# the sampling they precede), for a 32k and a 152k byte-level vocabulary.
# Usage: bench/structured/run.sh [seconds per loop=5]
# Writes bench/results/structured-<date>.txt with the machine and the command.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SECONDS_PER_LOOP="${1:-5}"
./mvnw -B -o -q -pl worker -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt >/dev/null
CP="worker/target/test-classes:worker/target/classes:$(cat worker/target/bench-classpath.txt)"
JAVA_OPTS=(-XX:+UseParallelGC -Dflotilla.engine.library="$ROOT/worker/target/cmake-build/libflotilla_engine.so")
mkdir -p bench/results
OUT="bench/results/structured-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# command: bench/structured/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: compare only within one run)"
  for V in 32000 151936; do
    java "${JAVA_OPTS[@]}" -Xmx2g -cp "$CP" dev.flotilla.worker.bench.GrammarMaskBench "$V" "$SECONDS_PER_LOOP" | tail -1
  done
} | tee "$OUT"
echo "wrote $OUT" >&2

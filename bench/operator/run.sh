#!/usr/bin/env bash
# Operator scale benchmark: the operator's reconcilers (plain Java Operator SDK, as the *ApiTests
# run them) on the in-memory API server with 20 GpuNodePools, 1,000 ModelDeployments and 5,000
# LoraAdapters. Prints, last, one JSON line: reconcile_all_s (create everything until every status
# observed its generation and the pools account for every placement), reconciles_per_s, heap_mib
# (used heap after a GC once settled; the in-memory API server runs in the same JVM, so this bounds
# the operator's heap from above) and single_change_s (one deployment's spec change, the rest idle).
# create_s is how long creating the 6,020 resources took; the operator reconciles meanwhile.
# Targets: reconcile_all_s <= 60, heap_mib <= 256, single_change_s <= 1.
# Usage: bench/operator/run.sh
# Writes bench/results/operator-<date>.txt with the machine, the command and the load average.
# BENCH_OPERATOR_JAVA_OPTS adds JVM options (e.g. -XX:StartFlightRecording=filename=/tmp/op.jfr,settings=profile).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CP_FILE=operator/target/bench-classpath.txt
# -am: the sibling modules (api) come from this tree, not from whatever ~/.m2 last had installed.
./mvnw -B -q -pl operator -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$(pwd)/$CP_FILE"
CP="$ROOT/operator/target/test-classes:$ROOT/operator/target/classes:$(cat "$CP_FILE")"
mkdir -p bench/results
OUT="bench/results/operator-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# command: bench/operator/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  # Run from operator/, where the harness finds the CRDs (../crds).
  (cd operator && java -XX:+UseParallelGC -Xmx1g ${BENCH_OPERATOR_JAVA_OPTS:-} \
    -cp "$CP" dev.flotilla.operator.bench.OperatorScaleBench "$@")
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

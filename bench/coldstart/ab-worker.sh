#!/usr/bin/env bash
# Same-session A/B of the worker's own cold start on the medium model, without the rest of the
# system: two packaged workers (quarkus-app directories, e.g. copies built from two commits) are
# started in turn, each until its 'startup timing:' line, and their JVM start -> Quarkus started ->
# SERVING times and the loader's split (tokenizer, weights, engine context) are printed per run.
# The host is shared: interleaving the two is what makes them comparable.
# Usage: bench/coldstart/ab-worker.sh APP_A APP_B [runs=6]   (run bench/coldstart/run.sh once first:
# it generates the model into target/bench-models/medium)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
A="$(cd "$1" && pwd)"
B="$(cd "$2" && pwd)"
RUNS="${3:-6}"
export FLOTILLA_MODEL_SOURCE="file://$ROOT/target/bench-models/medium" FLOTILLA_MODEL_NAME=ab \
  QUARKUS_HTTP_HOST=127.0.0.9 QUARKUS_HTTP_PORT=18991 QUARKUS_GRPC_SERVER_HOST=127.0.0.9 QUARKUS_GRPC_SERVER_PORT=18992
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
echo "# A: $A"
echo "# B: $B"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
  for side in A B; do
    app=$A; [ $side = B ] && app=$B
    (cd "$app" && exec java -XX:+UseSerialGC -jar quarkus-run.jar) >"$LOG" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do grep -q "startup timing" "$LOG" && break; sleep 0.1; done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$side $(grep -o 'JVM to Quarkus started [0-9]* ms, model load [0-9]* ms' "$LOG") | loaded $(grep -o 'in [0-9]* ms ([^)]*)' "$LOG" | head -1)"
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

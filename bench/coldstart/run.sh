#!/usr/bin/env bash
# Cold-start benchmark: time from the first request to a scaled-to-zero model until its first
# token, in local mode (./flotilla local on its own ports and state directory, without Kafka) with
# the testkit's medium model (~200 M parameters, BF16), split into phases:
#   decision       request sent by the client -> the worker Deployment's replicas raised (API watch)
#   process_start  -> the worker JVM starts (its own start time, from the worker's startup timing line)
#   model_load     -> Quarkus up, model loaded and gRPC health SERVING (same line)
#   first_step     -> pod Ready, the gateway routes the held request, first token at the client
# Before each run the model is back at zero replicas (its own short scaleToZeroAfter and windows).
# Prints one line per run and, last, one JSON line of medians: coldstart_s, decision_s,
# process_start_s, model_load_s, first_step_s and their parts. Target: coldstart_s <= 3.
# Usage: bench/coldstart/run.sh [runs=5] [warm|cold=warm]
#   warm: the model file stays in the OS page cache (as on a node that served it recently);
#   cold: it is dropped from the page cache before each run, so the worker reads it from disk.
# Writes bench/results/coldstart-<date>.txt with the machine and the command. Run on an idle machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RUNS="${1:-5}"
CACHE="${2:-warm}"
API_PORT=26443
GATEWAY_GRPC=29000
GATEWAY_HTTP=28080
OPERATOR_GRPC=29200
OPERATOR_HTTP=28082
STATE="$ROOT/target/bench-coldstart"
MODEL="$ROOT/target/bench-models/medium" # generated once, gitignored

./mvnw -B -q -DskipTests package -pl operator,gateway,worker,sdk,local -am >/dev/null
CP="$ROOT/sdk/target/flotilla-sdk-cli.jar:$ROOT/local/target/classes:$(cat local/target/local-classpath.txt)"
java -Xmx512m -cp "$CP" bench/coldstart/ColdStartBench.java generate "$MODEL"

for port in $API_PORT $GATEWAY_GRPC $GATEWAY_HTTP $OPERATOR_GRPC $OPERATOR_HTTP; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken (a local system left from an earlier run?); stop it first" >&2
    exit 1
  fi
done
rm -rf "$STATE"
mkdir -p "$STATE" bench/results
OUT="bench/results/coldstart-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  # this group runs in a subshell (it is piped to tee): stop the local system when it ends
  cleanup() { [ -n "${LOCAL_PID:-}" ] && kill "$LOCAL_PID" 2>/dev/null && wait "$LOCAL_PID" 2>/dev/null || true; }
  trap cleanup EXIT
  echo "# command: bench/coldstart/run.sh $*"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)" \
       "$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)"
  echo "# model: testkit medium (BF16, $(du -m "$MODEL/model.safetensors" | cut -f1) MiB of weights); local mode without" \
       "Kafka; file cache: $CACHE; $RUNS runs, 8 tokens each, greedy"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the host is shared: compare only within one run)"
  java -Dflotilla.repo.root="$ROOT" -cp "local/target/classes:$(cat local/target/local-classpath.txt)" \
    dev.flotilla.local.LocalMode --api-port $API_PORT --grpc-port $GATEWAY_GRPC --http-port $GATEWAY_HTTP \
    --operator-grpc-port $OPERATOR_GRPC --operator-http-port $OPERATOR_HTTP --state-dir "$STATE" --no-kafka \
    >"$STATE/local.out" 2>&1 &
  LOCAL_PID=$!
  for _ in $(seq 1 300); do
    grep -q "Flotilla runs locally" "$STATE/local.out" 2>/dev/null && break
    kill -0 "$LOCAL_PID" 2>/dev/null || { echo "local mode exited; see $STATE/local.out"; exit 1; }
    sleep 0.5
  done
  java -Xmx256m -cp "$CP" bench/coldstart/ColdStartBench.java "$STATE/kubeconfig" "$STATE/logs" \
    "127.0.0.1:$GATEWAY_GRPC" "$MODEL" "$RUNS" "$CACHE"
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
echo "wrote $OUT" >&2

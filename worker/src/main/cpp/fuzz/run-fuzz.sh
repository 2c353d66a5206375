#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for N seconds, one at a
# time (the machine has 2 shared cores). Usage: run-fuzz.sh [seconds-per-target] [target...]
# Crashes land in $WORK/artifacts; the seed corpora in fuzz/corpus/ are copied, never modified.
set -euo pipefail
SECS="${1:-60}"
shift || true
TARGETS=("${@:-safetensors config adapter q4}")
read -r -a TARGETS <<< "${TARGETS[*]}"
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(dirname "$HERE")"
BUILD="${FUZZ_BUILD_DIR:-$SRC/../../../target/fuzz-build}"
WORK="${FUZZ_WORK_DIR:-$BUILD/work}"
command -v clang++ >/dev/null || { echo "clang++ not found (apt-get install clang)"; exit 2; }
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DFLOTILLA_FUZZ=ON -DFLOTILLA_SANITIZE=ON -DFLOTILLA_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")
mkdir -p "$WORK/artifacts"
status=0
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus-$t"
  mkdir -p "$corpus"
  cp -n "$HERE/corpus/$t/"* "$corpus/" 2>/dev/null || true
  echo "== fuzz_$t for ${SECS}s"
  # -jobs=1 runs the fuzzer in a child that logs to fuzz-<job>.log in the working directory
  if ! (cd "$WORK" && "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECS" -jobs=1 -workers=1 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t-" "$corpus" > "$WORK/fuzz_$t.log" 2>&1 && ! grep -q "ERROR: libFuzzer\|SUMMARY: .*Sanitizer" "$WORK/fuzz-0.log"); then
    echo "fuzz_$t FOUND A CRASH: see $WORK/fuzz_$t.log and $WORK/artifacts"
    status=1
  fi
  mv "$WORK/fuzz-0.log" "$WORK/fuzz_$t.child.log" 2>/dev/null || true
  grep -hE "stat::number_of_executed_units|Done [0-9]+ runs|cov:" "$WORK/fuzz_$t.child.log" 2>/dev/null | tail -2 || true
done
exit $status

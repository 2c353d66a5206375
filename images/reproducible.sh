#!/usr/bin/env bash
# Checks that the image build is reproducible: builds the images a second time, into a fresh
# directory with nothing cached but the .deb downloads (so every layer is unpacked, tarred and
# compressed again), and fails unless each archive is byte for byte the one in target/images/.
# Both builds use the same Quarkus output; see README.md for what a rebuild of that changes.
#
# Usage: images/reproducible.sh   (after ./flotilla images)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=images/lib.sh
source "$HERE/lib.sh"

main() {
  [ -f "$ROOT/target/images/images.txt" ] || die "target/images/images.txt is missing: run ./flotilla images first"
  AGAIN="$(mktemp -d "$ROOT/target/images-again.XXXXXX")"
  trap 'rm -rf "$AGAIN"' EXIT
  local again="$AGAIN"
  "$HERE/build.sh" --out "$again"
  local name reference digest other differ=0
  while read -r name reference digest; do
    other="$(awk -v n="$name" '$1 == n { print $3 }' "$again/images.txt")"
    if [ "$other" = "$digest" ] && cmp -s "$ROOT/target/images/$name" "$again/$name"; then
      echo "reproducible: $reference $digest" >&2
    else
      echo "NOT reproducible: $reference: $digest, then ${other:-nothing}" >&2
      differ=1
    fi
  done <"$ROOT/target/images/images.txt"
  [ "$differ" = 0 ] || die "a second build wrote different images"
}

main "$@"

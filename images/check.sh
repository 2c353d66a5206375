#!/usr/bin/env bash
# Checks the image archives that images/build.sh wrote, without a container runtime: unpacks each
# image's layers into a root filesystem and runs its configured entrypoint there, as its
# configured user, with its environment and working directory, on a read-only root where only
# the image's declared volumes are writable (as the chart runs the pods), under bwrap (Debian
# package bubblewrap) or, where bwrap is missing, chroot. Then every image must answer
# GET /q/health/live and report SERVING on its gRPC port's health service, and the worker must
# also be ready, which it is only once the native engine and the tokenizer have loaded the model.
#
# The operator and the gateway get the local mode's in-memory Kubernetes API server; the worker
# gets the testkit's tiny model, mounted read-only where a pvc:// model source is mounted.
#
# Usage: images/check.sh [--keep]   (--keep leaves the unpacked images and logs for a look)
set -euo pipefail
umask 022
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
# shellcheck source=images/lib.sh
source "$HERE/lib.sh"

COMPONENTS=(operator gateway worker)
# Where the operator mounts a pvc://CLAIM/PATH model source (ModelDeploymentModel.PVC_MOUNT_ROOT).
PVC_MOUNT_ROOT=/var/lib/flotilla/pvc
TIMEOUT_S=120
KEEP=0
RUNNER=""
WORK=""
FIXTURE_PID=""
declare -A PIDS=() HTTP_PORT=() GRPC_PORT=()

main() {
  if [ "${1:-}" = --keep ]; then
    KEEP=1
  fi
  require_tools tar gzip jq java curl setpriv
  RUNNER="$(pick_runner)"
  local component
  for component in "${COMPONENTS[@]}"; do
    [ -f "$ROOT/$(archive_of "$component")" ] || die "$(archive_of "$component") is missing: run ./flotilla images"
  done
  require_local_mode

  SECONDS=0
  # Under /tmp rather than target/: the images' user must be able to reach the root filesystems
  # and the model, and a checkout may sit under a home directory it cannot enter.
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-image-check.XXXXXX")"
  chmod 755 "$WORK"
  trap cleanup EXIT
  start_fixture
  for component in "${COMPONENTS[@]}"; do
    unpack "$component"
  done
  say "unpacked the images"
  wait_for_fixture
  say "API server and model ready"
  assign_ports
  for component in "${COMPONENTS[@]}"; do
    start "$component"
  done
  for component in "${COMPONENTS[@]}"; do
    wait_healthy "$component" live
  done
  wait_healthy worker ready
  for component in "${COMPONENTS[@]}"; do
    wait_grpc_serving "$component"
  done
  say "operator, gateway and worker answered under $RUNNER"
}

# bwrap where it is installed and works (it needs user namespaces); chroot otherwise, or when
# FLOTILLA_IMAGE_CHECK_RUNNER=chroot.
pick_runner() {
  local as_user=()
  [ "$(id -u)" != 0 ] || as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  if [ "${FLOTILLA_IMAGE_CHECK_RUNNER:-}" != chroot ] && command -v bwrap >/dev/null 2>&1 \
    && "${as_user[@]}" bwrap --unshare-user --ro-bind / / true 2>/dev/null; then
    echo bwrap
  elif [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; then
    echo chroot
  else
    die "neither bwrap (Debian package bubblewrap) nor, as root, chroot and unshare can run the images"
  fi
}

# The fixture runs on the local mode's class path; builds it when missing.
require_local_mode() {
  if [ ! -f "$ROOT/local/target/local-classpath.txt" ] || [ ! -d "$ROOT/local/target/classes" ]; then
    echo "image check: building local/ (the in-memory API server and the tiny model)" >&2
    (cd "$ROOT" && ./mvnw -B -q -DskipTests package -pl local -am >&2)
  fi
}

start_fixture() {
  mkdir -p "$WORK/fixture"
  java -cp "$ROOT/local/target/classes:$(cat "$ROOT/local/target/local-classpath.txt")" \
    "$HERE/CheckFixture.java" "$ROOT" "$WORK/fixture" $((2 * ${#COMPONENTS[@]})) \
    >"$WORK/fixture.log" 2>&1 &
  FIXTURE_PID=$!
}

wait_for_fixture() {
  local deadline=$((SECONDS + TIMEOUT_S))
  until [ -f "$WORK/fixture/ready" ]; do
    kill -0 "$FIXTURE_PID" 2>/dev/null || fail "the API server and model fixture exited" "$WORK/fixture.log"
    [ $SECONDS -lt $deadline ] || fail "the fixture was not ready within $TIMEOUT_S s" "$WORK/fixture.log"
    sleep 0.5
  done
  chmod -R a+rX "$WORK/fixture/models"
}

assign_ports() {
  local ports component i=0
  mapfile -t ports <"$WORK/fixture/ports"
  for component in "${COMPONENTS[@]}"; do
    HTTP_PORT[$component]="${ports[i]}"
    GRPC_PORT[$component]="${ports[i + 1]}"
    i=$((i + 2))
  done
}

# --- images ----------------------------------------------------------------------------------

# Unpacks an archive's layers, in the manifest's order, into $WORK/<component>/rootfs and its
# configuration into $WORK/<component>/config.json. A layer is unpacked once (the images share
# their base) and linked into each root filesystem that has it.
unpack() {
  local component="$1" dir="$WORK/$1"
  mkdir -p "$dir/oci" "$dir/rootfs"
  tar -xf "$ROOT/$(archive_of "$component")" -C "$dir/oci"
  local manifest config layer
  manifest="$dir/oci/blobs/sha256/$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$dir/oci/index.json")"
  config="$dir/oci/blobs/sha256/$(jq -r '.config.digest | ltrimstr("sha256:")' "$manifest")"
  cp "$config" "$dir/config.json"
  for layer in $(jq -r '.layers[].digest | ltrimstr("sha256:")' "$manifest"); do
    if [ ! -d "$WORK/layers/$layer" ]; then
      mkdir -p "$WORK/layers/$layer"
      tar -xzf "$dir/oci/blobs/sha256/$layer" -C "$WORK/layers/$layer"
      # The build writes no deletions; an image with any would need a real runtime to unpack.
      [ -z "$(find "$WORK/layers/$layer" -name '.wh.*' -print -quit)" ] \
        || die "$component: layer $layer deletes files (whiteouts); this check does not apply them"
    fi
    # A file of an upper layer replaces the one below, as in a runtime's overlay.
    cp -al --remove-destination "$WORK/layers/$layer/." "$dir/rootfs/"
  done
  rm -rf "$dir/oci"
  # Mount points a runtime would create for the volumes it mounts.
  local path
  for path in $(jq -r '.config.Volumes // {} | keys[]' "$dir/config.json") /proc /dev; do
    mkdir -p "$dir/rootfs$path"
  done
  [ "$component" != worker ] || mkdir -p "$dir/rootfs$PVC_MOUNT_ROOT/models"
}

# What the chart and the operator give each pod beside the image's own environment: ports (free
# ones, since this machine may run other Flotillas), the API server, and the worker's model.
extra_env() {
  local component="$1"
  echo "HOSTNAME=$component-image-check"
  echo "QUARKUS_HTTP_PORT=${HTTP_PORT[$component]}"
  echo "QUARKUS_GRPC_SERVER_PORT=${GRPC_PORT[$component]}"
  # The internal links' mutual TLS needs the certificates the operator issues into Secrets, which
  # only a cluster (or the local mode) mounts; here the images run without them, so the links are
  # plaintext and the check asks plain gRPC health. The whole-system suite covers mutual TLS.
  case "$component" in
    operator) echo "FLOTILLA_OPERATOR_MTLS_ENABLED=false" ;;
    gateway) echo "FLOTILLA_GATEWAY_MTLS_ENABLED=false" ;;
    worker) echo "FLOTILLA_MTLS_ENABLED=false" ;;
  esac
  case "$component" in
    operator | gateway)
      echo "POD_NAMESPACE=flotilla-system"
      echo "QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL=$(cat "$WORK/fixture/api-url")"
      echo "QUARKUS_KUBERNETES_CLIENT_TRUST_CERTS=true"
      echo "QUARKUS_KUBERNETES_CLIENT_NAMESPACE=default"
      ;;
  esac
  case "$component" in
    gateway)
      echo "FLOTILLA_GATEWAY_AUTOSCALER_ADDRESS=127.0.0.1:${GRPC_PORT[operator]}"
      # Its metrics port (9090), which this check does not read: any free one, so that it does
      # not collide with another Flotilla on this machine.
      echo "QUARKUS_MANAGEMENT_PORT=0"
      ;;
    worker)
      # The pvc:// source and claims root as the operator hands them to the worker.
      echo "FLOTILLA_MODEL_SOURCE=pvc://models/tiny-llama"
      echo "FLOTILLA_PVC_ROOT=$PVC_MOUNT_ROOT"
      echo "FLOTILLA_MODEL_NAME=default/tiny-llama"
      echo "FLOTILLA_THREADS=1"
      ;;
  esac
}

start() {
  local component="$1" dir="$WORK/$1"
  local config="$dir/config.json"
  local user uid gid workdir
  user="$(jq -r '.config.User // ""' "$config")"
  [[ "$user" =~ ^[0-9]+:[0-9]+$ ]] || die "$component: image user '$user' is not numeric uid:gid"
  [ "${user%%:*}" != 0 ] || die "$component: the image runs as root"
  uid="${user%%:*}" gid="${user##*:}"
  workdir="$(jq -r '.config.WorkingDir // "/"' "$config")"
  local env=() command=() volumes=() line
  while IFS= read -r line; do env+=("$line"); done < <(jq -r '.config.Env // [] | .[]' "$config")
  while IFS= read -r line; do env+=("$line"); done < <(extra_env "$component")
  while IFS= read -r line; do command+=("$line"); done < <(jq -r '(.config.Entrypoint // []) + (.config.Cmd // []) | .[]' "$config")
  while IFS= read -r line; do volumes+=("$line"); done < <(jq -r '.config.Volumes // {} | keys[]' "$config")
  local model=()
  [ "$component" != worker ] || model=("$WORK/fixture/models" "$PVC_MOUNT_ROOT/models")

  set -m # a process group of its own, for cleanup
  "run_$RUNNER" "$dir/rootfs" "$uid" "$gid" "$workdir" env "${env[@]}" -- \
    volumes "${volumes[@]}" -- model "${model[@]}" -- "${command[@]}" >"$dir.log" 2>&1 &
  PIDS[$component]=$!
  set +m
}

# run_bwrap ROOTFS UID GID WORKDIR env K=V... -- volumes PATH... -- model [SRC DEST] -- COMMAND...
# The process runs as UID:GID outside the sandbox too (setpriv), in a user namespace that maps
# only that id: it owns nothing in the image, as in a pod.
run_bwrap() {
  local rootfs="$1" uid="$2" gid="$3" workdir="$4"
  shift 5
  local args=(--unshare-user --uid "$uid" --gid "$gid" --unshare-pid --unshare-ipc --unshare-uts
    --die-with-parent --new-session --ro-bind "$rootfs" / --proc /proc --dev /dev --clearenv)
  while [ "$1" != -- ]; do args+=(--setenv "${1%%=*}" "${1#*=}"); shift; done
  shift 2
  while [ "$1" != -- ]; do args+=(--tmpfs "$1"); shift; done
  shift 2
  while [ "$1" != -- ]; do args+=(--ro-bind "$1" "$2"); shift 2; done
  shift
  args+=(--chdir "$workdir")
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- bwrap "${args[@]}" -- "$@"
  fi
  exec bwrap "${args[@]}" -- "$@"
}

# The same with chroot, as root: a private mount namespace holds a read-only bind of the root
# filesystem and tmpfs volumes; chroot then drops to UID:GID. chroot cannot set the working
# directory inside the image, so the process starts in /.
run_chroot() {
  local rootfs="$1" uid="$2" gid="$3"
  shift 5
  local env_file="$rootfs.env" volumes=() binds=()
  : >"$env_file"
  while [ "$1" != -- ]; do printf '%s\0' "$1" >>"$env_file"; shift; done
  shift 2
  while [ "$1" != -- ]; do volumes+=("$1"); shift; done
  shift 2
  while [ "$1" != -- ]; do binds+=("$1:$2"); shift 2; done
  shift
  # shellcheck disable=SC2016 # the script expands its own arguments
  exec unshare --mount --pid --fork --kill-child -- bash -c '
    set -euo pipefail
    rootfs="$1" user="$2" env_file="$3" volumes="$4" binds="$5"
    shift 5
    mount --make-rprivate /
    mount --bind "$rootfs" "$rootfs"
    mount -o remount,bind,ro "$rootfs"
    mount -t proc proc "$rootfs/proc"
    mount --rbind /dev "$rootfs/dev"
    for volume in $volumes; do mount -t tmpfs -o mode=1777 tmpfs "$rootfs$volume"; done
    for bind in $binds; do
      mount --bind "${bind%%:*}" "$rootfs${bind#*:}"
      mount -o remount,bind,ro "$rootfs${bind#*:}"
    done
    mapfile -d "" env <"$env_file"
    exec env -i "${env[@]}" "$(command -v chroot)" --userspec="$user" "$rootfs" "$@"
  ' run_chroot "$rootfs" "$uid:$gid" "$env_file" "${volumes[*]}" "${binds[*]}" "$@"
}

# Waits until GET /q/health/<which> answers 200 on the component's HTTP port.
wait_healthy() {
  local component="$1" which="$2" started=$SECONDS
  local url="http://127.0.0.1:${HTTP_PORT[$component]}/q/health/$which"
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "${PIDS[$component]}" 2>/dev/null || fail "$component exited before answering $url" "$WORK/$component.log"
    [ $((SECONDS - started)) -lt $TIMEOUT_S ] || fail "$component did not answer $url within $TIMEOUT_S s" "$WORK/$component.log"
    sleep 0.5
  done
  say "$component answers /q/health/$which"
}

# Waits until the component's gRPC port answers grpc.health.v1.Health/Check (service "") with
# SERVING. curl speaks the protocol well enough: an empty request is the 5-byte frame header of
# an empty message, and the answer {status: SERVING} is the frame 00 00000002 0801.
wait_grpc_serving() {
  local component="$1" started=$SECONDS answer=""
  local url="http://127.0.0.1:${GRPC_PORT[$component]}/grpc.health.v1.Health/Check"
  until [ "$answer" = 00000000020801 ]; do
    kill -0 "${PIDS[$component]}" 2>/dev/null || fail "$component exited before its gRPC health was SERVING" "$WORK/$component.log"
    [ $((SECONDS - started)) -lt $TIMEOUT_S ] || fail "$component's gRPC health ($url) was not SERVING within $TIMEOUT_S s (last answer: '$answer')" "$WORK/$component.log"
    [ -z "$answer" ] || sleep 0.5
    answer="$(printf '\0\0\0\0\0' | curl -sS --http2-prior-knowledge --max-time 2 -X POST \
      -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- "$url" 2>/dev/null \
      | od -An -tx1 | tr -d ' \n')" || answer="none"
    [ -n "$answer" ] || answer="empty"
  done
  say "$component's gRPC health is SERVING"
}

# A progress line with the seconds since the check started.
say() {
  echo "image check: [$SECONDS s] $*" >&2
}

fail() {
  echo "image check: $1; the last lines of ${2#"$WORK"/}:" >&2
  tail -n 60 "$2" >&2 || true
  exit 1
}

cleanup() {
  # Each container runs in its own process group (set -m in start); SIGKILL to the group ends
  # everything in it: the chroot runner's process drops privileges, which clears the
  # kill-on-parent-death that unshare gives it, and bwrap's sandbox dies with bwrap.
  local pid
  for pid in "${PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  [ -z "$FIXTURE_PID" ] || kill "$FIXTURE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then
    echo "image check: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}

main "$@"

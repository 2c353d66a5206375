#!/usr/bin/env bash
# Builds the operator, gateway and worker images as OCI image archives under target/images/,
# without a container engine or a registry: the base comes from pinned Debian packages
# (images/base.lock, fetched with apt-get and cached outside target/), the application from the
# Quarkus builds, and the OCI layout (tar layers, JSON config, manifest and index) is written
# here. The same commit gives the same bytes: every file has the same fixed time and owner,
# entries are sorted, and the JSON has sorted keys and no build time.
#
# Usage: images/build.sh [--no-cache] [--out DIR]   (./flotilla images runs it)
#        images/build.sh --update-lock              (pin the mirror's current package versions)
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
LOCK="$HERE/base.lock"
OUT="$ROOT/target/images"
# Downloads survive `mvn clean`, so a second build on this machine needs no network.
DEB_CACHE="${FLOTILLA_DEB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla/debs}"
# Every file in every layer has this mtime (1970-01-01T00:00:01Z, as Jib does): a layer's
# digest then depends on its content only, so the base and dependency layers keep their digests
# from one commit to the next and registries and nodes reuse them.
LAYER_EPOCH=1
JAVA_HOME_IN_IMAGE=/usr/lib/jvm/java-17-openjdk-amd64
USE_CACHE=1

# shellcheck source=images/lib.sh
source "$HERE/lib.sh"
# The user (and group) the images run as; the chart's pods run as the same.
APP_UID="$(image_property uid)"

main() {
  local update_lock=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-cache) USE_CACHE=0 ;;
      --out)
        OUT="$(absolute "$2")"
        shift
        ;;
      --update-lock) update_lock=1 ;;
      *) die "unknown option '$1' (usage: images/build.sh [--no-cache] [--out DIR] | --update-lock)" ;;
    esac
    shift
  done
  require_tools apt-get dpkg dpkg-deb tar gzip sha256sum jq readelf unzip java git
  [ "$(dpkg --print-architecture)" = amd64 ] \
    || die "the images are linux/amd64 (the native engine is x86-64 only); build them on amd64"
  if [ "$update_lock" = 1 ]; then
    update_lock
    return
  fi
  require_quarkus_apps
  local started=$SECONDS
  WORK="$OUT/work"
  CACHE="$OUT/cache"
  rm -rf "$WORK" "$OUT"/*.oci.tar "$OUT/images.txt"
  mkdir -p "$WORK" "$CACHE/blobs/sha256" "$CACHE/layers" "$DEB_CACHE"
  [ "$USE_CACHE" = 1 ] || rm -rf "${CACHE:?}"/blobs/sha256/* "${CACHE:?}"/layers/* "${CACHE:?}"/base-*

  TAG="$(app_version)"
  REVISION="$(git -C "$ROOT" rev-parse HEAD)"
  git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || REVISION="$REVISION-dirty"
  # The image's creation time is the last commit's, so a rebuild of one commit is identical.
  CREATED="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}" +%Y-%m-%dT%H:%M:%SZ)"

  base_layer
  local base="$LAYER"
  local component
  for component in operator gateway worker; do
    image "$component" "$base"
  done
  rm -rf "$WORK"
  echo "images: done in $((SECONDS - started)) s; references and digests in ${OUT#"$ROOT"/}/images.txt" >&2
}

# --- Debian packages -------------------------------------------------------------------------

# Rewrites base.lock with the versions and checksums apt offers now, for the packages it names.
update_lock() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
  else
    echo "images: using apt's lists as they are (run apt-get update as root to refresh them)" >&2
  fi
  local tmp="$LOCK.tmp" name version sha
  sed -n '/^#/p' "$LOCK" >"$tmp"
  for name in $(lock_entries | cut -d' ' -f1); do
    version="$(apt-cache show --no-all-versions "$name" | sed -n 's/^Version: //p' | head -1)"
    sha="$(apt-cache show --no-all-versions "$name" | sed -n 's/^SHA256: //p' | head -1)"
    if [ -z "$version" ] || [ -z "$sha" ]; then
      die "apt knows no package '$name'"
    fi
    echo "$name $version $sha" >>"$tmp"
  done
  mv "$tmp" "$LOCK"
  echo "images: pinned $(lock_entries | wc -l) packages in ${LOCK#"$ROOT"/}; commit it" >&2
}

# The lock's entries, "name version sha256" per line.
lock_entries() {
  grep -v '^#' "$LOCK" | grep -v '^[[:space:]]*$'
}

# Sets DEB to the path of a pinned package in the download cache, fetching it with apt-get first
# if it is not there. apt-get serves only versions in its lists, so on a miss it refreshes them
# once (as root) before giving up.
fetch_deb() {
  local name="$1" version="$2" sha="$3"
  DEB="$DEB_CACHE/${name}_${version}_${sha:0:16}.deb"
  if [ -f "$DEB" ] && [ "$(sha256 "$DEB")" = "$sha" ]; then
    return
  fi
  local tmp
  tmp="$(mktemp -d "$DEB_CACHE/.download.XXXXXX")"
  if ! download_deb "$tmp" "$name=$version"; then
    if [ "$(id -u)" = 0 ] && [ -z "${APT_UPDATED:-}" ]; then
      echo "images: $name=$version is not in apt's lists; running apt-get update" >&2
      apt-get update -qq >&2 && APT_UPDATED=1
    fi
    if ! download_deb "$tmp" "$name=$version"; then
      # A security update on the mirror must not stop every build of an older commit: unless
      # FLOTILLA_IMAGES_LOCKED=1 asks for exactly the pinned base, the mirror's current version
      # is taken, and said loudly (the images then differ from the lock's).
      if [ "${FLOTILLA_IMAGES_LOCKED:-0}" = 1 ] || ! download_deb "$tmp" "$name"; then
        rm -rf "$tmp"
        die "cannot download Debian package $name=$version (pinned in ${LOCK#"$ROOT"/}): the" \
          "mirror may have replaced it with a newer version (security updates do), or it is" \
          "unreachable. Run ./flotilla images --update-lock to pin what the mirror has now," \
          "check the images, and commit base.lock."
      fi
      echo "images: WARNING: $name=$version is gone from the mirror; using $(basename "$tmp"/*.deb)" \
        "instead of the pinned package. Run ./flotilla images --update-lock and commit base.lock." >&2
      DEB="$tmp/$(basename "$tmp"/*.deb)"
      return
    fi
  fi
  local got
  got="$(sha256 "$tmp"/*.deb)"
  [ "$got" = "$sha" ] || {
    rm -rf "$tmp"
    die "$name=$version has sha256 $got, but ${LOCK#"$ROOT"/} pins $sha"
  }
  mv "$tmp"/*.deb "$DEB"
  rmdir "$tmp"
}

download_deb() {
  (cd "$1" && apt-get download -qq -o APT::Sandbox::User=root "$2" >/dev/null 2>&1)
}

# --- the base layer --------------------------------------------------------------------------

# The base layer: a Java 17 runtime and the C libraries it needs, nothing else. Built once per
# content of base.lock and the scripts that make it, then taken from the cache.
base_layer() {
  local key
  key="$( (cat "$LOCK" "$HERE/lib.sh" "$HERE/base.sh" "$HERE/TrustStore.java"; echo "$APP_UID") \
    | sha256sum | cut -c1-16)"
  local record="$CACHE/base-$key"
  BASE_LIBRARIES="$record.libraries"
  if [ "$USE_CACHE" = 1 ] && [ -f "$record" ] && [ -f "$BASE_LIBRARIES" ] \
    && [ -f "$CACHE/blobs/sha256/$(cut -d' ' -f2 "$record" | sed 's/^sha256://')" ]; then
    LAYER="$(cat "$record")"
    echo "images: base layer from the cache" >&2
    return
  fi
  echo "images: assembling the base from $(lock_entries | wc -l) Debian packages" >&2
  local rootfs="$WORK/base" name version sha
  mkdir -p "$rootfs"
  declare -A debs=() # read by assemble_base through its name
  # shellcheck disable=SC2034
  while read -r name version sha; do
    fetch_deb "$name" "$version" "$sha"
    debs[$name]="$DEB"
  done < <(lock_entries)
  # shellcheck source=images/base.sh
  source "$HERE/base.sh"
  assemble_base "$rootfs" debs
  library_names "$rootfs" >"$BASE_LIBRARIES"
  check_libraries "$BASE_LIBRARIES" "$rootfs"
  add_layer "$rootfs"
  echo "$LAYER" >"$record"
}

# --- the application layers ------------------------------------------------------------------

# Writes target/images/<name>-<tag>.oci.tar for a component: the base, its third-party
# libraries (change with the dependencies), and the project's own code (changes every commit).
image() {
  local component="$1" base="$2"
  local app="$ROOT/$component/target/quarkus-app"
  local deps="$WORK/$component-deps" own="$WORK/$component-app"
  mkdir -p "$deps/app/lib/main" "$own/app/lib/main"
  # Quarkus's fast-jar layout: lib/boot and lib/main hold the dependencies, named
  # group.artifact-version.jar; the project's own modules are those of group dev.flotilla.
  cp -r "$app/lib/boot" "$deps/app/lib/"
  cp "$app/lib/main"/*.jar "$deps/app/lib/main/"
  mv "$deps/app/lib/main"/dev.flotilla.*.jar "$own/app/lib/main/"
  cp -r "$app/app" "$app/quarkus" "$app/quarkus-run.jar" "$app/quarkus-app-dependencies.txt" "$own/app/"
  if [ "$component" = worker ]; then
    worker_natives "$deps" "$own"
  fi
  normalize_modes "$deps" "$own"
  if [ "$component" = gateway ]; then
    # The usage spool's volume (FLOTILLA_GATEWAY_USAGE_SPOOL_DIR); open to any user, like /tmp.
    install -d -m 1777 "$own/var/lib/flotilla/spool"
  fi

  add_layer "$deps"
  local deps_layer="$LAYER"
  add_layer "$own"
  local own_layer="$LAYER"
  write_archive "$component" "$base" "$deps_layer" "$own_layer"
}

# The worker's two native libraries go into the image as files, so nothing has to unpack them to
# a writable, executable place at start (the root filesystem is read-only; /tmp may be noexec):
# the engine from the worker jar (loaded from -Dflotilla.engine.library), DJL's tokenizers from
# its jar, where DJL looks for it first ($ENGINE_CACHE_DIR/tokenizers/<version>-<classifier>).
worker_natives() {
  local deps="$1" own="$2"
  local jar
  jar="$(find "$own/app/app" -name 'flotilla-worker-*.jar' | head -1)"
  mkdir -p "$own/app/native"
  unzip -p "$jar" native/linux-x86_64/libflotilla_engine.so >"$own/app/native/libflotilla_engine.so"
  [ -s "$own/app/native/libflotilla_engine.so" ] || die "$jar holds no native/linux-x86_64/libflotilla_engine.so"

  local tokenizers version
  tokenizers="$(find "$deps/app/lib/main" -name 'ai.djl.huggingface.tokenizers-*.jar' | head -1)"
  [ -n "$tokenizers" ] || die "the worker has no ai.djl.huggingface.tokenizers jar"
  version="$(unzip -p "$tokenizers" native/lib/tokenizers.properties | sed -n 's/^version=//p' | tr -d '\r')"
  [ -n "$version" ] || die "$tokenizers has no version in native/lib/tokenizers.properties"
  local dir="$deps/app/djl-engines/tokenizers/$version-cpu-linux-x86_64"
  mkdir -p "$dir"
  unzip -p "$tokenizers" native/lib/linux-x86_64/cpu/libtokenizers.so >"$dir/libtokenizers.so"
  [ -s "$dir/libtokenizers.so" ] || die "$tokenizers holds no native/lib/linux-x86_64/cpu/libtokenizers.so"
  check_libraries "$BASE_LIBRARIES" "$own/app/native" "$dir"
}

# Files as the build left them have whatever mode its umask gave; the image's do not: 755
# directories and libraries, 644 other files.
normalize_modes() {
  local dir
  for dir in "$@"; do
    find "$dir" -type d -exec chmod 755 {} +
    find "$dir" -type f ! -name '*.so' -exec chmod 644 {} +
    find "$dir" -type f -name '*.so' -exec chmod 755 {} +
  done
}

# --- OCI layout ------------------------------------------------------------------------------

# The image configuration of a component: user, entrypoint, environment, ports, volumes.
image_config() {
  local component="$1" layers="$2"
  local heap ports volumes env extra_flags=()
  env="$(jq -n -c --arg jh "$JAVA_HOME_IN_IMAGE" '[
    "PATH=\($jh)/bin:/usr/local/bin:/usr/bin:/bin",
    "JAVA_HOME=\($jh)",
    "LANG=C.UTF-8",
    "HOME=/tmp"]')"
  case "$component" in
    operator)
      heap=50 ports='["8082/tcp","9200/tcp"]' volumes='["/tmp"]' ;;
    gateway)
      heap=50 ports='["8080/tcp","9000/tcp","9090/tcp"]' volumes='["/tmp","/var/lib/flotilla/spool"]'
      env="$(jq -c '. + ["FLOTILLA_GATEWAY_USAGE_SPOOL_DIR=/var/lib/flotilla/spool"]' <<<"$env")" ;;
    worker)
      # Weights and the KV cache live outside the Java heap, in the engine's memory.
      heap=25 ports='["8081/tcp","9100/tcp"]' volumes='["/tmp"]'
      env="$(jq -c '. + ["DJL_CACHE_DIR=/tmp/djl", "ENGINE_CACHE_DIR=/app/djl-engines"]' <<<"$env")"
      extra_flags=(-Dflotilla.engine.library=/app/native/libflotilla_engine.so) ;;
  esac
  local entrypoint
  # The heap is a share of the container's memory limit (the JVM reads the cgroup), not of the
  # node's; an out-of-memory error ends the process so Kubernetes restarts it rather than leaving
  # it half-working. More flags: JDK_JAVA_OPTIONS.
  entrypoint="$(jq -n -c --arg java "$JAVA_HOME_IN_IMAGE/bin/java" --arg heap "$heap" \
    '$ARGS.positional as $extra
     | [$java, "-XX:MaxRAMPercentage=\($heap)", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager"]
       + $extra + ["-jar", "/app/quarkus-run.jar"]' --args -- "${extra_flags[@]}")"
  jq -n -c -S \
    --arg created "$CREATED" --arg user "$APP_UID:$APP_UID" --arg component "$component" \
    --arg tag "$TAG" --arg revision "$REVISION" \
    --argjson env "$env" --argjson entrypoint "$entrypoint" \
    --argjson ports "$ports" --argjson volumes "$volumes" --argjson layers "$layers" \
    '{
      architecture: "amd64", os: "linux", created: $created,
      config: {
        User: $user, WorkingDir: "/app", Env: $env, Entrypoint: $entrypoint,
        ExposedPorts: ($ports | map({key: ., value: {}}) | from_entries),
        Volumes: ($volumes | map({key: ., value: {}}) | from_entries),
        Labels: {
          "org.opencontainers.image.title": "flotilla-\($component)",
          "org.opencontainers.image.version": $tag,
          "org.opencontainers.image.revision": $revision,
          "org.opencontainers.image.licenses": "Apache-2.0"
        }
      },
      rootfs: {type: "layers", diff_ids: ($layers | map(.diff_id))},
      history: ($layers | map({created: $created, created_by: .created_by}))
    }'
}

# Writes the OCI archive of a component from its three layers ("diff_id digest size" each).
write_archive() {
  local component="$1" base="$2" deps="$3" own="$4"
  local repository reference name
  repository="$(image_property "$component")"
  reference="$(image_property registry)/$repository:$TAG"
  name="$(basename "$repository")-$TAG.oci.tar"
  local layers
  layers="$(jq -n -c \
    --arg base "$base" --arg deps "$deps" --arg own "$own" \
    --arg base_by "base: Java 17 runtime from Debian ($(lock_versions))" \
    --arg deps_by "$component: third-party libraries" \
    --arg own_by "$component: Flotilla $TAG" \
    '[[$base, $base_by], [$deps, $deps_by], [$own, $own_by]]
     | map((.[0] | split(" ")) as $l
           | {diff_id: $l[0], digest: $l[1], size: ($l[2] | tonumber), created_by: .[1]})')"

  local layout="$WORK/layout-$component"
  mkdir -p "$layout/blobs/sha256"
  local digest
  for digest in $(jq -r '.[].digest' <<<"$layers"); do
    ln "$CACHE/blobs/sha256/${digest#sha256:}" "$layout/blobs/sha256/" 2>/dev/null \
      || cp "$CACHE/blobs/sha256/${digest#sha256:}" "$layout/blobs/sha256/"
  done
  local config manifest
  config="$(put_blob "$layout" "$(image_config "$component" "$layers")")"
  manifest="$(put_blob "$layout" "$(jq -n -c -S --argjson config "$config" --argjson layers "$layers" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: ($config + {mediaType: "application/vnd.oci.image.config.v1+json"}),
    layers: ($layers | map({mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
                            digest, size}))
  }')")"
  # The reference goes in both the OCI annotation (skopeo, podman) and containerd's (ctr import).
  jq -n -c -S --argjson manifest "$manifest" --arg reference "$reference" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [$manifest + {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      platform: {architecture: "amd64", os: "linux"},
      annotations: {"org.opencontainers.image.ref.name": $reference,
                    "io.containerd.image.name": $reference}
    }]
  }' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  find "$layout" -type f -exec chmod 644 {} +
  deterministic_tar "$layout" "$OUT/$name.tmp"
  mv "$OUT/$name.tmp" "$OUT/$name"
  echo "$name $reference $(jq -r .digest <<<"$manifest")" >>"$OUT/images.txt"
  report_image "$name" "$reference" "$layers"
}

# Stores JSON as a blob of the layout; prints its descriptor {digest, size}.
put_blob() {
  local layout="$1" json="$2" tmp digest
  tmp="$layout/blob.tmp"
  printf '%s' "$json" >"$tmp"
  digest="$(sha256 "$tmp")"
  mv "$tmp" "$layout/blobs/sha256/$digest"
  jq -n -c --arg digest "sha256:$digest" --argjson size "$(stat -c %s "$layout/blobs/sha256/$digest")" \
    '{digest: $digest, size: $size}'
}

# Packs a directory as a layer into the blob cache; sets LAYER to "diff_id digest size".
# Compressing is the slow part, so a layer whose uncompressed content (diff_id) was compressed
# before is taken from the cache.
add_layer() {
  local dir="$1" tar="$WORK/layer.tar"
  deterministic_tar "$dir" "$tar"
  local diff_id
  diff_id="$(sha256 "$tar")"
  local record="$CACHE/layers/$diff_id"
  if [ "$USE_CACHE" = 1 ] && [ -f "$record" ] && [ -f "$CACHE/blobs/sha256/$(cut -d' ' -f1 "$record")" ]; then
    rm -f "$tar"
  else
    gzip -n -6 -c "$tar" >"$tar.gz"
    rm -f "$tar"
    local digest
    digest="$(sha256 "$tar.gz")"
    mv "$tar.gz" "$CACHE/blobs/sha256/$digest"
    echo "$digest $(stat -c %s "$CACHE/blobs/sha256/$digest")" >"$record"
  fi
  local digest size
  read -r digest size <"$record"
  LAYER="sha256:$diff_id sha256:$digest $size"
}

# "name version" of every pinned package, for the base layer's history.
lock_versions() {
  lock_entries | cut -d' ' -f1,2 | paste -sd, - | sed 's/,/, /g'
}

report_image() {
  local name="$1" reference="$2" layers="$3"
  echo "images: $reference -> ${OUT#"$ROOT"/}/$name ($(mib "$(stat -c %s "$OUT/$name")") MiB;" \
    "layers $(jq -r '[.[].size] | map((. / 1048576 * 10 | round) / 10 | tostring) | join(" + ")' <<<"$layers") MiB)" >&2
}

main "$@"

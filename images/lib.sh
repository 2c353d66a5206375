# Functions the image build (build.sh) and the image check (check.sh) share. Sourced; expects
# ROOT (the repository) and, for deterministic_tar, LAYER_EPOCH.

die() {
  echo "images: $*" >&2
  exit 1
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (Debian packages; .ci/run installs them)"
}

absolute() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

sha256() {
  sha256sum "$1" | cut -d' ' -f1
}

mib() {
  awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

# The images' tag: the chart's appVersion.
app_version() {
  local version
  version="$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' \
    "$ROOT/charts/flotilla/Chart.yaml")"
  [ -n "$version" ] || die "charts/flotilla/Chart.yaml has no appVersion"
  echo "$version"
}

# A value of images/images.properties: registry, operator, gateway or worker.
image_property() {
  local value
  value="$(sed -n "s/^$1=//p" "$ROOT/images/images.properties")"
  [ -n "$value" ] || die "images/images.properties has no '$1'"
  echo "$value"
}

# The archive the build writes for a component, relative to the repository.
archive_of() {
  echo "target/images/$(basename "$(image_property "$1")")-$(app_version).oci.tar"
}

# The Quarkus builds the images are made of; builds them when one is missing.
require_quarkus_apps() {
  local component missing=()
  for component in operator gateway worker; do
    [ -f "$ROOT/$component/target/quarkus-app/quarkus-run.jar" ] || missing+=("$component")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "images: building ${missing[*]}" >&2
    (cd "$ROOT" && ./mvnw -B -q -DskipTests package -pl "$(IFS=,; echo "${missing[*]}")" -am >&2)
  fi
  local newer
  for component in operator gateway worker; do
    newer="$(find "$ROOT/$component/src/main" -type f -newer "$ROOT/$component/target/quarkus-app/quarkus-run.jar" -print -quit)"
    [ -z "$newer" ] || echo "images: warning: $component/target/quarkus-app is older than" \
      "${newer#"$ROOT"/}; rebuild with ./mvnw -B -DskipTests package -pl operator,gateway,worker -am" >&2
  done
}

# Tars a directory's content with nothing of the machine or the moment in it: entries sorted by
# name, without "./", owned by 0:0, all with mtime LAYER_EPOCH, no atime/ctime (and no process
# id in PAX header names).
deterministic_tar() {
  local dir="$1" out="$2"
  (cd "$dir" && find . -mindepth 1 -printf '%P\0' | sort -z) \
    | tar --create --file="$out" --directory="$dir" --format=posix \
      --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
      --mtime="@$LAYER_EPOCH" --owner=0 --group=0 --numeric-owner \
      --no-recursion --null --verbatim-files-from --files-from=-
}

# Lists the shared libraries a root filesystem offers: the names in the C library's and the
# JVM's library directories, one per line.
library_names() {
  local rootfs="$1" dir
  for dir in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu \
    usr/lib/jvm/java-17-openjdk-amd64/lib usr/lib/jvm/java-17-openjdk-amd64/lib/server; do
    [ ! -d "$rootfs/$dir" ] || find "$rootfs/$dir" -maxdepth 1 \( -type f -o -type l \) -printf '%f\n'
  done | sort -u
}

# Fails unless every shared library that the ELF files under DIRS need is in LIBRARIES (a list
# from library_names) or beside the file: the base leaves out packages Debian's JRE depends on
# only for desktop features, so nothing may need them.
check_libraries() {
  local libraries="$1"
  shift
  local file lib problems=()
  while IFS= read -r -d '' file; do
    [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    for lib in $(readelf -d "$file" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      grep -qxF "$lib" "$libraries" || [ -e "$(dirname "$file")/$lib" ] \
        || problems+=("$(basename "$file") needs $lib")
    done
  done < <(find "$@" -type f \( -name '*.so*' -o -perm -u+x \) -print0)
  [ ${#problems[@]} -eq 0 ] || die "missing shared libraries: ${problems[*]}"
}

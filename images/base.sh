# The base root filesystem: Debian's Java 17 runtime (openjdk-17-jre-headless) and the C
# libraries it links against, unpacked from the pinned .deb files without running any package
# script, then trimmed to what a server JVM uses. Sourced by build.sh.
#
# Unpacking (dpkg-deb -x) instead of installing (debootstrap, then apt-get install in a chroot)
# needs no root and runs nothing from the packages, and it leaves out what an install writes
# that differs from run to run (logs, caches, the dpkg database, keystores stamped with the
# time). The two maintainer-script results the runtime needs are written here instead: the CA
# bundle (update-ca-certificates) and the JVM trust store (ca-certificates-java).

# Packages whose files are taken in part only: tar members to keep.
declare -A BASE_KEEP_ONLY=(
  [base-files]="./usr/lib/os-release ./etc/os-release ./etc/debian_version ./usr/share/doc/base-files/copyright"
  [ca-certificates]="./usr/share/ca-certificates/mozilla ./usr/share/doc/ca-certificates/copyright"
)

# Paths removed after unpacking, relative to the root: documentation (each package's copyright
# file stays, the licences require it), debugger and packaging metadata (gdb's libstdc++
# printers, binfmt registration), iconv modules (nothing here converts character sets through
# the C library), and the JRE's tools and files for compiling (ct.sym), packaging (jpackage) and
# heaps over 32 GiB (classes_nocoops.jsa).
BASE_REMOVE=(
  usr/share/man usr/share/info usr/share/lintian usr/share/gdb usr/share/locale usr/lib/debug
  usr/share/gcc usr/share/binfmts
  usr/lib/x86_64-linux-gnu/gconv
  usr/lib/jvm/.java-1.17.0-openjdk-amd64.jinfo
  usr/lib/jvm/java-17-openjdk-amd64/man
  usr/lib/jvm/java-17-openjdk-amd64/docs
  usr/lib/jvm/java-17-openjdk-amd64/bin/jpackage
  usr/lib/jvm/java-17-openjdk-amd64/bin/rmiregistry
  usr/lib/jvm/java-17-openjdk-amd64/lib/ct.sym
  usr/lib/jvm/java-17-openjdk-amd64/lib/jar.binfmt
  usr/lib/jvm/java-17-openjdk-amd64/lib/server/classes_nocoops.jsa
  # Desktop features whose libraries (fonts, JPEG, colour profiles, sound, smart cards) the base
  # does not carry; Java code reaching them fails as it would with the libraries missing.
  usr/lib/jvm/java-17-openjdk-amd64/lib/libfontmanager.so
  usr/lib/jvm/java-17-openjdk-amd64/lib/libjavajpeg.so
  usr/lib/jvm/java-17-openjdk-amd64/lib/liblcms.so
  usr/lib/jvm/java-17-openjdk-amd64/lib/libjsound.so
  usr/lib/jvm/java-17-openjdk-amd64/lib/libj2pcsc.so
)

# assemble_base ROOTFS DEBS: DEBS names an associative array package -> .deb file.
assemble_base() {
  local rootfs="$1"
  local -n packages="$2"
  local name
  for name in $(printf '%s\n' "${!packages[@]}" | sort); do
    unpack_deb "$rootfs" "$name" "${packages[$name]}"
  done
  prune_docs "$rootfs"
  local path
  for path in "${BASE_REMOVE[@]}"; do
    rm -rf "${rootfs:?}/$path"
  done
  write_trust "$rootfs"
  write_system_files "$rootfs"
  # Package metadata where image scanners look for it (/var/lib/dpkg/status.d, one control
  # stanza per package, as distroless images have), not a dpkg database: nothing can install.
  mkdir -p "$rootfs/var/lib/dpkg/status.d"
  for name in "${!packages[@]}"; do
    dpkg-deb -f "${packages[$name]}" >"$rootfs/var/lib/dpkg/status.d/$name"
  done
}

unpack_deb() {
  local rootfs="$1" name="$2" deb="$3"
  if [ -n "${BASE_KEEP_ONLY[$name]:-}" ]; then
    # shellcheck disable=SC2086 # a list of members
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$rootfs" ${BASE_KEEP_ONLY[$name]}
  else
    dpkg-deb -x "$deb" "$rootfs"
  fi
}

prune_docs() {
  local rootfs="$1"
  [ -d "$rootfs/usr/share/doc" ] || return 0
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
}

# The CA bundle for native code (/etc/ssl/certs/ca-certificates.crt) and the JVM's trust store
# (/etc/ssl/certs/java/cacerts, where Debian's JRE points lib/security/cacerts), from Mozilla's
# roots as Debian ships them.
write_trust() {
  local rootfs="$1" certs=("$1"/usr/share/ca-certificates/mozilla/*.crt)
  [ -f "${certs[0]}" ] || die "ca-certificates holds no certificates"
  mkdir -p "$rootfs/etc/ssl/certs/java"
  local cert
  for cert in "${certs[@]}"; do
    cat "$cert"
    # update-ca-certificates separates files with a newline when one lacks it at the end.
    [ -z "$(tail -c 1 "$cert")" ] || echo
  done >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  # Some file names are not ASCII; Java decodes them by the locale.
  LC_ALL=C.UTF-8 java "$HERE/TrustStore.java" "$rootfs/etc/ssl/certs/java/cacerts" "$LAYER_EPOCH" "${certs[@]}"
  rm -rf "$rootfs/usr/share/ca-certificates"
}

# Users, name lookup and the mount points a runtime fills: what the skipped maintainer scripts
# and base-files would have made.
write_system_files() {
  local rootfs="$1"
  mkdir -p "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/usr/bin" "$rootfs/app"
  # Sticky and world-writable, as /tmp always is: pods may run under another user id
  # (OpenShift), and with a read-only root filesystem this is where a volume goes.
  install -d -m 1777 "$rootfs/tmp"
  cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
flotilla:x:$APP_UID:$APP_UID:flotilla:/tmp:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<EOF
root:x:0:
flotilla:x:$APP_UID:
nogroup:x:65534:
EOF
  # Without this file the C library asks DNS before /etc/hosts.
  cat >"$rootfs/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
  ln -s "$JAVA_HOME_IN_IMAGE/bin/java" "$rootfs/usr/bin/java"
}

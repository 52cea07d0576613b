#!/usr/bin/env bash
# Builds vmrelease-controller's container image here, from Debian packages only: no
# container registry is contacted. The runtime is the one deploy/image/Dockerfile describes
# (its packages are deploy/image/packages.txt, the user 65532, the binary in /usr/local/bin):
#
#   1. the runtime packages, checked against `ldd` of the binary (a library whose package is
#      not listed, or a listed package no library needs, stops the build);
#   2. a root filesystem of just those packages and their dependencies, extracted by
#      `mmdebstrap --variant=extract` from the Debian mirror apt uses (no shell, no apt, no
#      dpkg in the image); cached under $VMRELEASE_IMAGE_CACHE keyed on the package list;
#   3. a second layer: the binary, /etc/passwd and /etc/group with the non-root user, the CA
#      bundle (what update-ca-certificates would have written);
#   4. an OCI image layout assembled with umoci (user, entrypoint, working dir, labels);
#   5. `vmrelease-controller --version` run in it: with podman (--network=none, --read-only,
#      --cap-drop=ALL, as 65532) when this machine can run containers, otherwise in a chroot
#      of the image's unpacked root filesystem (umoci unpack), as the same user.
#
# Usage: scripts/build-image.sh [--binary PATH] [--out DIR] [--tag TAG] [--no-podman]
#   --binary   the controller to package (default build/bin/vmrelease-controller)
#   --out      where the OCI layout (DIR/oci) and unpacked bundle go (default build/image)
#   --tag      the image's tag in the layout (default dev)
#   --no-podman  check in a chroot even when podman works
# Needs root (mmdebstrap's root mode, chroot) and: mmdebstrap umoci (podman optional)
# (`scripts/setup.sh --image` installs them). Prints "image: ok" and the runtime's size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BINARY="$ROOT/build/bin/vmrelease-controller"
OUT="$ROOT/build/image"
TAG=dev
USE_PODMAN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --no-podman) USE_PODMAN=0; shift ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
BINARY=$(readlink -f "$BINARY")
CACHE="${VMRELEASE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmrelease/image}"
SUITE=bookworm
UID_GID=65532
die() { echo "build-image: $*" >&2; exit 1; }
for tool in mmdebstrap umoci ldd dpkg-query; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh --image)"
done
[ -x "$BINARY" ] || die "no controller binary at $BINARY (ninja -C build vmrelease-controller)"
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap root mode and chroot)"
start=$(date +%s)

# 1. The runtime packages: those of the libraries ldd finds, plus ca-certificates.
mapfile -t listed < <(grep -v '^\s*#' deploy/image/packages.txt | grep -v '^\s*$' | sort -u)
needed=(ca-certificates)
while read -r lib; do
  # dpkg knows a library by the path its package ships, /lib/... or /usr/lib/... (merged
  # /usr makes both name one file): try the path ldd printed, its target, and both spellings.
  real=$(readlink -f "$lib")
  pkg=""
  for p in "$lib" "$real" "${real#/usr}" "/usr${lib}" "$(dirname "$lib")/$(basename "$real")"; do
    pkg=$(dpkg-query -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || die "no Debian package owns $lib"
  needed+=("$pkg")
done < <(ldd "$BINARY" | awk '$3 ~ /^\// {print $3}')
mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
if [ "${listed[*]}" != "${needed[*]}" ]; then
  die "deploy/image/packages.txt (${listed[*]}) differs from what ldd needs (${needed[*]})"
fi
echo "build-image: runtime packages: ${listed[*]}"

# 2. The base root filesystem, cached on the package list, suite and mirror.
SOURCES=/etc/apt/sources.list.d/debian.sources
[ -f "$SOURCES" ] || SOURCES=/etc/apt/sources.list
KEY=$( (printf '%s\n' "$SUITE" "${listed[@]}"; cat "$SOURCES") | sha256sum | cut -c1-16)
BASE="$CACHE/base-$SUITE-$KEY.tar"
mkdir -p "$CACHE"
if [ -f "$BASE" ]; then
  echo "build-image: base root filesystem from the cache ($BASE)"
else
  echo "build-image: mmdebstrap --variant=extract $SUITE (mirror from $SOURCES)"
  t0=$(date +%s)
  partial="$CACHE/partial-$KEY.tar"
  rm -rf "$partial"
  mmdebstrap --quiet --format=tar --variant=extract --include="$(IFS=,; echo "${listed[*]}")" \
    "$SUITE" "$partial" "$SOURCES"
  mv "$partial" "$BASE"
  echo "build-image: base built in $(( $(date +%s) - t0 ))s, $(du -h "$BASE" | cut -f1)"
fi

# 3. The controller layer.
rm -rf "$OUT" && mkdir -p "$OUT/layer/usr/local/bin" "$OUT/layer/etc/ssl/certs" "$OUT/layer/tmp"
install -m 0755 "$BINARY" "$OUT/layer/usr/local/bin/vmrelease-controller"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/nonexistent:/sbin/nologin\n' \
  "$UID_GID" "$UID_GID" >"$OUT/layer/etc/passwd"
printf 'root:x:0:\nnonroot:x:%s:\n' "$UID_GID" >"$OUT/layer/etc/group"
chmod 1777 "$OUT/layer/tmp"
mkdir -p "$OUT/certs"
tar -xf "$BASE" -C "$OUT/certs" ./usr/share/ca-certificates
find "$OUT/certs/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat \
  >"$OUT/layer/etc/ssl/certs/ca-certificates.crt"
[ -s "$OUT/layer/etc/ssl/certs/ca-certificates.crt" ] || die "no CA certificates in the base"
tar --numeric-owner --owner=0 --group=0 -C "$OUT/layer" -cf "$OUT/controller-layer.tar" .

# 4. The OCI image.
OCI="$OUT/oci"
umoci init --layout "$OCI"
umoci new --image "$OCI:$TAG"
umoci raw add-layer --image "$OCI:$TAG" "$BASE"
umoci raw add-layer --image "$OCI:$TAG" "$OUT/controller-layer.tar"
VERSION=$("$BINARY" --version | head -1)
umoci config --image "$OCI:$TAG" \
  --config.user "$UID_GID:$UID_GID" \
  --config.entrypoint /usr/local/bin/vmrelease-controller \
  --config.workingdir /tmp \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.label "org.opencontainers.image.title=vmrelease-controller" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.base.name=debian:$SUITE (mmdebstrap extract)" \
  --history.created_by "scripts/build-image.sh"
umoci gc --layout "$OCI"
rm -rf "$OUT/layer" "$OUT/certs" "$OUT/controller-layer.tar"
echo "build-image: OCI layout $OCI:$TAG ($(du -sh "$OCI" | cut -f1))"

# 5. Start it: podman when this sandbox runs containers, else a chroot of the root filesystem.
want=$("$BINARY" --version)
ran=""
if [ "$USE_PODMAN" = 1 ] && command -v podman >/dev/null; then
  # A private storage under $OUT (vfs: no mounts left behind): nothing is left in the
  # machine's podman storage. The layout by a relative path: podman names the image after
  # it, and a name must be lower case.
  if got=$(cd "$OUT" && podman --root "$OUT/podman/root" --runroot "$OUT/podman/run" \
      --storage-driver vfs run --rm --network=none --read-only --cap-drop=ALL --user "$UID_GID:$UID_GID" \
      --ulimit host \
      --security-opt no-new-privileges "oci:oci:$TAG" --version 2>"$OUT/podman.err"); then
    ran="podman"
  else
    echo "build-image: podman cannot run containers here; checking in a chroot instead:" >&2
    sed 's/^/  podman: /' "$OUT/podman.err" | tail -5 >&2
  fi
  # A failed `run --rm` leaves podman's own cleanup running in the background for a
  # moment, still writing under the storage: wait for it before removing it.
  for _ in $(seq 50); do
    pgrep -f -- "$OUT/podman/" >/dev/null || break
    sleep 0.2
  done
  pkill -KILL -f -- "$OUT/podman/" 2>/dev/null || true
  for _ in $(seq 20); do
    rm -rf "$OUT/podman" 2>/dev/null && break
    sleep 0.2
  done
  [ ! -e "$OUT/podman" ] || die "cannot remove podman's storage $OUT/podman"
fi
if [ -z "$ran" ]; then
  umoci unpack --image "$OCI:$TAG" "$OUT/bundle" >/dev/null
  chroot_bin=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot) || die "chroot is missing"
  got=$(env -i PATH=/usr/local/bin:/usr/bin:/bin \
    "$chroot_bin" --userspec="$UID_GID:$UID_GID" "$OUT/bundle/rootfs" \
    /usr/local/bin/vmrelease-controller --version)
  ran="chroot"
fi
[ "$got" = "$want" ] || die "in the image ($ran) --version printed '$got', want '$want'"
echo "build-image: $ran: vmrelease-controller --version: $got"
echo "image: ok ($ran, $(( $(date +%s) - start ))s)"

#!/usr/bin/env bash
# Builds the project image without a container engine and writes it as a
# docker-archive tarball (docker load, kind load image-archive, ctr images import):
#   1. root filesystem: mmdebstrap bookworm, packages from hack/image/packages.txt,
#      finished by hack/image/finish-rootfs.sh; cached under CACHE_DIR by their content;
#   2. nghttpx, h2load, the eBPF object: hack/build-nghttpx.sh (cached), staged by
#      hack/image/stage-nghttpx.sh;
#   3. nghttpx-gateway: CGO_ENABLED=0, version stamped from git describe;
#   4. cmd/imagebuild with hack/image/image.args; mtimes and created time are the
#      commit time (SOURCE_DATE_EPOCH; the root filesystem layer: the last commit of
#      its inputs), so the same commit gives the same digest;
#   5. checks (VERIFY=0 skips): unpack the archive, nghttpx/h2load/nghttpx-gateway
#      --version as uid 65532 in a chroot of it, the file capability, and that
#      packages.txt lists exactly the packages of the libraries the binaries link.
# Usage: hack/build-image.sh CACHE_DIR
# Env: IMAGE (reference, default ghcr.io/nghttpx-gateway/nghttpx-gateway:dev),
#      OUT (archive path, default CACHE_DIR/images/nghttpx-gateway.tar), VERIFY,
#      IMAGE_VERSION (version stamped in the binary and the image label; default
#      git describe; make release sets it).
# Prints the reference, digest, image ID and size; the last line is the archive path.
set -euo pipefail

CACHE_DIR=${1:?usage: $0 CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
IMAGE=${IMAGE:-ghcr.io/nghttpx-gateway/nghttpx-gateway:dev}
OUT=${OUT:-$CACHE_DIR/images/nghttpx-gateway.tar}
GO=${GO:-go}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

start=$(date +%s)
last=$start
step() {
  local now
  now=$(date +%s)
  printf '==> [%4ss, +%ss] %s\n' "$((now - start))" "$((now - last))" "$*" >&2
  last=$now
}
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }
packages() { sed 's/#.*//' hack/image/packages.txt | xargs; }

[[ $(id -u) == 0 ]] || die "needs root (mmdebstrap into a directory, chroot for the checks)"
# Tools: mmdebstrap (root filesystem), binutils (strip, readelf), libcap2-bin (getcap).
missing=()
for t in mmdebstrap:mmdebstrap strip:binutils readelf:binutils getcap:libcap2-bin; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "could not install ${missing[*]} with apt-get"
fi

# 1. Root filesystem, keyed by everything that goes into it.
mmopts=(--variant=essential --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*')
key=$( { echo "$SUITE ${mmopts[*]}"; packages; cat hack/image/finish-rootfs.sh; } | sha256sum | cut -c1-16)
ROOTFS=$CACHE_DIR/image/rootfs-$SUITE-$key
# The root filesystem layer's mtimes: the last commit of its inputs, so that layer
# stays the same across commits that change only our binaries.
ROOTFS_EPOCH=$(git log -1 --format=%ct -- hack/image/packages.txt hack/image/finish-rootfs.sh hack/build-image.sh 2>/dev/null || true)
ROOTFS_EPOCH=${ROOTFS_EPOCH:-0}
if [[ -f $ROOTFS.complete ]]; then
  step "root filesystem cached: $ROOTFS"
else
  step "building root filesystem $ROOTFS (mmdebstrap $SUITE: $(packages))"
  rm -rf "$ROOTFS" "$ROOTFS.tmp"
  mkdir -p "$(dirname "$ROOTFS")"
  # A fixed epoch, so nothing in it depends on when it was built (checked: a
  # second mmdebstrap run with another epoch gives the same contents).
  SOURCE_DATE_EPOCH=$ROOTFS_EPOCH mmdebstrap --quiet "${mmopts[@]}" \
    --include="$(packages | tr ' ' ,)" "$SUITE" "$ROOTFS.tmp" "$MIRROR" >&2 \
    || die "mmdebstrap failed (needs Debian's mirror $MIRROR)"
  sh hack/image/finish-rootfs.sh "$ROOTFS.tmp"
  mv "$ROOTFS.tmp" "$ROOTFS"
  touch "$ROOTFS.complete"
fi

# 2. nghttpx (waits for a build another process runs in the same cache).
step "nghttpx (hack/build-nghttpx.sh)"
nghttpx=$(bash hack/build-nghttpx.sh "$CACHE_DIR" | tail -n 1)
[[ -x $nghttpx ]] || die "hack/build-nghttpx.sh printed no binary path"
work=$CACHE_DIR/image/work
mkdir -p "$work"
STAGE=$work/stage
sh hack/image/stage-nghttpx.sh "$nghttpx" "$STAGE"

# 3. The controller and agent, version stamped as conformance.mk does.
VERSION=${IMAGE_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
step "nghttpx-gateway $VERSION (CGO_ENABLED=0)"
GATEWAY_BIN=$work/nghttpx-gateway
CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$VERSION" \
  -o "$GATEWAY_BIN" ./cmd/nghttpx-gateway
"$GO" build -o "$work/imagebuild" ./cmd/imagebuild

# 4. The image.
step "assembling $IMAGE"
export ROOTFS STAGE GATEWAY_BIN VERSION REVISION SOURCE_DATE_EPOCH
result=$("$work/imagebuild" --spec hack/image/image.args --rootfs-epoch "$ROOTFS_EPOCH" --ref "$IMAGE" --out "$OUT")

# 5. Checks on the archive as written.
if [[ ${VERIFY:-1} != 0 ]]; then
  step "checking the image (unpacked, chroot as uid 65532)"
  bash hack/image/verify.sh "$OUT" >&2
fi
step "done"
echo "$result"

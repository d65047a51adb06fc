#!/usr/bin/env bash
# Builds nghttpx and h2load with mruby, HTTP/3 (ngtcp2 + nghttp3 over BoringSSL) and
# eBPF QUIC steering, from Debian bookworm packages and source packages only.
#
# Usage: hack/build-nghttpx.sh CACHE_DIR
# Idempotent: a second run with the same pins prints the binary path in seconds.
# The last line printed is the absolute path of the built nghttpx.
# The Dockerfile runs this same script, so it is the single source of the build steps.
set -euo pipefail

CACHE_DIR=${1:?usage: $0 CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)

# Pins: Debian bookworm source package versions (upstream version in brackets).
NGHTTP2_SRC_VERSION=1.52.0-1+deb12u3 # nghttp2 1.52.0
NGTCP2_SRC_VERSION=0.12.1+dfsg-1+deb12u1 # ngtcp2 0.12.1
MRUBY_SRC_VERSION=3.1.0-3 # mruby 3.1.0 (exactly what nghttp2 1.52.0 pins)
NGHTTP3_PKG_VERSION=0.8.0-2 # libnghttp3-dev, used as is
BORINGSSL_PKG_VERSION=13.0.0+r24-2 # android-libboringssl-dev
LIBBPF_PKG_VERSION=1:1.1.2-0+deb12u1 # libbpf-dev
# Bump when the configure flags or build steps below change, so the cache is rebuilt
# (the patches are in the key already).
RECIPE=5
die() { printf 'build-nghttpx: %s\n' "$*" >&2; exit 1; }

# Source patches to nghttp2: unified diffs listed in order in nghttpx-patches/series,
# each applied with `patch -p1 --fuzz=0`. The series and the patches are part of the
# cache key. A .patch file missing from the series is an error, not silently skipped.
PATCH_DIR=${NGHTTPX_PATCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/nghttpx-patches}
[[ -f "$PATCH_DIR/series" ]] || die "no series file in $PATCH_DIR"
mapfile -t PATCHES < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$PATCH_DIR/series")
for p in "${PATCHES[@]}"; do
  [[ -f "$PATCH_DIR/$p" ]] || die "$PATCH_DIR/series lists $p, which does not exist"
done
for f in "$PATCH_DIR"/*.patch; do
  [[ -e "$f" ]] || continue
  printf '%s\n' "${PATCHES[@]}" | grep -qxF -- "${f##*/}" ||
    die "$f is not listed in $PATCH_DIR/series: add it there (in order) or remove it"
done
PATCH_SUM=_p$(cd "$PATCH_DIR" && sha256sum series "${PATCHES[@]}" | sha256sum | cut -c1-10)

KEY="nghttp2-${NGHTTP2_SRC_VERSION}_ngtcp2-${NGTCP2_SRC_VERSION}_mruby-${MRUBY_SRC_VERSION}_r${RECIPE}${PATCH_SUM}"
KEY=${KEY//[:+~]/_}
PREFIX="$CACHE_DIR/nghttpx/$KEY"
BIN="$PREFIX/bin/nghttpx"

start=$(date +%s)
# One build at a time per cache: a concurrent run waits, then finds the cached result.
exec 9>"$CACHE_DIR/.build.lock"
if ! flock -n 9; then
  echo "build-nghttpx: another build is running in $CACHE_DIR; waiting for it" >&2
  flock 9
fi
step() { printf '==> [%3ss] %s\n' "$(($(date +%s) - start))" "$*" >&2; }

print_versions() {
  cat >&2 <<EOF
versions: nghttp2 ${NGHTTP2_SRC_VERSION} | ngtcp2 ${NGTCP2_SRC_VERSION} (static, BoringSSL crypto) | nghttp3 ${NGHTTP3_PKG_VERSION} | mruby ${MRUBY_SRC_VERSION} | BoringSSL (android-libboringssl-dev) ${BORINGSSL_PKG_VERSION} | libbpf ${LIBBPF_PKG_VERSION}
EOF
}

if [[ -x "$BIN" && -f "$PREFIX/.complete" && -f "$PREFIX/lib/bpf/reuseport_kern.o" ]]; then
  step "cached: $BIN"
  print_versions
  echo "$BIN"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# --- 1. Debian source entries -----------------------------------------------------------
SRC_LIST=/etc/apt/sources.list.d/nghttpx-gateway-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  step "adding deb-src entry $SRC_LIST"
  $SUDO tee "$SRC_LIST" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $SUDO apt-get update -qq || die "apt-get update failed: check the Debian mirror in /etc/apt/sources.list.d/"
fi

# --- 2. Build packages ------------------------------------------------------------------
PKGS=(dpkg-dev build-essential autoconf automake libtool pkg-config
  libev-dev libc-ares-dev zlib1g-dev libjansson-dev libjemalloc-dev libxml2-dev libsystemd-dev
  libbpf-dev libelf-dev clang llvm libnghttp3-dev android-libboringssl-dev ruby bison libcap2-bin patch)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${#missing[@]} build packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null ||
      die "could not install: ${missing[*]} (not in the Debian mirror?)"
  fi
else
  step "build packages present"
fi

# --- 3. Sources -------------------------------------------------------------------------
SRC="$CACHE_DIR/src"
mkdir -p "$SRC"
fetch_source() { # name version dir
  local name=$1 version=$2 dir=$3
  if [[ -d "$SRC/$dir" ]]; then return; fi
  step "apt-get source $name=$version"
  local tmp
  tmp=$(mktemp -d "$SRC/.fetch.XXXXXX")
  (cd "$tmp" && apt-get source -qq "$name=$version" >/dev/null 2>&1) ||
    die "apt-get source $name=$version failed: the source package is missing from the mirror"
  local got
  got=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
  [[ -n "$got" ]] || die "apt-get source $name produced no directory"
  mv "$got" "$SRC/$dir"
  rm -rf "$tmp"
}
fetch_source ngtcp2 "$NGTCP2_SRC_VERSION" ngtcp2
fetch_source mruby "$MRUBY_SRC_VERSION" mruby
fetch_source nghttp2 "$NGHTTP2_SRC_VERSION" nghttp2

BSSL_INC=/usr/include/android
BSSL_LIB=/usr/lib/x86_64-linux-gnu/android
[[ -f "$BSSL_INC/openssl/ssl.h" && -f "$BSSL_LIB/libssl.so" ]] ||
  die "BoringSSL not found under $BSSL_INC / $BSSL_LIB (package android-libboringssl-dev)"
JOBS=$(nproc)

# --- 4. ngtcp2 (static, BoringSSL crypto backend) ---------------------------------------
NGTCP2_PREFIX="$CACHE_DIR/build/ngtcp2"
if [[ ! -f "$NGTCP2_PREFIX/lib/libngtcp2.a" ]]; then
  step "building ngtcp2 (static, BoringSSL)"
  build="$CACHE_DIR/build/ngtcp2-src"
  rm -rf "$build" && mkdir -p "$CACHE_DIR/build" && cp -a "$SRC/ngtcp2" "$build"
  (
    cd "$build"
    autoreconf -fi >/dev/null 2>&1
    ./configure -q --prefix="$NGTCP2_PREFIX" --enable-lib-only --disable-shared --enable-static --with-pic \
      --with-boringssl --without-openssl --without-gnutls \
      BORINGSSL_CFLAGS="-I$BSSL_INC" BORINGSSL_LIBS="-L$BSSL_LIB -lssl -lcrypto" >/dev/null
    make -s -j"$JOBS" >/dev/null
    make -s install >/dev/null
  ) || die "ngtcp2 build failed (see output above)"
else
  step "ngtcp2 cached"
fi

# --- 5. nghttp2 with mruby, HTTP/3 and libbpf -------------------------------------------
step "preparing nghttp2 source"
build="$CACHE_DIR/build/nghttp2-src"
rm -rf "$build" && cp -a "$SRC/nghttp2" "$build"
rm -rf "$build/third-party/mruby" && cp -a "$SRC/mruby" "$build/third-party/mruby"
cd "$build"

# Source patches, in series order (see hack/nghttpx-patches.md). --fuzz=0: a
# patch whose context lines changed fails here instead of being applied approximately.
for p in "${PATCHES[@]}"; do
  echo "build-nghttpx: applying $p" >&2
  patch -p1 --fuzz=0 --forward --no-backup-if-mismatch --quiet -i "$PATCH_DIR/$p" >&2 ||
    die "patch $p does not apply to nghttp2 $NGHTTP2_SRC_VERSION with --fuzz=0 (rejects: $build/**/*.rej): regenerate it against the pristine source, see hack/nghttpx-patches.md"
done
step "configuring nghttp2"
autoreconf -fi >/dev/null 2>&1
export PKG_CONFIG_PATH="$NGTCP2_PREFIX/lib/pkgconfig"
./configure -q --prefix="$PREFIX" --enable-app --disable-examples --disable-hpack-tools --disable-python-bindings \
  --enable-http3 --with-libngtcp2 --with-libnghttp3 --with-libbpf --with-mruby --with-jemalloc \
  OPENSSL_CFLAGS="-I$BSSL_INC" OPENSSL_LIBS="-L$BSSL_LIB -lssl -lcrypto" \
  LIBNGTCP2_CRYPTO_BORINGSSL_CFLAGS="-I$NGTCP2_PREFIX/include" \
  LIBNGTCP2_CRYPTO_BORINGSSL_LIBS="-L$NGTCP2_PREFIX/lib -lngtcp2_crypto_boringssl" \
  LDFLAGS="-Wl,-rpath,$BSSL_LIB" >/dev/null

# gcc rejects -target bpf: build the eBPF object with clang first, so make skips it.
step "building eBPF object (clang)"
make -s -C bpf CC=clang >/dev/null || die "eBPF object build failed (needs clang and libbpf-dev)"
step "building nghttp2 (mruby, HTTP/3, libbpf)"
make -s -j"$JOBS" >/dev/null 2>"$CACHE_DIR/build/nghttp2-make.log" || {
  tail -n 40 "$CACHE_DIR/build/nghttp2-make.log" >&2
  die "nghttp2 build failed (log: $CACHE_DIR/build/nghttp2-make.log)"
}

step "installing into $PREFIX"
rm -rf "$PREFIX" && mkdir -p "$PREFIX/bin" "$PREFIX/lib/bpf"
install -m 0755 src/.libs/nghttpx "$PREFIX/bin/nghttpx" 2>/dev/null || install -m 0755 src/nghttpx "$PREFIX/bin/nghttpx"
install -m 0755 src/.libs/h2load "$PREFIX/bin/h2load" 2>/dev/null || install -m 0755 src/h2load "$PREFIX/bin/h2load"
install -m 0644 bpf/reuseport_kern.o "$PREFIX/lib/bpf/reuseport_kern.o"
# Keep the libnghttp2 the binaries link against next to them.
if ldd "$PREFIX/bin/nghttpx" | grep -q 'libnghttp2.so.*not found\|libnghttp2.so.* => .*nghttp2-src'; then
  mkdir -p "$PREFIX/lib"
  cp -a lib/.libs/libnghttp2.so* "$PREFIX/lib/"
  for b in nghttpx h2load; do
    patchelf --set-rpath "$PREFIX/lib:$BSSL_LIB" "$PREFIX/bin/$b" 2>/dev/null || true
  done
fi

# Prove the features before marking the build complete.
"$PREFIX/bin/nghttpx" --version >&2
# Read the help once: with pipefail, `nghttpx --help | grep -q` fails when grep exits
# before nghttpx has written its 70 KB (SIGPIPE).
help=$("$PREFIX/bin/nghttpx" --help)
grep -q -- '--mruby-file' <<<"$help" || die "built nghttpx lacks mruby"
grep -q -- '--frontend-quic-secret-file' <<<"$help" || die "built nghttpx lacks HTTP/3"
grep -q -- '--quic-bpf-program-file' <<<"$help" || die "built nghttpx lacks eBPF support"
touch "$PREFIX/.complete"
step "done"
print_versions
echo "$BIN"

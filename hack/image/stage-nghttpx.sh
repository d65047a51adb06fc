#!/bin/sh
# Copies what the image takes from a hack/build-nghttpx.sh build into OUT, stripped of
# debug information (about 27 MB per binary):
#   OUT/bin/nghttpx, OUT/bin/nghttpx-bpf (the copy that gets file capabilities),
#   OUT/bin/h2load, OUT/lib/bpf/reuseport_kern.o
# Usage: stage-nghttpx.sh NGHTTPX_BIN OUT   (NGHTTPX_BIN: build-nghttpx.sh's last line)
set -eu
bin=${1:?usage: $0 NGHTTPX_BIN OUT}
out=${2:?usage: $0 NGHTTPX_BIN OUT}
dir=$(dirname "$bin")
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib/bpf"
strip --strip-debug -o "$out/bin/nghttpx" "$dir/nghttpx"
cp "$out/bin/nghttpx" "$out/bin/nghttpx-bpf"
strip --strip-debug -o "$out/bin/h2load" "$dir/h2load"
cp "$dir/../lib/bpf/reuseport_kern.o" "$out/lib/bpf/reuseport_kern.o"

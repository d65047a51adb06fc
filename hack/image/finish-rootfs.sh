#!/bin/sh
# Finishes an image root filesystem after its packages are installed: adds the
# image's user and removes what is only there because of the install (package lists,
# caches, logs, files that differ from build to build).
# Usage: finish-rootfs.sh ROOT   (ROOT=/ inside a Dockerfile RUN; runs on the host
# against a directory in hack/build-image.sh). Idempotent.
set -eu
root=${1:?usage: $0 ROOT}
root=${root%/}

# uid and gid 65532 (the image's USER), no home, no login, no password.
grep -q '^nghttpx:' "$root/etc/passwd" ||
  echo 'nghttpx:x:65532:65532:nghttpx:/nonexistent:/usr/sbin/nologin' >>"$root/etc/passwd"
grep -q '^nghttpx:' "$root/etc/group" || echo 'nghttpx:x:65532:' >>"$root/etc/group"
if [ -f "$root/etc/shadow" ] && ! grep -q '^nghttpx:' "$root/etc/shadow"; then
  echo 'nghttpx:!::::::' >>"$root/etc/shadow"
fi
if [ -f "$root/etc/gshadow" ] && ! grep -q '^nghttpx:' "$root/etc/gshadow"; then
  echo 'nghttpx:!::' >>"$root/etc/gshadow"
fi

rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/var/cache/ldconfig/aux-cache "$root"/var/log/* \
  "$root"/etc/machine-id "$root"/var/lib/dbus/machine-id
# The runtime supplies these; mmdebstrap copies the build machine's. (Inside a
# container build, ROOT=/, they are the engine's mounts: leave them alone.)
if [ -n "$root" ]; then
  for f in etc/resolv.conf etc/hostname etc/hosts; do
    if [ -f "$root/$f" ] && [ ! -L "$root/$f" ]; then : >"$root/$f"; fi
  done
fi

#!/usr/bin/env bash
# Checks a project image archive the way a runtime sees it: unpacks its layers (with
# xattrs, as containerd does) and, in a chroot as uid 65532,
#   - runs nghttpx --version, h2load --version and nghttpx-gateway version (so every
#     library is present and loads), and /nghttpx-ingress-controller --help (the
#     original Ingress controller's command: serve with its defaults);
#   - finds the file capability of image.args on nghttpx-bpf and none on nghttpx;
#   - resolves every library nghttpx and h2load link to its package and compares that
#     set with hack/image/packages.txt (lines marked "# data" are not libraries).
# Usage: hack/image/verify.sh ARCHIVE   (root; needs tar, getcap, readelf, chroot)
set -euo pipefail
archive=${1:?usage: $0 ARCHIVE}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { printf 'verify-image: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/archive" "$tmp/root"
tar -xf "$archive" -C "$tmp/archive"
layers=$(grep -o '[0-9a-f]\{64\}\.tar\.gz' "$tmp/archive/manifest.json")
[[ -n $layers ]] || fail "no layers in $archive's manifest.json"
for l in $layers; do
  tar --xattrs --xattrs-include='security.capability' --numeric-owner -xzf "$tmp/archive/$l" -C "$tmp/root"
done
root=$tmp/root
as_user() { chroot --userspec=65532:65532 "$root" "$@"; }

for cmd in "nghttpx --version" "h2load --version" "nghttpx-gateway version"; do
  set -- $cmd
  v=$(as_user "/usr/local/bin/$1" "$2" 2>&1) || fail "$cmd failed as uid 65532 in the image: $v"
  echo "ok: $cmd as uid 65532: $(echo "$v" | head -n 1)"
done

# The original Ingress controller's command, as its manifests run it.
v=$(as_user /nghttpx-ingress-controller --help 2>&1) || fail "/nghttpx-ingress-controller --help failed as uid 65532: $v"
[[ $v == *"Usage of nghttpx-ingress-controller"* && $v == *'(default "nghttpx-ingress-lb")'* ]] ||
  fail "/nghttpx-ingress-controller --help does not show serve with the original's defaults: $v"
echo "ok: /nghttpx-ingress-controller --help as uid 65532: serve with the original's defaults"

want=$(sed -n 's/^--cap=\/usr\/local\/bin\/nghttpx-bpf=//p' "$here/image.args")
got=$(getcap "$root/usr/local/bin/nghttpx-bpf" | sed 's/.* //')
for c in $(echo "${want%+*}" | tr , ' '); do
  [[ ,${got%=*}, == *,$c,* ]] || fail "nghttpx-bpf capabilities $got lack $c (want $want)"
done
[[ $got == *=ep ]] || fail "nghttpx-bpf capabilities $got are not =ep (want $want)"
[[ -z $(getcap "$root/usr/local/bin/nghttpx") ]] || fail "nghttpx has file capabilities; only nghttpx-bpf may"
echo "ok: file capabilities of nghttpx-bpf: $got; nghttpx: none"

libs=$( { readelf -d "$root/usr/local/bin/nghttpx"; readelf -d "$root/usr/local/bin/h2load"; } |
  sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
if chroot "$root" ldd /usr/local/bin/nghttpx /usr/local/bin/h2load | grep 'not found'; then
  fail "libraries missing from the image (see above)"
fi
needed=$(for l in $libs; do
  chroot "$root" dpkg -S "*/$l" 2>/dev/null | sed 's/:.*//' | sed 's/:amd64$//' || fail "no package holds $l"
done | sort -u)
listed=$(grep -v '# *data' "$here/packages.txt" | sed 's/#.*//' | xargs -n1 | sort -u)
if [[ $needed != "$listed" ]]; then
  diff <(echo "$listed") <(echo "$needed") >&2 || true
  fail "hack/image/packages.txt (<) differs from the packages of the libraries nghttpx and h2load link (>)"
fi
echo "ok: packages.txt lists exactly the $(echo "$needed" | wc -l) library packages nghttpx and h2load link"

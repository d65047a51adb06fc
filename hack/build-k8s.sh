#!/usr/bin/env bash
# Builds the pinned local Kubernetes control plane and node for e2e/conformance tests:
#   etcd (go.etcd.io/etcd/server/v3 v3.6.6), kube-apiserver, kube-controller-manager,
#   kubectl, and for the real node kubelet, kube-proxy, kube-scheduler (k8s.io/kubernetes
#   v1.36.3), coredns (github.com/coredns/coredns v1.15.0, the plugins hack/tools/coredns
#   links), pause (hack/pause) and
#   echo-basic (gateway-api conformance v1.6.3).
# Each binary has its own stamp, so adding one never rebuilds the others.
# Env K8S_BINS limits the build to a subset (e.g. "kubelet kube-proxy").
# Usage: hack/build-k8s.sh [CACHE_DIR]   (default $HOME/.cache/nghttpx-gateway)
# Progress goes to stderr; the last stdout line is the bin directory.
# Idempotent: a second run only checks the stamp and prints the directory.
# Env: K8S_BUILD_JOBS (go build -p, default 1: the machine is shared), NICE (default 19).
set -euo pipefail

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.6

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${1:-${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
bindir=$cache/k8s/$K8S_VERSION/bin
jobs=${K8S_BUILD_JOBS:-1}
nice=${NICE:-19}
start=$(date +%s)

log() { printf '[build-k8s %4ss] %s\n' "$(($(date +%s) - start))" "$*" >&2; }

# Stamps tie each binary to the module definition it was built from.
sum() { cat "$@" | sha256sum | cut -c1-16; }
# Only the pinning lines count: `go build -mod=mod` may add indirect requires to the tools go.mod.
# The ldflags recipe counts too (bump k8s_recipe when changing it).
k8s_recipe=2
stamp_k8s=$( (echo "$k8s_recipe"; grep -E 'k8s.io/kubernetes v|=>' "$here/tools/k8s/go.mod") | sum)
stamp_etcd=$(grep -E 'go.etcd.io/etcd/server/v3 v' "$here/tools/etcd/go.mod" | sum)
stamp_echo=$( (echo static; grep -E 'sigs.k8s.io/gateway-api(/conformance)? ' "$repo/go.mod") | sum)
stamp_coredns=$( (grep -E 'github.com/coredns/coredns v' "$here/tools/coredns/go.mod"; cat "$here/tools/coredns/main.go") | sum)
stamp_pause=$(sum "$here/pause/main.go")
stamp_want=$(echo "$stamp_k8s $stamp_etcd $stamp_echo $stamp_coredns $stamp_pause" | sum)
all_bins=(etcd kube-apiserver kube-controller-manager kubectl echo-basic kubelet kube-proxy kube-scheduler coredns pause)
read -r -a bins <<<"${K8S_BINS:-${all_bins[*]}}"

have_all() {
	[[ -z ${K8S_BINS:-} && -f $bindir/.stamp && $(cat "$bindir/.stamp") == "$stamp_want" ]] || return 1
	for b in "${bins[@]}"; do [[ -x $bindir/$b ]] || return 1; done
}

# Host tools the local cluster needs (ip netns, veth, bridge, bind mounts; curl for people).
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v nsenter >/dev/null || need+=(util-linux)
command -v mount >/dev/null || need+=(mount)
if ((${#need[@]})); then
	log "apt-get install ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi

if have_all; then
	log "up to date ($K8S_VERSION, etcd $ETCD_VERSION)"
	echo "$bindir"
	exit 0
fi

mkdir -p "$bindir"
export GOTOOLCHAIN=local
# Kubernetes binaries report their version from these variables (as hack/lib/version.sh sets them).
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
	k8s_ldflags+=" -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean"
	k8s_ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# -mod=mod only in the tools modules (they may complete their own go.sum); the main module stays read-only.
gobuild() { # mod-mode extra-ldflags args...
	local mode=$1 ld=$2
	shift 2
	GOFLAGS="-mod=$mode -buildvcs=false -p=$jobs" nice -n "$nice" go build -trimpath -ldflags="-s -w$ld" "$@"
}

# Builds into a temp name and renames so an interrupted build never leaves a broken binary.
build_one() { # dir mod-mode stamp out pkg [ldflags]
	local dir=$1 mode=$2 stamp=$3 out=$4 pkg=$5 ld=${6:-}
	[[ " ${bins[*]} " == *" $out "* ]] || return 0
	if [[ -x $bindir/$out && -f $bindir/.stamp.$out && $(cat "$bindir/.stamp.$out") == "$stamp" ]]; then
		log "$out: cached"
		return
	fi
	log "$out: building $pkg"
	local t0
	t0=$(date +%s)
	(cd "$dir" && gobuild "$mode" "$ld" -o "$bindir/.$out.tmp" "$pkg")
	mv -f "$bindir/.$out.tmp" "$bindir/$out"
	echo "$stamp" >"$bindir/.stamp.$out"
	log "$out: done in $(($(date +%s) - t0))s"
}

# echo-basic comes from the main module (same gateway-api version as the tests); static for its image.
CGO_ENABLED=0 build_one "$repo" readonly "$stamp_echo" echo-basic sigs.k8s.io/gateway-api/conformance/echo-basic
build_one "$here/tools/etcd" mod "$stamp_etcd" etcd go.etcd.io/etcd/server/v3
build_one "$here/tools/k8s" mod "$stamp_k8s" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build_one "$here/tools/k8s" mod "$stamp_k8s" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build_one "$here/tools/k8s" mod "$stamp_k8s" kubectl k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
# The real node (e2e/node): same module and version stamp as the control plane.
build_one "$here/tools/k8s" mod "$stamp_k8s" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build_one "$here/tools/k8s" mod "$stamp_k8s" kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$k8s_ldflags"
build_one "$here/tools/k8s" mod "$stamp_k8s" kubelet k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"
# Static: these two run inside images that hold nothing else.
CGO_ENABLED=0 build_one "$here/tools/coredns" mod "$stamp_coredns" coredns .
CGO_ENABLED=0 build_one "$repo" readonly "$stamp_pause" pause ./hack/pause

[[ -n ${K8S_BINS:-} ]] || echo "$stamp_want" >"$bindir/.stamp"
log "all built in $(($(date +%s) - start))s"
echo "$bindir"

#!/usr/bin/env bash
# Installs what the real local node needs from Debian's packages (idempotent):
#   containerd + runc (container runtime), containernetworking-plugins (bridge,
#   host-local, loopback, portmap), iptables + conntrack + ipset (kube-proxy's iptables
#   mode), busybox-static (the node's tools image: nslookup, wget inside a pod).
# Only packages that are missing are installed; apt-get update runs only when needed.
# Usage: hack/install-node-deps.sh
set -euo pipefail

# binary -> package
declare -A want=(
	[containerd]=containerd
	[ctr]=containerd
	[runc]=runc
	[/usr/lib/cni/bridge]=containernetworking-plugins
	[iptables]=iptables
	[conntrack]=conntrack
	[ipset]=ipset
	[/bin/busybox]=busybox-static
)
need=()
for b in "${!want[@]}"; do
	if [[ $b == /* ]]; then [[ -x $b ]] && continue; else command -v "$b" >/dev/null && continue; fi
	need+=("${want[$b]}")
done
if ((${#need[@]} == 0)); then
	echo "node deps: installed" >&2
	exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "node deps: apt-get install ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps Debian's containerd service from starting on the host: the
# cluster runs its own containerd inside its namespaces.
prc=/usr/sbin/policy-rc.d
made_prc=
if [[ ! -e $prc ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod +x "$prc" && made_prc=1
fi
trap '[[ -n $made_prc ]] && rm -f "$prc"' EXIT
apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
	{ apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }

# Shared settings for hack/kind/*.sh (sourced, not run).
# Needs: Docker (or a Docker-compatible engine kind supports), Go, kubectl.
set -euo pipefail
KIND_VERSION=${KIND_VERSION:-v0.33.0}
CLOUD_PROVIDER_KIND_VERSION=${CLOUD_PROVIDER_KIND_VERSION:-v0.10.0}
CLUSTER_NAME=${CLUSTER_NAME:-nghttpx-gateway}
# The image config/controller (and through --proxy-image every data plane) runs, and the
# archive `make image` writes it to (the reference inside the archive is this IMAGE).
IMAGE=ghcr.io/nghttpx-gateway/nghttpx-gateway:dev
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE_ARCHIVE=${IMAGE_ARCHIVE:-${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}/images/nghttpx-gateway.tar}
state=${KIND_STATE_DIR:-${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}/kind/$CLUSTER_NAME}
mkdir -p "$state"
KUBECONFIG_FILE=$state/kubeconfig
start=$(date +%s)

log() { printf '[kind %4ss] %s\n' "$(($(date +%s) - start))" "$*" >&2; }
kind() { go run "sigs.k8s.io/kind@$KIND_VERSION" "$@"; }
k() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

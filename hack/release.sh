#!/usr/bin/env bash
# Writes the artefacts of release VERSION under dist/ (make release VERSION=vX.Y.Z):
#   nghttpx-gateway-image-VERSION.tar  the image (hack/build-image.sh), tagged VERSION,
#                                      label org.opencontainers.image.version=VERSION
#   nghttpx-gateway-linux-amd64        the binary (nghttpx-gateway version prints VERSION)
#   install.yaml, crds-standard.yaml, crds-experimental.yaml,
#   nghttpx-gateway-X.Y.Z.tgz          manifests and chart (charts/cmd/release)
#   SHA256SUMS                         of all of the above
# Tags nothing and pushes nothing. Env: CACHE_DIR, GO, IMAGE_REPO
# (default ghcr.io/nghttpx-gateway/nghttpx-gateway), SKIP_IMAGE=1 leaves the image out
# (quick checks of the rest).
set -euo pipefail

VERSION=${1:?usage: $0 VERSION (vX.Y.Z)}
[[ $VERSION =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "release: VERSION $VERSION is not vX.Y.Z[-pre]" >&2; exit 1; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
GO=${GO:-go}
CACHE_DIR=${CACHE_DIR:-$HOME/.cache/nghttpx-gateway}
IMAGE_REPO=${IMAGE_REPO:-ghcr.io/nghttpx-gateway/nghttpx-gateway}
DIST=$repo/dist
rm -rf "$DIST"
mkdir -p "$DIST"

if [[ ${SKIP_IMAGE:-0} != 1 ]]; then
  IMAGE=$IMAGE_REPO:$VERSION IMAGE_VERSION=$VERSION OUT=$DIST/nghttpx-gateway-image-$VERSION.tar GO=$GO \
    bash hack/build-image.sh "$CACHE_DIR" >&2
fi
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$GO" build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.version=$VERSION" -o "$DIST/nghttpx-gateway-linux-amd64" ./cmd/nghttpx-gateway
(cd charts && "$GO" run ./cmd/release -version "$VERSION" -out "$DIST") >&2
if [[ $IMAGE_REPO != ghcr.io/nghttpx-gateway/nghttpx-gateway ]]; then
  # The chart and install.yaml name the default repository; say where the image went.
  echo "release: note: install.yaml and the chart name ghcr.io/nghttpx-gateway/nghttpx-gateway; set image.repository=$IMAGE_REPO" >&2
fi
(cd "$DIST" && sha256sum -- * > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
ls -l "$DIST" >&2
echo "$DIST"

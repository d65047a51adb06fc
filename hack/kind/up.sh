#!/usr/bin/env bash
# Creates a kind cluster, loads the image archive `make image` wrote (the same archive
# the local real-node cluster imports), starts cloud-provider-kind (LoadBalancer
# addresses for Gateways) and installs config/default unchanged. The last stdout line
# is the kubeconfig path.
# Env: CLUSTER_NAME, KIND_VERSION, CLOUD_PROVIDER_KIND_VERSION, KIND_STATE_DIR,
#      IMAGE_ARCHIVE (default $CACHE_DIR/images/nghttpx-gateway.tar).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$repo"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "cluster $CLUSTER_NAME exists"
else
  log "creating kind cluster $CLUSTER_NAME"
  kind create cluster --name "$CLUSTER_NAME" --wait 120s
fi
kind get kubeconfig --name "$CLUSTER_NAME" >"$KUBECONFIG_FILE"

[[ -f $IMAGE_ARCHIVE ]] || { log "no image archive $IMAGE_ARCHIVE: run 'sudo make image' first (see hack/kind/README.md)"; exit 1; }
# config/default names $IMAGE; an archive of another reference would leave pods unable to start.
grep -q "\"RepoTags\":\[\"$IMAGE\"\]" <(tar -xOf "$IMAGE_ARCHIVE" manifest.json) ||
  { log "$IMAGE_ARCHIVE does not hold $IMAGE (config/default's image); rebuild it with make image"; exit 1; }
log "loading $IMAGE_ARCHIVE ($IMAGE) into the cluster"
kind load image-archive --name "$CLUSTER_NAME" "$IMAGE_ARCHIVE"

# Services of type LoadBalancer (one per Gateway) need a cloud provider in kind.
if [[ -f $state/cloud-provider-kind.pid ]] && kill -0 "$(cat "$state/cloud-provider-kind.pid")" 2>/dev/null; then
  log "cloud-provider-kind already running"
else
  log "starting cloud-provider-kind $CLOUD_PROVIDER_KIND_VERSION (log: $state/cloud-provider-kind.log)"
  GOBIN=$state go install "sigs.k8s.io/cloud-provider-kind@$CLOUD_PROVIDER_KIND_VERSION"
  nohup "$state/cloud-provider-kind" >"$state/cloud-provider-kind.log" 2>&1 &
  echo $! >"$state/cloud-provider-kind.pid"
fi

# CRDs first (server-side: the HTTPRoute CRD is too big for client-side apply), then the rest.
log "installing CRDs"
k apply --server-side --force-conflicts -k config/crd >/dev/null
for r in gatewayclasses gateways httproutes referencegrants; do
  k wait --for=condition=Established --timeout=60s "crd/$r.gateway.networking.k8s.io" >/dev/null
done
log "installing config/default"
k apply --server-side --force-conflicts -k config/default >/dev/null
k -n nghttpx-gateway-system rollout status deployment/nghttpx-gateway --timeout=180s >&2
k wait --for=condition=Accepted --timeout=60s gatewayclass/nghttpx >&2
log "ready"
echo "$KUBECONFIG_FILE"

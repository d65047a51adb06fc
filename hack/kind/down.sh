#!/usr/bin/env bash
# Deletes the kind cluster and stops the cloud-provider-kind this directory started.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if [[ -f $state/cloud-provider-kind.pid ]]; then
  kill "$(cat "$state/cloud-provider-kind.pid")" 2>/dev/null || true
  rm -f "$state/cloud-provider-kind.pid"
fi
kind delete cluster --name "$CLUSTER_NAME"
rm -f "$KUBECONFIG_FILE"

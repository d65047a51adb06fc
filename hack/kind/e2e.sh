#!/usr/bin/env bash
# Runs the e2e suite (e2e/gateway) against the kind cluster made by up.sh (created
# first when missing). Extra arguments go to `go test`, e.g. -run TestTwoGateways.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kc=$(bash "$repo/hack/kind/up.sh" | tail -n 1)
cd "$repo"
log "running e2e against $kc"
E2E_KUBECONFIG=$kc go test -tags e2e -count=1 -timeout 30m ./e2e/gateway/... "$@"

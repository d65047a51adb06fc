# End-to-end suites (included by the main Makefile).
#   make e2e   build the binary, nghttpx, echo-basic and the local control plane, then run
#              every e2e package (each starts its own local cluster, root needed) one at a time;
#              e2e/node runs a real node, so the Debian packages of node-deps are installed first;
#              e2e/helm needs helm, built from the charts module into CACHE_DIR/bin.
# E2E_ARGS passes extra flags to go test, e.g. E2E_ARGS='-run TestGateway -v'.
# E2E_KUBECONFIG=<file> runs against an existing cluster instead (see hack/kind/README.md).
# E2E_NODE=real (default) runs every pod on a real node (kubelet, containerd) from the
# project image that make image builds; E2E_NODE=podrunner uses the kubelet stand-in and adds
# the in-process controller smoke test (kube/controller), whose path the real-node suites cover.
E2E_TIMEOUT ?= 45m
E2E_ARGS ?=
E2E_NODE ?= real

.PHONY: e2e

# helm, for e2e/helm: built from the charts module (which pins Helm v4).
HELM_BIN := $(CACHE_DIR)/bin/helm
$(HELM_BIN): charts/go.mod charts/go.sum
	@mkdir -p $(dir $@)
	cd charts && $(GO) build -o $@ helm.sh/helm/v4/cmd/helm

e2e: build echo node-deps $(HELM_BIN)
	@n=$$(bash hack/build-nghttpx.sh $(CACHE_DIR) | tail -n 1) && \
	k=$$(bash hack/build-k8s.sh $(CACHE_DIR) | tail -n 1) && \
	img=$$($(if $(filter real,$(E2E_NODE)),$(BUILD_IMAGE) | tail -n 1)) && \
	E2E_NODE=$(E2E_NODE) E2E_IMAGE_ARCHIVE=$$img \
	NGHTTPX_BIN=$$n K8S_BIN_DIR=$$k ECHO_BIN=$(ECHO_BIN) E2E_GATEWAY_BIN=$(CURDIR)/$(BIN) HELM_BIN=$(HELM_BIN) \
	$(GO) test -tags e2e -count=1 -p 1 -timeout $(E2E_TIMEOUT) $(E2E_ARGS) ./e2e/... $(if $(filter podrunner,$(E2E_NODE)),./kube/controller/)

# The control-plane outage scenarios of issue #19 at full length: the API server and then
# etcd frozen for 60 s each under load, and 1000 HTTPRoutes with the leader killed
# (CI runs the same tests through make e2e with 10 s outages and 200 routes). A top-level
# make for e2e: nested, the cache scripts' own make calls print directory lines that
# end up as the binary paths (NGHTTPX_BIN came out empty).
.PHONY: e2e-outage
e2e-outage:
	E2E_OUTAGE_SECONDS=$${E2E_OUTAGE_SECONDS:-60} E2E_LARGE_APPLY_ROUTES=$${E2E_LARGE_APPLY_ROUTES:-1000} \
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) e2e E2E_ARGS='-run TestOutage -v'

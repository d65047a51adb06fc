# Local Kubernetes for e2e/conformance (included by the main Makefile).
#   make k8s-bins      build etcd, kube-apiserver, kube-controller-manager, kubectl, echo-basic (cached)
#   make cluster       start a local cluster in its own network namespace (root); last line = kubeconfig
#   make cluster-down  stop it and remove every leftover (namespaces, routes, processes)
# Use it:  $(CACHE_DIR)/bin/localcluster exec --state $(CLUSTER_STATE) -- kubectl get pods -A
CACHE_DIR ?= $(HOME)/.cache/nghttpx-gateway
GO ?= go
CLUSTER_STATE ?= $(CACHE_DIR)/cluster
LOCALCLUSTER := $(CACHE_DIR)/bin/localcluster
# Extra image mappings, e.g. CLUSTER_IMAGES="--image ghcr.io/nghttpx-gateway/nghttpx-gateway=$(CURDIR)/bin/nghttpx-gateway"
CLUSTER_IMAGES ?=

.PHONY: k8s-bins cluster cluster-down localcluster

k8s-bins:
	@bash hack/build-k8s.sh $(CACHE_DIR)

# Built outside the repo: the detached cluster process re-executes this binary.
localcluster:
	@mkdir -p $(dir $(LOCALCLUSTER))
	$(GO) build -o $(LOCALCLUSTER) ./cmd/localcluster

cluster: localcluster
	@bin=$$(bash hack/build-k8s.sh $(CACHE_DIR) | tail -n 1) && \
	$(LOCALCLUSTER) up --state $(CLUSTER_STATE) --bin-dir $$bin --echo-bin $$bin/echo-basic $(CLUSTER_IMAGES)

cluster-down:
	@if [ -x $(LOCALCLUSTER) ]; then $(LOCALCLUSTER) down --state $(CLUSTER_STATE); \
	else $(GO) run ./cmd/localcluster down --state $(CLUSTER_STATE); fi

# Local Kubernetes for e2e/conformance (included by the main Makefile).
#   make k8s-bins      build etcd, kube-apiserver, kube-controller-manager, kubectl, echo-basic,
#                      kubelet, kube-proxy, kube-scheduler, coredns, pause (cached)
#   make node-deps     install Debian's containerd, runc, CNI plugins, iptables, conntrack, busybox-static
#   make cluster       start a local cluster in its own network namespace (root) with a real node
#                      (kubelet, containerd, kube-proxy, CoreDNS) that has the project image (make
#                      image) imported; CLUSTER_NODE=podrunner uses the kubelet stand-in instead
#   make cluster-down  stop it and remove every leftover (namespaces, routes, processes)
# Use it:  $(CACHE_DIR)/bin/localcluster exec --state $(CLUSTER_STATE) -- kubectl get pods -A
CACHE_DIR ?= $(HOME)/.cache/nghttpx-gateway
GO ?= go
CLUSTER_STATE ?= $(CACHE_DIR)/cluster
LOCALCLUSTER := $(CACHE_DIR)/bin/localcluster
# Extra image mappings, e.g. CLUSTER_IMAGES="--image ghcr.io/nghttpx-gateway/nghttpx-gateway=$(CURDIR)/bin/nghttpx-gateway"
CLUSTER_IMAGES ?=
# real (default) or podrunner (host processes standing in for kubelet).
CLUSTER_NODE ?= real
# Extra image archives for a real node, e.g. CLUSTER_NODE_IMAGES="--node-image $$(make -s image | tail -n 1)"
CLUSTER_NODE_IMAGES ?=

.PHONY: k8s-bins node-deps cluster cluster-down localcluster

k8s-bins:
	@bash hack/build-k8s.sh $(CACHE_DIR)

node-deps:
	@bash hack/install-node-deps.sh

# Built outside the repo: the detached cluster process re-executes this binary.
localcluster:
	@mkdir -p $(dir $(LOCALCLUSTER))
	$(GO) build -o $(LOCALCLUSTER) ./cmd/localcluster

cluster: localcluster $(if $(filter real,$(CLUSTER_NODE)),node-deps)
	@bin=$$(bash hack/build-k8s.sh $(CACHE_DIR) | tail -n 1) && \
	img=$$($(if $(filter real,$(CLUSTER_NODE)),$(BUILD_IMAGE) | tail -n 1)) && \
	$(LOCALCLUSTER) up --state $(CLUSTER_STATE) --node $(CLUSTER_NODE) $${img:+--node-image $$img} $(CLUSTER_NODE_IMAGES) --bin-dir $$bin --echo-bin $$bin/echo-basic $(CLUSTER_IMAGES)

cluster-down:
	@if [ -x $(LOCALCLUSTER) ]; then $(LOCALCLUSTER) down --state $(CLUSTER_STATE); \
	else $(GO) run ./cmd/localcluster down --state $(CLUSTER_STATE); fi

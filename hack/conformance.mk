# Gateway API conformance v1.6.3, GATEWAY-HTTP and GATEWAY-GRPC profiles (included by the main Makefile).
#   make conformance   build the binary (version stamped), nghttpx, echo-basic and the local
#                      control plane, start a local cluster (root), install config/default and run
#                      the suite inside the cluster network namespace. A full run writes
#                      conformance/reports/v1.6.3-nghttpx-gateway-report.yaml.
# Settings (environment or make variables):
#   CONFORMANCE_RUN=<ShortName>      one test, e.g. HTTPRouteSimpleSameNamespace (report -> artifacts)
#   CONFORMANCE_SKIP=<a,b>           skip tests (report -> artifacts)
#   CONFORMANCE_FEATURES=all|<a,b>   default: inferred from GatewayClass status.supportedFeatures;
#                                    "all" runs every extended test of both profiles (report -> artifacts)
#   CONFORMANCE_DEBUG=1              the suite logs every request and response
#   CONFORMANCE_KEEP=1               keep each test's objects; with CONFORMANCE_HOLD=30m the local
#                                    cluster stays up after the suite for a look (command printed)
#   CONFORMANCE_TIMEOUTS='MaxTimeToConsistency:90;...'   on top of the harness's stretched timeouts
#   CONFORMANCE_ARTIFACTS=<dir>      results.tsv, suite.log, per-failure diagnostics
#                                    (default $(CACHE_DIR)/conformance-artifacts/<time>)
#   CONFORMANCE_KUBECONFIG=<file>    run against that cluster (nghttpx-gateway already installed,
#                                    e.g. by hack/kind/up.sh); traffic then leaves from this host,
#                                    or from CONFORMANCE_NETNS=<ip netns name> when set.
#   CONFORMANCE_ARGS='-debug ...'    upstream suite flags passed to the test binary
CONFORMANCE_TIMEOUT ?= 60m
CONFORMANCE_ARGS ?=
CONFORMANCE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: conformance conformance-build

# The report names the implementation version the binary prints.
conformance-build:
	@mkdir -p bin
	$(GO) build -ldflags "-X main.version=$(CONFORMANCE_VERSION)" -o $(BIN) ./cmd/nghttpx-gateway

# E2E_NODE (hack/e2e.mk, default real): the controller and data planes run as real
# pods from the image make image builds.
conformance: conformance-build echo node-deps
	@n=$$(bash hack/build-nghttpx.sh $(CACHE_DIR) | tail -n 1) && \
	k=$$(bash hack/build-k8s.sh $(CACHE_DIR) | tail -n 1) && \
	img=$$($(if $(filter real,$(E2E_NODE)),$(BUILD_IMAGE) | tail -n 1)) && \
	E2E_NODE=$(E2E_NODE) E2E_IMAGE_ARCHIVE=$$img \
	NGHTTPX_BIN=$$n K8S_BIN_DIR=$$k ECHO_BIN=$(ECHO_BIN) CONFORMANCE_GATEWAY_BIN=$(CURDIR)/$(BIN) \
	$(GO) test -tags conformance -count=1 -v -run '^TestConformance$$' -timeout $(CONFORMANCE_TIMEOUT) ./conformance/ $(if $(CONFORMANCE_ARGS),-args $(CONFORMANCE_ARGS))

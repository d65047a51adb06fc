# Everything installed or built outside the repository is cached under CACHE_DIR.
CACHE_DIR ?= $(HOME)/.cache/nghttpx-gateway
export CACHE_DIR
GO ?= go
BIN := bin/nghttpx-gateway
ECHO_BIN := $(CACHE_DIR)/bin/echo-basic

include hack/cluster.mk
include hack/e2e.mk
include hack/conformance.mk

.PHONY: conformance-ci all build nghttpx echo test unit integration fuzz run bench bench-peers faults translate-golden fmt vet lint golden clean

all: build

build:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/nghttpx-gateway

# Builds nghttpx (mruby, HTTP/3, eBPF) from Debian sources; the last line is its path.
nghttpx:
	@bash hack/build-nghttpx.sh $(CACHE_DIR)

# The Gateway API conformance echo server, used as the backend in tests and `make run`.
echo: $(ECHO_BIN)
$(ECHO_BIN): go.mod go.sum
	@mkdir -p $(dir $@)
	$(GO) build -o $@ sigs.k8s.io/gateway-api/conformance/echo-basic

NGHTTPX_BIN = $(shell bash hack/build-nghttpx.sh $(CACHE_DIR) 2>/dev/null | tail -n 1)

# charts/ is a module of its own (Helm v4 needs newer Kubernetes modules than ours).
unit:
	$(GO) test ./...
	cd charts && $(GO) test ./...

# -p 1: one package at a time; the HTTP/3 reload and load tests measure refused
# connections and set-up times, which two packages' h2load runs on 2 cores would skew.
integration: echo
	@n=$$(bash hack/build-nghttpx.sh $(CACHE_DIR) | tail -n 1) && \
	NGHTTPX_BIN=$$n ECHO_BIN=$(ECHO_BIN) $(GO) test -tags integration -count=1 -p 1 ./...

run: build echo
	@n=$$(bash hack/build-nghttpx.sh $(CACHE_DIR) | tail -n 1) && \
	bash hack/run-quickstart.sh $(BIN) $$n $(ECHO_BIN)

# Fuzzing for a fixed time: no user string may add a directive or a line, and no
# object may stop its Gateway from rendering (FuzzTranslate).
fuzz:
	$(GO) test ./dataplane/render -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 15s
	$(GO) test ./dataplane/render -run '^$$' -fuzz '^FuzzRenderProxy$$' -fuzztime 15s
	$(GO) test ./pipeline -run '^$$' -fuzz '^FuzzTranslate$$' -fuzztime 15s

test: lint build unit integration fuzz e2e conformance-ci

# Translation/render benchmarks and apply latency against a real nghttpx -> bench/results.md.
bench: echo
	GO=$(GO) bash hack/bench.sh

# The fault suite (kills of nghttpx, hostile clients) with longer phases -> bench/reliability.md.
faults:
	GO=$(GO) bash hack/faults.sh

# The data plane next to plain nghttpx, nginx and HAProxy (Debian), one worker pinned
# to CPU 0: req/s and CPU per request, 1 and 5000 routes -> bench/peers.md.
bench-peers:
	GO=$(GO) bash hack/bench-peers.sh

# The conformance suite as CI runs it: every claimed feature, report kept out of the tree
# (`make conformance` alone refreshes conformance/reports/, then go test ./conformance -update
# refreshes the README table).
conformance-ci:
	@$(MAKE) --no-print-directory conformance CONFORMANCE_REPORT=$(CACHE_DIR)/conformance-ci-report.yaml

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

# Rewrites the golden files of every package whose tests use internal/golden (its -update
# flag), then shows what changed: review it before committing.
GOLDEN_PKGS = $(shell $(GO) list -f '{{range .TestImports}}{{if eq . "github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"}}{{$$.ImportPath}}{{end}}{{end}}{{range .XTestImports}}{{if eq . "github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"}}{{$$.ImportPath}}{{end}}{{end}}' ./...)
golden:
	$(GO) test -count=1 $(GOLDEN_PKGS) -update
	cd charts && $(GO) test -count=1 . -update
	@git diff --stat

# go vet and the pinned staticcheck (hack/tools/lint) over every build tag set in use.
lint:
	@GO=$(GO) bash hack/lint.sh $(CACHE_DIR)

clean:
	rm -rf bin

# The project image without Docker (hack/build-image.sh): a docker-archive for docker load,
# kind load image-archive and ctr images import. Last line: the archive path.
IMAGE ?= ghcr.io/nghttpx-gateway/nghttpx-gateway:dev
BUILD_IMAGE = IMAGE=$(IMAGE) GO=$(GO) bash hack/build-image.sh $(CACHE_DIR)
.PHONY: image
image:
	@$(BUILD_IMAGE)

# Release artefacts under dist/ (gitignored): image archive, binary, install.yaml,
# crds-standard.yaml, crds-experimental.yaml, the chart .tgz and SHA256SUMS, all
# stamped with VERSION (vX.Y.Z). Tags nothing. SKIP_IMAGE=1 leaves the image out.
.PHONY: release
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=vX.Y.Z" >&2; exit 1; }
	@GO=$(GO) bash hack/release.sh $(VERSION)

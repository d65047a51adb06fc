# The project image: nghttpx-gateway plus the full-featured nghttpx (mruby, HTTP/3, eBPF),
# for users with Docker:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t ghcr.io/nghttpx-gateway/nghttpx-gateway:dev .
# `make image` builds the same image without Docker (hack/build-image.sh). Both take the
# build steps from hack/build-nghttpx.sh and hack/image/ (packages.txt, finish-rootfs.sh,
# stage-nghttpx.sh); the test in hack/image fails when this file and hack/image/image.args
# drift (files, file capabilities, user, entrypoint, env, labels, packages).

FROM debian:bookworm AS nghttpx
COPY hack/build-nghttpx.sh /src/hack/build-nghttpx.sh
COPY hack/nghttpx-patches/ /src/hack/nghttpx-patches/
COPY hack/image/stage-nghttpx.sh /src/hack/image/stage-nghttpx.sh
RUN apt-get update -qq && apt-get install -y -qq ca-certificates util-linux >/dev/null \
 && bash /src/hack/build-nghttpx.sh /cache | tail -n 1 > /cache/nghttpx-path \
 && sh /src/hack/image/stage-nghttpx.sh "$(cat /cache/nghttpx-path)" /out

FROM golang:1.26-bookworm AS gateway
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/nghttpx-gateway ./cmd/nghttpx-gateway

FROM debian:bookworm-slim
ARG VERSION=dev
ARG REVISION=unknown
COPY hack/image/packages.txt hack/image/finish-rootfs.sh /tmp/image/
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends $(sed 's/#.*//' /tmp/image/packages.txt) >/dev/null \
 && sh /tmp/image/finish-rootfs.sh /
COPY --from=nghttpx /out/bin/nghttpx /out/bin/nghttpx-bpf /out/bin/h2load /usr/local/bin/
COPY --from=nghttpx /out/lib/bpf/reuseport_kern.o /usr/local/lib/bpf/reuseport_kern.o
COPY --from=gateway /out/nghttpx-gateway /usr/local/bin/nghttpx-gateway
# The proxy runs as non-root and Kubernetes sets no ambient capabilities, so nghttpx
# gets capabilities only from file capabilities (kept by exec only within the
# container's bounding set, refused outright when one is missing there, ignored
# under allowPrivilegeEscalation=false). The plain nghttpx has none (ports below
# 1024 come from the pod's ip_unprivileged_port_start sysctl; a file capability
# would make it unrunnable where NET_BIND_SERVICE is not in the bounding set).
# nghttpx-bpf, which the provisioner uses only where it adds BPF and PERFMON
# (GatewayClass parameter quicBPF), loads the eBPF QUIC steering program (its maps
# are charged to the memory cgroup, so no SYS_RESOURCE). Set here, not in the build stage: COPY does not reliably keep xattrs.
# setcap (libcap2-bin) is needed only for this step.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libcap2-bin >/dev/null \
 && setcap cap_net_bind_service,cap_bpf,cap_perfmon+ep /usr/local/bin/nghttpx-bpf \
 && apt-get purge -y -qq --auto-remove libcap2-bin >/dev/null \
 && sh /tmp/image/finish-rootfs.sh / && rm -rf /tmp/image
# The original nghttpx Ingress controller's command: run under that name, the
# binary is its drop-in (serve with the original's defaults).
RUN ln -s /usr/local/bin/nghttpx-gateway /nghttpx-ingress-controller
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV NGHTTPX_BIN=/usr/local/bin/nghttpx
LABEL org.opencontainers.image.source=https://github.com/nghttpx-gateway/nghttpx-gateway
LABEL org.opencontainers.image.version=${VERSION}
LABEL org.opencontainers.image.revision=${REVISION}
USER 65532
ENTRYPOINT ["/usr/local/bin/nghttpx-gateway"]

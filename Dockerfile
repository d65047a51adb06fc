# The project image: nghttpx-gateway plus the full-featured nghttpx (mruby, HTTP/3, eBPF).
# It cannot be built on the project's own CI machines (no Docker engine there); the
# build steps live in hack/build-nghttpx.sh, which this file runs unchanged.

FROM debian:bookworm AS nghttpx
COPY hack/build-nghttpx.sh /src/hack/build-nghttpx.sh
COPY hack/nghttpx-patches/ /src/hack/nghttpx-patches/
RUN apt-get update -qq && apt-get install -y -qq ca-certificates python3 util-linux >/dev/null \
 && bash /src/hack/build-nghttpx.sh /cache | tail -n 1 > /cache/nghttpx-path \
 && mkdir -p /out/bin /out/lib/bpf \
 && dir=$(dirname "$(cat /cache/nghttpx-path)") \
 && cp "$dir/nghttpx" "$dir/h2load" /out/bin/ \
 && cp "$dir/../lib/bpf/reuseport_kern.o" /out/lib/bpf/

FROM golang:1.26-bookworm AS gateway
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/nghttpx-gateway ./cmd/nghttpx-gateway

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libev4 libc-ares2 libjemalloc2 libnghttp2-14 libnghttp3-3 android-libboringssl \
      libbpf1 libsystemd0 zlib1g libjansson4 libxml2 ca-certificates libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home nghttpx
COPY --from=nghttpx /out/bin/ /usr/local/bin/
COPY --from=nghttpx /out/lib/bpf/reuseport_kern.o /usr/local/lib/bpf/reuseport_kern.o
COPY --from=gateway /out/nghttpx-gateway /usr/local/bin/nghttpx-gateway
# The proxy runs as non-root and Kubernetes sets no ambient capabilities, so nghttpx
# gets capabilities only from file capabilities (kept by exec only within the
# container's bounding set, refused outright when one is missing there, ignored
# under allowPrivilegeEscalation=false). The plain nghttpx has none (ports below
# 1024 come from the pod's ip_unprivileged_port_start sysctl; a file capability
# would make it unrunnable where NET_BIND_SERVICE is not in the bounding set).
# nghttpx-bpf, which the provisioner uses only where it adds BPF, PERFMON and
# SYS_RESOURCE (GatewayClass parameter quicBPF), loads the eBPF QUIC steering
# program. Set here, not in the build stage: COPY does not reliably keep xattrs.
RUN cp /usr/local/bin/nghttpx /usr/local/bin/nghttpx-bpf \
 && setcap cap_net_bind_service,cap_bpf,cap_perfmon,cap_sys_resource+ep /usr/local/bin/nghttpx-bpf
ENV NGHTTPX_BIN=/usr/local/bin/nghttpx
USER 65532
ENTRYPOINT ["/usr/local/bin/nghttpx-gateway"]

#!/usr/bin/env bash
# Builds nghttpx and h2load with mruby, HTTP/3 (ngtcp2 + nghttp3 over BoringSSL) and
# eBPF QUIC steering, from Debian bookworm packages and source packages only.
#
# Usage: hack/build-nghttpx.sh CACHE_DIR
# Idempotent: a second run with the same pins prints the binary path in seconds.
# The last line printed is the absolute path of the built nghttpx.
# The Dockerfile runs this same script, so it is the single source of the build steps.
set -euo pipefail

CACHE_DIR=${1:?usage: $0 CACHE_DIR}
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)

# Pins: Debian bookworm source package versions (upstream version in brackets).
NGHTTP2_SRC_VERSION=1.52.0-1+deb12u3 # nghttp2 1.52.0
NGTCP2_SRC_VERSION=0.12.1+dfsg-1+deb12u1 # ngtcp2 0.12.1
MRUBY_SRC_VERSION=3.1.0-3 # mruby 3.1.0 (exactly what nghttp2 1.52.0 pins)
NGHTTP3_PKG_VERSION=0.8.0-2 # libnghttp3-dev, used as is
BORINGSSL_PKG_VERSION=13.0.0+r24-2 # android-libboringssl-dev
LIBBPF_PKG_VERSION=1:1.1.2-0+deb12u1 # libbpf-dev
# Bump when the patches or configure flags below change, so the cache is rebuilt.
RECIPE=4

# Feature patches: one Python file each (it calls patch(path, subs), see below), applied
# in name order after the build fixes. Their content is part of the cache key.
PATCH_DIR=${NGHTTPX_PATCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/nghttpx-patches}
PATCH_SUM=""
if compgen -G "$PATCH_DIR/*.py" >/dev/null; then
  PATCH_SUM=_p$(cat "$PATCH_DIR"/*.py | sha256sum | cut -c1-10)
fi
export NGHTTPX_PATCH_DIR=$PATCH_DIR

KEY="nghttp2-${NGHTTP2_SRC_VERSION}_ngtcp2-${NGTCP2_SRC_VERSION}_mruby-${MRUBY_SRC_VERSION}_r${RECIPE}${PATCH_SUM}"
KEY=${KEY//[:+~]/_}
PREFIX="$CACHE_DIR/nghttpx/$KEY"
BIN="$PREFIX/bin/nghttpx"

start=$(date +%s)
# One build at a time per cache: a concurrent run waits, then finds the cached result.
exec 9>"$CACHE_DIR/.build.lock"
if ! flock -n 9; then
  echo "build-nghttpx: another build is running in $CACHE_DIR; waiting for it" >&2
  flock 9
fi
step() { printf '==> [%3ss] %s\n' "$(($(date +%s) - start))" "$*" >&2; }
die() { printf 'build-nghttpx: %s\n' "$*" >&2; exit 1; }

print_versions() {
  cat >&2 <<EOF
versions: nghttp2 ${NGHTTP2_SRC_VERSION} | ngtcp2 ${NGTCP2_SRC_VERSION} (static, BoringSSL crypto) | nghttp3 ${NGHTTP3_PKG_VERSION} | mruby ${MRUBY_SRC_VERSION} | BoringSSL (android-libboringssl-dev) ${BORINGSSL_PKG_VERSION} | libbpf ${LIBBPF_PKG_VERSION}
EOF
}

if [[ -x "$BIN" && -f "$PREFIX/.complete" && -f "$PREFIX/lib/bpf/reuseport_kern.o" ]]; then
  step "cached: $BIN"
  print_versions
  echo "$BIN"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# --- 1. Debian source entries -----------------------------------------------------------
SRC_LIST=/etc/apt/sources.list.d/nghttpx-gateway-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  step "adding deb-src entry $SRC_LIST"
  $SUDO tee "$SRC_LIST" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $SUDO apt-get update -qq || die "apt-get update failed: check the Debian mirror in /etc/apt/sources.list.d/"
fi

# --- 2. Build packages ------------------------------------------------------------------
PKGS=(dpkg-dev build-essential autoconf automake libtool pkg-config
  libev-dev libc-ares-dev zlib1g-dev libjansson-dev libjemalloc-dev libxml2-dev libsystemd-dev
  libbpf-dev libelf-dev clang llvm libnghttp3-dev android-libboringssl-dev ruby bison libcap2-bin)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${#missing[@]} build packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null ||
      die "could not install: ${missing[*]} (not in the Debian mirror?)"
  fi
else
  step "build packages present"
fi

# --- 3. Sources -------------------------------------------------------------------------
SRC="$CACHE_DIR/src"
mkdir -p "$SRC"
fetch_source() { # name version dir
  local name=$1 version=$2 dir=$3
  if [[ -d "$SRC/$dir" ]]; then return; fi
  step "apt-get source $name=$version"
  local tmp
  tmp=$(mktemp -d "$SRC/.fetch.XXXXXX")
  (cd "$tmp" && apt-get source -qq "$name=$version" >/dev/null 2>&1) ||
    die "apt-get source $name=$version failed: the source package is missing from the mirror"
  local got
  got=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
  [[ -n "$got" ]] || die "apt-get source $name produced no directory"
  mv "$got" "$SRC/$dir"
  rm -rf "$tmp"
}
fetch_source ngtcp2 "$NGTCP2_SRC_VERSION" ngtcp2
fetch_source mruby "$MRUBY_SRC_VERSION" mruby
fetch_source nghttp2 "$NGHTTP2_SRC_VERSION" nghttp2

BSSL_INC=/usr/include/android
BSSL_LIB=/usr/lib/x86_64-linux-gnu/android
[[ -f "$BSSL_INC/openssl/ssl.h" && -f "$BSSL_LIB/libssl.so" ]] ||
  die "BoringSSL not found under $BSSL_INC / $BSSL_LIB (package android-libboringssl-dev)"
JOBS=$(nproc)

# --- 4. ngtcp2 (static, BoringSSL crypto backend) ---------------------------------------
NGTCP2_PREFIX="$CACHE_DIR/build/ngtcp2"
if [[ ! -f "$NGTCP2_PREFIX/lib/libngtcp2.a" ]]; then
  step "building ngtcp2 (static, BoringSSL)"
  build="$CACHE_DIR/build/ngtcp2-src"
  rm -rf "$build" && mkdir -p "$CACHE_DIR/build" && cp -a "$SRC/ngtcp2" "$build"
  (
    cd "$build"
    autoreconf -fi >/dev/null 2>&1
    ./configure -q --prefix="$NGTCP2_PREFIX" --enable-lib-only --disable-shared --enable-static --with-pic \
      --with-boringssl --without-openssl --without-gnutls \
      BORINGSSL_CFLAGS="-I$BSSL_INC" BORINGSSL_LIBS="-L$BSSL_LIB -lssl -lcrypto" >/dev/null
    make -s -j"$JOBS" >/dev/null
    make -s install >/dev/null
  ) || die "ngtcp2 build failed (see output above)"
else
  step "ngtcp2 cached"
fi

# --- 5. nghttp2 with mruby, HTTP/3 and libbpf -------------------------------------------
step "preparing nghttp2 source"
build="$CACHE_DIR/build/nghttp2-src"
rm -rf "$build" && cp -a "$SRC/nghttp2" "$build"
rm -rf "$build/third-party/mruby" && cp -a "$SRC/mruby" "$build/third-party/mruby"
cd "$build"

# nghttp2 1.52 asks for ngtcp2 >= 0.13; 0.12 differs only in the QUIC token fields.
sed -i 's/libngtcp2 >= 0\.13\.0/libngtcp2 >= 0.12.0/; s/libngtcp2_crypto_boringssl >= 0\.13\.0/libngtcp2_crypto_boringssl >= 0.12.0/; s/libngtcp2_crypto_openssl >= 0\.13\.0/libngtcp2_crypto_openssl >= 0.12.0/' configure.ac
python3 - <<'PY'
import sys
# subs: (old, new) or (old, new, count); every occurrence is replaced. Exits when old is
# missing, or found other than count times.
def patch(path, subs):
    s = open(path).read()
    for old, new, *count in subs:
        n = s.count(old)
        if n == 0 or (count and n != count[0]):
            sys.exit(f"build-nghttpx: patch target found {n} times in {path}: {old!r}")
        s = s.replace(old, new)
    open(path, "w").write(s)

# ngtcp2 0.12 carries the QUIC token as an ngtcp2_vec (0.13 split it into token + tokenlen).
patch("src/shrpx_http3_upstream.cc", [
    ("settings.token = token;\n  settings.tokenlen = tokenlen;",
     "settings.token.base = const_cast<uint8_t *>(token);\n  settings.token.len = tokenlen;"),
])
patch("src/shrpx_quic_connection_handler.cc", [
    ("hd.tokenlen", "hd.token.len"),
    ("hd.token[", "hd.token.base["),
    ("hd.token,", "hd.token.base,"),
    ("= hd.token;", "= hd.token.base;"),
])
# Clear mrb->exc after an unhandled exception in run_app(), or every later request on
# that mruby context is answered 500 until a reload (upstream bug).
patch("src/shrpx_mruby.cc", [
    ("    LOG(ERROR) << \"Exception caught while executing mruby code: \"\n               << mrb_str_to_cstr(mrb_, inspect);\n  }\n",
     "    LOG(ERROR) << \"Exception caught while executing mruby code: \"\n               << mrb_str_to_cstr(mrb_, inspect);\n    mrb_->exc = nullptr;\n  }\n"),
])

# Reload without refusing QUIC connections, and without an outage when the new worker
# process dies during start-up. Upstream 1.52 tells the old worker process to shut down
# right after fork(): it then refuses new QUIC connections (CONNECTION_REFUSED) while the
# new one has no QUIC socket yet, and if the new one dies the proxy serves nothing.
# 1. The new worker process writes one byte to the main process over its QUIC IPC
#    socketpair once it is set up (sockets bound, eBPF program attached), right before
#    its event loop. Only then does the main process retire the older worker processes
#    (SHRPX_IPC_HANDOVER). A worker that exits before that leaves the old one serving.
# 2. A worker retired by a handover stops receiving new QUIC flows: it connects each
#    QUIC socket to its own address, so the kernel's SO_REUSEPORT selection skips it
#    (Linux >= 5.4); the ready successor gets every flow and forwards those of the old
#    connections back over the existing QUIC IPC. It handles the datagrams already
#    queued before it starts draining, so none is refused. SIGQUIT (no successor) and a
#    failed connect() keep upstream's behaviour.
# 3. eBPF: the steering program replaces the old one when attached, so it is attached
#    from the last worker thread's socket, once every socket is in its maps; attached
#    from the first one (upstream) it drops what it steers to sockets not created yet.
# 4. Without eBPF, packets reaching the wrong worker thread are forwarded (see below).
patch("src/shrpx_process.h", [
    ("constexpr uint8_t SHRPX_IPC_GRACEFUL_SHUTDOWN = 2;\n",
     "constexpr uint8_t SHRPX_IPC_GRACEFUL_SHUTDOWN = 2;\n"
     "// Graceful shutdown because a newer worker process is ready.\n"
     "constexpr uint8_t SHRPX_IPC_HANDOVER = 3;\n"),
])
patch("src/shrpx_connection_handler.h", [
    ("  bool get_graceful_shutdown() const;\n",
     "  bool get_graceful_shutdown() const;\n"
     "  // true once a newer worker process took over (SHRPX_IPC_HANDOVER).\n"
     "  void set_handover(bool f) { handover_ = f; }\n"
     "  bool get_handover() const { return handover_; }\n", 1),
    ("  bool graceful_shutdown_;\n",
     "  bool graceful_shutdown_;\n  bool handover_ = false;\n", 1),
])
patch("src/shrpx_worker_process.cc", [
    ("    case SHRPX_IPC_GRACEFUL_SHUTDOWN:\n      graceful_shutdown(conn_handler);\n      break;\n",
     "    case SHRPX_IPC_GRACEFUL_SHUTDOWN:\n      graceful_shutdown(conn_handler);\n      break;\n"
     "    case SHRPX_IPC_HANDOVER:\n"
     "      conn_handler->set_handover(true);\n"
     "      graceful_shutdown(conn_handler);\n"
     "      break;\n", 1),
    ("  ev_run(loop, 0);\n\n  conn_handler->cancel_ocsp_update();\n",
     "#ifdef ENABLE_HTTP3\n"
     "  // Ready: the main process retires the older worker processes now.\n"
     "  {\n"
     "    uint8_t ready = 1;\n"
     "    while (send(wpconf->quic_ipc_fd, &ready, 1, 0) == -1 && errno == EINTR)\n"
     "      ;\n"
     "  }\n"
     "#endif // ENABLE_HTTP3\n\n"
     "  ev_run(loop, 0);\n\n  conn_handler->cancel_ocsp_update();\n", 1),
])
patch("src/shrpx_worker.cc", [
    ("    WLOG(NOTICE, this) << \"Graceful shutdown commencing\";\n\n    graceful_shutdown_ = true;\n",
     "    WLOG(NOTICE, this) << \"Graceful shutdown commencing\";\n\n    set_graceful_shutdown(true);\n", 1),
    ("void Worker::set_graceful_shutdown(bool f) { graceful_shutdown_ = f; }\n",
     "void Worker::set_graceful_shutdown(bool f) {\n"
     "#ifdef ENABLE_HTTP3\n"
     "  // Handover: a connected UDP socket gets only its peer's datagrams and\n"
     "  // SO_REUSEPORT selection skips it, so new flows go to the ready successor.\n"
     "  // Handle what was queued before as usual (not refused): nobody else will.\n"
     "  for (size_t i = 0; f && conn_handler_->get_handover() &&\n"
     "                     i < quic_listeners_.size();\n"
     "       ++i) {\n"
     "    auto &addr = quic_upstream_addrs_[i];\n"
     "    sockaddr_union su;\n"
     "    socklen_t len = sizeof(su);\n"
     "    if (getsockname(addr.fd, &su.sa, &len) != 0 ||\n"
     "        connect(addr.fd, &su.sa, len) != 0) {\n"
     "      auto error = errno;\n"
     "      std::array<char, STRERROR_BUFSIZE> errbuf;\n"
     "      LOG(WARN) << \"QUIC handover: could not detach \" << addr.hostport\n"
     "                << \": \" << xsi_strerror(error, errbuf.data(), errbuf.size());\n"
     "      continue;\n"
     "    }\n"
     "    // on_read() reads up to 10 datagrams; the receive buffer holds < 640.\n"
     "    int n;\n"
     "    for (size_t j = 0; j < 64 && ioctl(addr.fd, FIONREAD, &n) == 0 && n > 0;\n"
     "         ++j) {\n"
     "      quic_listeners_[i]->on_read();\n"
     "    }\n"
     "  }\n"
     "#endif // ENABLE_HTTP3\n"
     "  graceful_shutdown_ = f;\n"
     "}\n", 1),
    ("#include <cstdio>\n#include <memory>\n",
     "#include <sys/ioctl.h>\n\n#include <cstdio>\n#include <memory>\n", 1),
    # 3. Attach the eBPF program last (see above).
    ("      auto prog_fd = bpf_program__fd(prog);\n\n"
     "      if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,\n"
     "                     static_cast<socklen_t>(sizeof(prog_fd))) == -1) {\n"
     "        LOG(FATAL) << \"Failed to attach bpf program: \"\n"
     "                   << xsi_strerror(errno, errbuf.data(), errbuf.size());\n"
     "        close(fd);\n"
     "        return -1;\n"
     "      }\n"
     "    }\n",
     "    }\n", 1),
    ("        LOG(FATAL) << \"Failed to update cid_prefix_map: \"\n"
     "                   << xsi_strerror(-rv, errbuf.data(), errbuf.size());\n"
     "        close(fd);\n"
     "        return -1;\n"
     "      }\n"
     "    }\n",
     "        LOG(FATAL) << \"Failed to update cid_prefix_map: \"\n"
     "                   << xsi_strerror(-rv, errbuf.data(), errbuf.size());\n"
     "        close(fd);\n"
     "        return -1;\n"
     "      }\n\n"
     "      // The last socket of this process: every socket is in the maps now.\n"
     "      if (sk_index + 1 == config->num_worker) {\n"
     "        auto prog =\n"
     "            bpf_object__find_program_by_name(ref.obj, \"select_reuseport\");\n"
     "        auto prog_fd = prog ? bpf_program__fd(prog) : -1;\n"
     "        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,\n"
     "                       static_cast<socklen_t>(sizeof(prog_fd))) == -1) {\n"
     "          LOG(FATAL) << \"Failed to attach bpf program: \"\n"
     "                     << xsi_strerror(errno, errbuf.data(), errbuf.size());\n"
     "          close(fd);\n"
     "          return -1;\n"
     "        }\n"
     "      }\n"
     "    }\n", 1),
])
patch("src/shrpx_quic_connection_handler.cc", [
    # 4. Without eBPF, SO_REUSEPORT hashing moves flows between the worker threads of a
    # process whenever sockets join or leave the group (every reload). Upstream forwards
    # only short-header packets to the thread owning their CID and takes the others
    # (Handshake, the client's later Initials) for new connections: forward them all.
    ("          return 0;\n        }\n      }\n    }\n\n    // new connection\n",
     "          return 0;\n        }\n\n"
     "        if (!config->single_thread &&\n"
     "            !std::equal(std::begin(decrypted_dcid),\n"
     "                        std::begin(decrypted_dcid) + SHRPX_QUIC_CID_PREFIXLEN,\n"
     "                        worker_->get_cid_prefix()) &&\n"
     "            conn_handler->forward_quic_packet(faddr, remote_addr, local_addr, pi,\n"
     "                                              decrypted_dcid.data(), data,\n"
     "                                              datalen) == 0) {\n"
     "          return 0;\n"
     "        }\n"
     "      }\n    }\n\n    // new connection\n", 1),
])
patch("src/shrpx.cc", [
    ("void worker_process_child_cb(struct ev_loop *loop, ev_child *w, int revents);\n} // namespace\n",
     "void worker_process_child_cb(struct ev_loop *loop, ev_child *w, int revents);\n} // namespace\n\n"
     "#ifdef ENABLE_HTTP3\n"
     "namespace {\n"
     "void worker_process_ready_cb(struct ev_loop *loop, ev_io *w, int revents);\n"
     "} // namespace\n"
     "#endif // ENABLE_HTTP3\n", 1),
    ("    worker_process_childev.data = this;\n    ev_child_start(loop, &worker_process_childev);\n  }\n",
     "    worker_process_childev.data = this;\n    ev_child_start(loop, &worker_process_childev);\n"
     "#ifdef ENABLE_HTTP3\n"
     "    ev_io_init(&ready_ev, worker_process_ready_cb, quic_ipc_fd, EV_READ);\n"
     "    ready_ev.data = this;\n"
     "    ev_io_start(loop, &ready_ev);\n"
     "#endif // ENABLE_HTTP3\n"
     "  }\n", 1),
    ("    ev_child_stop(loop, &worker_process_childev);\n\n#ifdef ENABLE_HTTP3\n",
     "    ev_child_stop(loop, &worker_process_childev);\n\n#ifdef ENABLE_HTTP3\n"
     "    ev_io_stop(loop, &ready_ev);\n", 1),
    ("    ev_signal_stop(loop, &reload_signalev);\n  }\n",
     "    ev_signal_stop(loop, &reload_signalev);\n  }\n\n"
     "  void start_signal_watchers() {\n"
     "    ev_signal_start(loop, &reopen_log_signalev);\n"
     "    ev_signal_start(loop, &exec_binary_signalev);\n"
     "    ev_signal_start(loop, &graceful_shutdown_signalev);\n"
     "    ev_signal_start(loop, &reload_signalev);\n"
     "  }\n", 1),
    ("  ev_tstamp termination_deadline;\n#ifdef ENABLE_HTTP3\n",
     "  ev_tstamp termination_deadline;\n"
     "  // true once told to shut down (graceful shutdown or handover).\n"
     "  bool retired = false;\n"
     "#ifdef ENABLE_HTTP3\n"
     "  // Readable when the worker process is ready (one byte on quic_ipc_fd).\n"
     "  ev_io ready_ev;\n", 1),
    # SIGQUIT: older worker processes may still serve (successor not ready yet).
    ("    ipc_send(wp, SHRPX_IPC_GRACEFUL_SHUTDOWN);\n    worker_process_set_termination_deadline(wp, loop);\n    return;\n",
     "    for (auto &p : worker_processes) {\n"
     "      if (p->retired && p.get() != wp) {\n"
     "        continue;\n"
     "      }\n"
     "      p->retired = true;\n"
     "      ipc_send(p.get(), SHRPX_IPC_GRACEFUL_SHUTDOWN);\n"
     "      worker_process_set_termination_deadline(p.get(), loop);\n"
     "    }\n"
     "    return;\n", 1),
    ("  auto pid = wp->worker_pid;\n\n  worker_process_remove(wp, loop);\n",
     "  auto pid = wp->worker_pid;\n\n"
     "  // The newest worker process died before its predecessor was retired: that\n"
     "  // one keeps serving and handles the signals again (before the dead one's\n"
     "  // watchers stop, so that SIGHUP never has its default action).\n"
     "  if (worker_processes.size() > 1 && worker_processes.back().get() == wp) {\n"
     "    auto &prev = worker_processes[worker_processes.size() - 2];\n"
     "    if (!prev->retired) {\n"
     "      LOG(ERROR) << \"Failed to process new configuration: worker process [\"\n"
     "                 << pid << \"] exited before it was ready; worker process [\"\n"
     "                 << prev->worker_pid << \"] keeps serving\";\n"
     "      prev->start_signal_watchers();\n"
     "    }\n"
     "  }\n\n"
     "  worker_process_remove(wp, loop);\n", 1),
    ("  // Send last worker process a graceful shutdown notice\n"
     "  auto &last_wp = worker_processes.back();\n"
     "  ipc_send(last_wp.get(), SHRPX_IPC_GRACEFUL_SHUTDOWN);\n"
     "  worker_process_set_termination_deadline(last_wp.get(), loop);\n",
     "  auto &last_wp = worker_processes.back();\n"
     "#ifndef ENABLE_HTTP3\n"
     "  // Send last worker process a graceful shutdown notice\n"
     "  last_wp->retired = true;\n"
     "  ipc_send(last_wp.get(), SHRPX_IPC_GRACEFUL_SHUTDOWN);\n"
     "  worker_process_set_termination_deadline(last_wp.get(), loop);\n"
     "#endif // !ENABLE_HTTP3\n"
     "  // With HTTP/3 the new worker process retires it once ready:\n"
     "  // worker_process_ready_cb.\n", 1),
    ("namespace {\nvoid worker_process_child_cb(struct ev_loop *loop, ev_child *w, int revents) {\n",
     "#ifdef ENABLE_HTTP3\n"
     "namespace {\n"
     "void worker_process_ready_cb(struct ev_loop *loop, ev_io *w, int revents) {\n"
     "  auto wp = static_cast<WorkerProcess *>(w->data);\n"
     "  uint8_t b;\n"
     "  ssize_t n;\n"
     "  while ((n = recv(w->fd, &b, 1, 0)) == -1 && errno == EINTR)\n"
     "    ;\n"
     "  if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {\n"
     "    return;\n"
     "  }\n"
     "  ev_io_stop(loop, w);\n"
     "  if (n != 1) {\n"
     "    return;\n"
     "  }\n"
     "  LOG(NOTICE) << \"Worker process [\" << wp->worker_pid << \"] is ready\";\n"
     "  for (auto &p : worker_processes) {\n"
     "    if (p.get() == wp) {\n"
     "      break;\n"
     "    }\n"
     "    if (p->retired) {\n"
     "      continue;\n"
     "    }\n"
     "    p->retired = true;\n"
     "    ipc_send(p.get(), SHRPX_IPC_HANDOVER);\n"
     "    worker_process_set_termination_deadline(p.get(), loop);\n"
     "  }\n"
     "}\n"
     "} // namespace\n"
     "#endif // ENABLE_HTTP3\n\n"
     "namespace {\nvoid worker_process_child_cb(struct ev_loop *loop, ev_child *w, int revents) {\n", 1),
])

import glob, os
for f in sorted(glob.glob(os.path.join(os.environ["NGHTTPX_PATCH_DIR"], "*.py"))):
    print(f"build-nghttpx: applying {os.path.basename(f)}", file=sys.stderr)
    exec(compile(open(f).read(), f, "exec"), {"patch": patch, "sys": sys})
PY
step "configuring nghttp2"
autoreconf -fi >/dev/null 2>&1
export PKG_CONFIG_PATH="$NGTCP2_PREFIX/lib/pkgconfig"
./configure -q --prefix="$PREFIX" --enable-app --disable-examples --disable-hpack-tools --disable-python-bindings \
  --enable-http3 --with-libngtcp2 --with-libnghttp3 --with-libbpf --with-mruby --with-jemalloc \
  OPENSSL_CFLAGS="-I$BSSL_INC" OPENSSL_LIBS="-L$BSSL_LIB -lssl -lcrypto" \
  LIBNGTCP2_CRYPTO_BORINGSSL_CFLAGS="-I$NGTCP2_PREFIX/include" \
  LIBNGTCP2_CRYPTO_BORINGSSL_LIBS="-L$NGTCP2_PREFIX/lib -lngtcp2_crypto_boringssl" \
  LDFLAGS="-Wl,-rpath,$BSSL_LIB" >/dev/null

# gcc rejects -target bpf: build the eBPF object with clang first, so make skips it.
step "building eBPF object (clang)"
make -s -C bpf CC=clang >/dev/null || die "eBPF object build failed (needs clang and libbpf-dev)"
step "building nghttp2 (mruby, HTTP/3, libbpf)"
make -s -j"$JOBS" >/dev/null 2>"$CACHE_DIR/build/nghttp2-make.log" || {
  tail -n 40 "$CACHE_DIR/build/nghttp2-make.log" >&2
  die "nghttp2 build failed (log: $CACHE_DIR/build/nghttp2-make.log)"
}

step "installing into $PREFIX"
rm -rf "$PREFIX" && mkdir -p "$PREFIX/bin" "$PREFIX/lib/bpf"
install -m 0755 src/.libs/nghttpx "$PREFIX/bin/nghttpx" 2>/dev/null || install -m 0755 src/nghttpx "$PREFIX/bin/nghttpx"
install -m 0755 src/.libs/h2load "$PREFIX/bin/h2load" 2>/dev/null || install -m 0755 src/h2load "$PREFIX/bin/h2load"
install -m 0644 bpf/reuseport_kern.o "$PREFIX/lib/bpf/reuseport_kern.o"
# Keep the libnghttp2 the binaries link against next to them.
if ldd "$PREFIX/bin/nghttpx" | grep -q 'libnghttp2.so.*not found\|libnghttp2.so.* => .*nghttp2-src'; then
  mkdir -p "$PREFIX/lib"
  cp -a lib/.libs/libnghttp2.so* "$PREFIX/lib/"
  for b in nghttpx h2load; do
    patchelf --set-rpath "$PREFIX/lib:$BSSL_LIB" "$PREFIX/bin/$b" 2>/dev/null || true
  done
fi

# Prove the features before marking the build complete.
"$PREFIX/bin/nghttpx" --version >&2
# Read the help once: with pipefail, `nghttpx --help | grep -q` fails when grep exits
# before nghttpx has written its 70 KB (SIGPIPE).
help=$("$PREFIX/bin/nghttpx" --help)
grep -q -- '--mruby-file' <<<"$help" || die "built nghttpx lacks mruby"
grep -q -- '--frontend-quic-secret-file' <<<"$help" || die "built nghttpx lacks HTTP/3"
grep -q -- '--quic-bpf-program-file' <<<"$help" || die "built nghttpx lacks eBPF support"
touch "$PREFIX/.complete"
step "done"
print_versions
echo "$BIN"

// Package nghttpx knows where the nghttpx binary and its companions live and how
// to read its log lines.
//
// Contract: Find looks in NGHTTPX_BIN, then the build cache of `make nghttpx`
// (${XDG_CACHE_HOME:-$HOME/.cache}/nghttpx-gateway/nghttpx/<key>/bin/nghttpx, only
// builds marked complete, newest first), then PATH. The eBPF object and h2load are
// located relative to the binary, as hack/build-nghttpx.sh installs them. The
// integration tests of this package are the acceptance tests of that build.
package nghttpx

package features

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// Features is what one nghttpx binary can do in this process's environment.
type Features struct {
	Binary  string `json:"binary"`
	Version string `json:"version"`
	// MRuby: a global mruby script answered a request. Routing needs it.
	MRuby bool `json:"mruby"`
	// HTTP3: a QUIC frontend started (and answered an HTTP/3 request when h2load is
	// next to the binary).
	HTTP3 bool `json:"http3"`
	// BPF: the eBPF QUIC steering program loads here; render quic-bpf-program-file=BPFProgram.
	// Otherwise render no-quic-bpf: without it nghttpx's worker dies and nghttpx exits 0.
	BPF        bool   `json:"bpf"`
	BPFProgram string `json:"bpfProgram,omitempty"`
	// OCSP: the binary has OCSP stapling (fetch-ocsp-response-file; gone upstream in 1.66).
	OCSP bool `json:"ocsp"`
	// ClientVerify: the binary verifies client certificates per frontend
	// (parameter verify-client=, our patch hack/nghttpx-patches/*-frontend-client-verify.patch).
	ClientVerify bool `json:"clientVerify"`
	// BackendTLSVerify: the binary verifies each backend against its own CA bundle
	// and subjectAltNames (backend parameters tls-ca=, tls-san=, our patch
	// hack/nghttpx-patches/*-backend-tls-verify.patch).
	BackendTLSVerify bool `json:"backendTLSVerify"`
	// StatusRetry: the binary re-sends a request on a backend status listed in the
	// x-ngxgw-retry request header (HTTPRoute retry; our patch
	// hack/nghttpx-patches/*-retry-status.patch).
	StatusRetry bool `json:"statusRetry"`
	// SNICertMap: the binary chooses certificates by frontend port and SNI from
	// subcert sni= entries (our patch hack/nghttpx-patches/*-sni-cert-map.patch).
	SNICertMap bool `json:"sniCertMap"`
	// BackendGroup: the global mruby script chooses the backend group directly
	// (Request#backend_group=, our nghttpx patch).
	BackendGroup bool `json:"backendGroup"`
	// MappedWord: mruby reads a shared 8-byte word of a file without a system
	// call (Nghttpx.mapped_word, our nghttpx patch).
	MappedWord bool `json:"mappedWord"`
	// Reasons has one sentence for every missing feature.
	Reasons []string `json:"reasons,omitempty"`
}

// Render returns the renderer's view. OCSP is what the binary supports: the caller
// sets render.Options.OCSPFetchProgram when it is true, or clears it.
func (f Features) Render() render.Features {
	return render.Features{QUIC: f.HTTP3, BPF: f.BPF, BPFProgramPath: f.BPFProgram, OCSP: f.OCSP, ClientVerify: f.ClientVerify,
		BackendTLSVerify: f.BackendTLSVerify, StatusRetry: f.StatusRetry, SNICertMap: f.SNICertMap,
		BackendGroup: f.BackendGroup, MappedWord: f.MappedWord}
}

// Detect probes binary. The logger comes from ctx (logr.FromContextOrDiscard).
func Detect(ctx context.Context, binary string) (Features, error) {
	// nghttpx may get the eBPF capabilities from this process or from its own
	// file capabilities (filecaps.go).
	caps, err := bpfAccessOf(binary)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "cannot read capabilities; assuming none")
	}
	f, err := detect(ctx, binary, caps)
	if err != nil && caps.execBlocked() {
		err = fmt.Errorf("%w: %s", err, caps.execBlockedReason())
	}
	return f, err
}

// help is what nghttpx --help says about the build.
type help struct {
	quic, bpfOption, ocsp, clientVerify bool
	backendTLSVerify                    bool
	statusRetry                         bool
	sniCertMap                          bool
	backendGroup, mappedWord            bool
}

func parseHelp(s string) help {
	return help{
		quic:      strings.Contains(s, "--frontend-quic-secret-file"),
		bpfOption: strings.Contains(s, "--quic-bpf-program-file"),
		ocsp:      strings.Contains(s, "--fetch-ocsp-response-file"),
		// The patch documents the frontend parameter in --frontend's help.
		clientVerify: strings.Contains(s, `"verify-client=<CAFILE>"`),
		// Likewise the backend parameter in --backend's help.
		backendTLSVerify: strings.Contains(s, `"tls-ca=<CAFILE>"`),
		// And the retry header under --mruby-file.
		statusRetry: strings.Contains(s, `"x-ngxgw-retry: <CODES>;<N>[;<MS>]"`),
		// And subcert's sni= parameter under --subcert.
		sniCertMap: strings.Contains(s, `"sni=<PORT>:<HOST>"`),
		// And the mruby methods under --mruby-file.
		backendGroup: strings.Contains(s, "Nghttpx::Request#backend_group="),
		mappedWord:   strings.Contains(s, "Nghttpx.mapped_word(<PATH>)"),
	}
}

func detect(ctx context.Context, binary string, caps bpfAccess) (Features, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("binary", binary)
	f := Features{Binary: binary}
	version, err := output(ctx, binary, "--version")
	if err != nil {
		return f, fmt.Errorf("run %s --version: %w", binary, err)
	}
	f.Version = strings.TrimSpace(version)
	helpText, err := output(ctx, binary, "--help")
	if err != nil {
		return f, fmt.Errorf("run %s --help: %w", binary, err)
	}
	h := parseHelp(helpText)
	f.OCSP = h.ocsp
	f.ClientVerify = h.clientVerify
	f.BackendTLSVerify = h.backendTLSVerify
	f.StatusRetry = h.statusRetry
	f.SNICertMap = h.sniCertMap
	f.BackendGroup = h.backendGroup
	f.MappedWord = h.mappedWord

	dir, err := os.MkdirTemp("", "nghttpx-features-")
	if err != nil {
		return f, fmt.Errorf("probe directory: %w", err)
	}
	defer os.RemoveAll(dir)

	bpfObject := nghttpx.BPFObject(binary)
	_, objErr := os.Stat(bpfObject)
	canBPF := h.quic && h.bpfOption && objErr == nil && caps.CanLoadBPF()
	p := &prober{binary: binary, dir: dir, log: log}
	res := p.run(ctx, h.quic, canBPF, bpfObject)

	f.MRuby = res.mruby.err == nil
	f.HTTP3 = h.quic && res.quic.err == nil
	f.BPF = canBPF && f.HTTP3 && res.bpf.err == nil
	if f.BPF {
		f.BPFProgram = bpfObject
	}
	f.Reasons = reasons(h, f, res, caps, objErr, bpfObject)
	for _, r := range f.Reasons {
		log.Info("nghttpx feature unavailable", "reason", r)
	}
	log.Info("nghttpx features", "version", f.Version, "mruby", f.MRuby, "http3", f.HTTP3, "bpf", f.BPF, "ocsp", f.OCSP,
		"clientVerify", f.ClientVerify, "backendTLSVerify", f.BackendTLSVerify, "statusRetry", f.StatusRetry)
	return f, nil
}

func reasons(h help, f Features, res probeResults, caps bpfAccess, objErr error, bpfObject string) []string {
	var out []string
	if !f.MRuby {
		out = append(out, fmt.Sprintf("mruby unavailable: a global mruby script did not answer (%v); routing, filters and redirects need an nghttpx built with mruby (make nghttpx)", res.mruby.err))
	}
	switch {
	case !h.quic:
		out = append(out, "HTTP/3 disabled: nghttpx was built without QUIC support (no --frontend-quic-secret-file); build it with make nghttpx")
	case !f.HTTP3:
		out = append(out, fmt.Sprintf("HTTP/3 disabled: a QUIC frontend did not work (%v)", res.quic.err))
	}
	if !h.quic {
		return appendOCSP(out, h)
	}
	const tail = "; rendering no-quic-bpf"
	switch {
	case f.BPF:
	case !f.HTTP3:
		out = append(out, "eBPF QUIC steering disabled: HTTP/3 is unavailable"+tail)
	case !h.bpfOption || !res.quic.bpfCompiled:
		out = append(out, "eBPF QUIC steering disabled: nghttpx was built without libbpf"+tail)
	case objErr != nil:
		out = append(out, fmt.Sprintf("eBPF QUIC steering disabled: program file %s is missing (%v)%s", bpfObject, objErr, tail))
	case !caps.CanLoadBPF():
		out = append(out, "eBPF QUIC steering disabled: process lacks CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN"+tail+"; "+caps.why())
	default:
		out = append(out, fmt.Sprintf("eBPF QUIC steering disabled: nghttpx could not run with %s (%v)%s", bpfObject, res.bpf.err, tail))
	}
	return appendOCSP(out, h)
}

func appendOCSP(out []string, h help) []string {
	if !h.ocsp {
		out = append(out, "OCSP stapling unavailable: nghttpx has no --fetch-ocsp-response-file (removed upstream in 1.66)")
	}
	if !h.clientVerify {
		out = append(out, "client certificate validation (Gateway spec.tls.frontend) unavailable: nghttpx lacks the per-frontend verify-client= parameter; build it with make nghttpx")
	}
	if !h.backendTLSVerify {
		out = append(out, "BackendTLSPolicy CA certificates and subjectAltNames unavailable: nghttpx lacks the backend tls-ca= and tls-san= parameters (such backends answer 500); build it with make nghttpx")
	}
	if !h.statusRetry {
		out = append(out, "HTTPRoute retry on status codes unavailable: nghttpx lacks the x-ngxgw-retry patch (such rules are served without retries); build it with make nghttpx")
	}
	if !h.sniCertMap {
		out = append(out, "certificates per listener unavailable: nghttpx lacks the subcert sni= patch, so it picks certificates by their own names across every listener (one tenant's certificate can answer for another's host); build it with make nghttpx")
	}
	if !h.backendGroup {
		out = append(out, "direct backend group selection unavailable: nghttpx lacks the Request#backend_group= patch, so every forwarded request runs a second mruby program to restore its path (slower); build it with make nghttpx")
	}
	if !h.mappedWord {
		out = append(out, "mapped route version unavailable: nghttpx lacks the Nghttpx.mapped_word patch, so the router reads the route version file on every request (slower); build it with make nghttpx")
	}
	return out
}

// output runs binary with args and returns its stdout.
func output(ctx context.Context, binary string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

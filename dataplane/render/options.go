package render

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
)

// Features is what the nghttpx binary and its environment support.
type Features struct {
	// QUIC: the binary was built with HTTP/3.
	QUIC bool
	// BPF: the process may load the eBPF QUIC steering program from BPFProgramPath.
	BPF            bool
	BPFProgramPath string
	// OCSP: stapling is wanted and OCSPFetchProgram can fetch responses.
	OCSP bool
	// ClientVerify: the binary has per-frontend client certificate verification
	// (frontend parameter verify-client=, our nghttpx patch).
	ClientVerify bool
	// BackendTLSVerify: the binary verifies a backend against its own CA bundle
	// and subjectAltNames (backend parameters tls-ca=, tls-san=, our nghttpx
	// patch). Without it such backends answer 500 instead of connecting.
	BackendTLSVerify bool
	// StatusRetry: the binary re-sends a request when its backend answers with a
	// status the rule's retry policy lists (request header x-ngxgw-retry, our
	// nghttpx patch). Without it retry policies are not rendered.
	StatusRetry bool
	// SNICertMap: the binary chooses certificates by frontend port and SNI from
	// subcert sni= entries only (our nghttpx patch). The renderer then serves a
	// certificate only for the names its own listener owns (certs.go), with a
	// placeholder as the default certificate. Without it nghttpx chooses by the
	// certificates' own names across the whole data plane (upstream behaviour).
	SNICertMap bool
	// BackendGroup: the global mruby script can choose the backend group
	// (Request#backend_group=) and strip headers by prefix (our nghttpx patch).
	// The router then leaves the path alone and only groups whose rules need
	// response processing run restore.rb. Without it the router steers by
	// rewriting the path and every group's restore.rb puts it back.
	BackendGroup bool
	// MappedWord: mruby scripts can read the first 8 bytes of a file through a
	// shared mapping (Nghttpx.mapped_word, our nghttpx patch). The programs then
	// detect a new route table by RouteGenFile instead of reading
	// RouteVersionFile on every request.
	MappedWord bool
}

// Options are the data-plane settings that do not come from the Gateway model.
type Options struct {
	// StateDir is the absolute directory holding every rendered file. It ends up in
	// configuration lines and Ruby literals, so it is restricted to [A-Za-z0-9/._-].
	StateDir string
	// APIPort is the nghttpx backend API frontend on 127.0.0.1.
	APIPort int
	// HealthPort, when non-zero, adds a healthmon frontend on 127.0.0.1 (answers 200).
	HealthPort int
	// MirrorTeePort and MirrorInternalPort (both or neither) enable RequestMirror
	// (mirror.go): the tee (package dataplane/mirror) listens on 127.0.0.1 at
	// MirrorTeePort and sends the request and its copies back to nghttpx's
	// internal frontend 127.0.0.1,MirrorInternalPort, which is rendered only when
	// some rule mirrors. Zero: rules are served without their mirrors.
	MirrorTeePort      int
	MirrorInternalPort int
	// Workers is the number of worker threads (default 1).
	Workers  int
	Features Features
	// HTTP3 adds a QUIC frontend to every HTTPS port when Features.QUIC is set.
	HTTP3 bool
	// QUICSecretFile is the shared QUIC keying material (frontend-quic-secret-file).
	QUICSecretFile string
	// QUICRequireToken makes QUIC frontends validate client addresses
	// (frontend-quic-require-token): a client without a valid token, from a
	// Retry or a NEW_TOKEN of any replica sharing QUICSecretFile, gets a Retry.
	QUICRequireToken bool
	// TLSTicketKeyFiles are shared TLS session ticket keys, 80 bytes each
	// (aes-256-cbc): the first encrypts new tickets, all of them decrypt. Rendered
	// only when the Gateway has an HTTPS port; empty keeps nghttpx's own
	// per-process keys.
	TLSTicketKeyFiles []string
	// TLSTicketKeyCipher is the cipher of TLSTicketKeyFiles: "" or aes-256-cbc
	// (80-byte files, ours), or aes-128-cbc (48-byte files: the original Ingress
	// controller's shared keys, which its pods and ours use together).
	TLSTicketKeyCipher string
	// OCSPFetchProgram is run by nghttpx per certificate when Features.OCSP is set. A
	// certificate's stapled response is written next to it as <cert>.ocsp.
	OCSPFetchProgram string
	// GracePeriod is how long old workers drain after a reload (default 30s).
	GracePeriod time.Duration
	// ErrorLogFile defaults to /dev/stderr.
	ErrorLogFile string
	// AccessLog is the format the data plane writes its access log in;
	// accesslog.FormatOff, and "" without AccessLogFile, render none. Otherwise nghttpx writes
	// accesslog.NghttpxFormat to AccessLogFile (default: the FIFO
	// AccessLogPipeFile in the state directory, which the data-plane agent
	// reads; see Config.AccessLog).
	AccessLog     accesslog.Format
	AccessLogFile string
	// IngressRoutes maps the Ingress shim's synthetic HTTPRoutes
	// (namespace/name) to the Ingress they came from, so that access logs and
	// metrics name the Ingress.
	IngressRoutes map[string]string

	// AllowMruby honours user scripts in the model (model.ProxyOptions.Mruby, from
	// Ingress path-config). When false a rule carrying one answers 500: the script
	// may guard what the rule forwards to. Set it only for the Ingress shim's
	// Gateways, and only when the operator allowed mruby there.
	AllowMruby bool
	// ProxyProtocol accepts a PROXY protocol (v1/v2) header on every TCP listener
	// (not on the API and health frontends): the original Ingress controller's
	// --proxy-proto.
	ProxyProtocol bool
	// ExtraConfig are operator-owned main-configuration lines (Ingress ConfigMap key
	// nghttpx-conf), appended after ours so that they override our tunable defaults.
	// Each must pass ParseExtraConfig; Render refuses the options otherwise.
	ExtraConfig []string
	// GlobalMruby is the operator's global mruby script (Ingress ConfigMap key
	// nghttpx-mruby-file-content). It is written to its own file, which router.rb
	// loads; its on_req runs before routing, its on_resp on every forwarded
	// response (see scripts/router.rb).
	GlobalMruby string
}

// TLSTicketKeySize is the size of one TLS ticket key file for the rendered
// tls-ticket-key-cipher (aes-256-cbc): 16-byte key name, 32-byte AES key, 32-byte
// HMAC-SHA256 key. nghttpx ignores every file when one has another size.
const TLSTicketKeySize = 80

const ticketKeyCipher = "aes-256-cbc"

const (
	defaultGracePeriod = 30 * time.Second
	defaultErrorLog    = "/dev/stderr"
)

func (o Options) withDefaults() Options {
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = defaultGracePeriod
	}
	if o.ErrorLogFile == "" {
		o.ErrorLogFile = defaultErrorLog
	}
	if o.AccessLog == "" {
		// An explicit file alone asks for the default format.
		o.AccessLog = accesslog.FormatOff
		if o.AccessLogFile != "" {
			o.AccessLog = accesslog.FormatJSON
		}
	}
	if o.AccessLog != accesslog.FormatOff && o.AccessLogFile == "" {
		o.AccessLogFile = o.StateDir + "/" + AccessLogPipeFile
	}
	return o
}

func (o Options) validate() error {
	if err := checkFilePath("state directory", o.StateDir); err != nil {
		return err
	}
	if o.APIPort < 1 || o.APIPort > 65535 {
		return fmt.Errorf("API port %d out of range 1-65535", o.APIPort)
	}
	if o.HealthPort < 0 || o.HealthPort > 65535 || (o.HealthPort != 0 && o.HealthPort == o.APIPort) {
		return fmt.Errorf("health port %d invalid (API port %d)", o.HealthPort, o.APIPort)
	}
	if err := o.validateMirrorPorts(); err != nil {
		return err
	}
	if o.Workers < 1 || o.Workers > 256 {
		return fmt.Errorf("workers %d out of range 1-256", o.Workers)
	}
	if _, err := accesslog.ParseFormat(string(o.AccessLog)); err != nil {
		return err
	}
	if o.GracePeriod < 0 {
		return fmt.Errorf("negative grace period %s", o.GracePeriod)
	}
	for _, f := range []struct{ what, path string }{
		{"error log file", o.ErrorLogFile},
		{"access log file", o.AccessLogFile},
		{"QUIC secret file", o.QUICSecretFile},
		{"OCSP fetch program", o.OCSPFetchProgram},
		{"BPF program", o.Features.BPFProgramPath},
	} {
		if f.path == "" {
			continue
		}
		if err := checkFilePath(f.what, f.path); err != nil {
			return err
		}
	}
	if c := o.TLSTicketKeyCipher; c != "" && c != ticketKeyCipher && c != "aes-128-cbc" {
		return fmt.Errorf("TLS ticket key cipher %q: want aes-256-cbc or aes-128-cbc", c)
	}
	for i, p := range o.TLSTicketKeyFiles {
		if err := checkFilePath(fmt.Sprintf("TLS ticket key file %d", i), p); err != nil {
			return err
		}
	}
	if o.Features.BPF && o.Features.BPFProgramPath == "" {
		return fmt.Errorf("BPF enabled without a program path")
	}
	if o.Features.OCSP && o.OCSPFetchProgram == "" {
		return fmt.Errorf("OCSP enabled without a fetch program")
	}
	for _, l := range o.ExtraConfig {
		if err := checkExtraLine(l); err != nil {
			return fmt.Errorf("extra configuration: %w", err)
		}
	}
	return nil
}

// checkFilePath accepts absolute, clean paths made of [A-Za-z0-9/._-]: they are
// written into nghttpx options (where ';', ':' and ',' separate fields) and into Ruby
// string literals.
func checkFilePath(what, p string) error {
	if p == "" || p[0] != '/' || filepath.Clean(p) != p {
		return fmt.Errorf("%s %q must be an absolute clean path", what, p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(isAlnum(c) || c == '/' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%s %q: byte %q not allowed (only [A-Za-z0-9/._-])", what, p, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

package render

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

const mainHeader = "# nghttpx-gateway main configuration. Generated; do not edit.\n"

// anyAddress binds every local address (IPv4 and IPv6) when the model names none.
const anyAddress = "*"

// tlsFiles are the content-addressed certificate and key files of one certificate.
type tlsFiles struct {
	cert, key string // names relative to the state directory
	name      string // model.Certificate.Name
	// sni are the subcert sni= keys (Features.SNICertMap).
	sni []string
}

// certificates validates the certificates HTTPS listeners use and returns their files
// in Gateway order (the first is nghttpx's default certificate).
func certificates(gw *model.Gateway, files map[string][]byte, opts Options) ([]tlsFiles, error) {
	used := map[string]bool{}
	for _, p := range gw.Ports {
		for _, l := range p.Listeners {
			if p.Protocol != model.ProtocolHTTPS && len(l.CertificateNames) > 0 {
				return nil, fmt.Errorf("port %d: HTTP listener %s has certificates", p.Port, l.Source.Section)
			}
			for _, n := range l.CertificateNames {
				used[n] = true
			}
		}
	}
	known := map[string]bool{}
	var out []tlsFiles
	for _, c := range gw.Certificates {
		if known[c.Name] {
			return nil, fmt.Errorf("certificate %q defined twice", c.Name)
		}
		known[c.Name] = true
		if !used[c.Name] {
			continue
		}
		if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
			return nil, fmt.Errorf("certificate %q: %w", c.Name, err)
		}
		// One hash over both names the pair, so the two files are easy to match up.
		h := shortHash(append(append(append([]byte{}, c.CertPEM...), 0), c.KeyPEM...))
		f := tlsFiles{cert: "tls-" + h + ".crt", key: "tls-" + h + ".key", name: c.Name}
		files[f.cert] = c.CertPEM
		files[f.key] = c.KeyPEM
		if opts.Features.OCSP && len(c.OCSPResponse) > 0 {
			files[f.cert+".ocsp"] = c.OCSPResponse
		}
		out = append(out, f)
	}
	for n := range used {
		if !known[n] {
			return nil, fmt.Errorf("certificate %q used by a listener but not in the Gateway", n)
		}
	}
	if opts.Features.SNICertMap && len(out) > 0 {
		byName := map[string]*model.Certificate{}
		for i := range gw.Certificates {
			byName[gw.Certificates[i].Name] = &gw.Certificates[i]
		}
		entries := sniEntries(gw, byName)
		kept := out[:0]
		for _, f := range out {
			f.sni = entries[f.name]
			if len(f.sni) > 0 { // a certificate no name reaches is not loaded
				kept = append(kept, f)
			}
		}
		files[placeholderCertFile] = placeholderCert
		files[placeholderKeyFile] = placeholderKey
		out = append([]tlsFiles{{cert: placeholderCertFile, key: placeholderKeyFile}}, kept...)
	}
	return out, nil
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// mainConfig renders nghttpx.conf: frontends, TLS, scripts, the backends include and
// process settings, in a fixed order.
func mainConfig(gw *model.Gateway, certs []tlsFiles, opts Options, mirror bool) ([]byte, error) {
	addrs, err := addresses(gw.Addresses)
	if err != nil {
		return nil, err
	}
	var lines []string
	add := func(k, v string) { lines = append(lines, k+"="+v) }

	quic := opts.HTTP3 && opts.Features.QUIC
	proxyProto := ""
	if opts.ProxyProtocol {
		proxyProto = ";proxyproto"
	}
	hasTLS := false
	seen := map[int32]bool{}
	for _, p := range gw.Ports {
		if err := checkPort(p.Port); err != nil {
			return nil, err
		}
		if seen[p.Port] || int(p.Port) == opts.APIPort || int(p.Port) == opts.HealthPort ||
			mirror && (int(p.Port) == opts.MirrorTeePort || int(p.Port) == opts.MirrorInternalPort) {
			return nil, fmt.Errorf("port %d used twice", p.Port)
		}
		seen[p.Port] = true
		for _, a := range addrs {
			hp := a + "," + strconv.Itoa(int(p.Port))
			switch p.Protocol {
			case model.ProtocolHTTP:
				add("frontend", hp+";no-tls"+proxyProto)
			case model.ProtocolHTTPS:
				hasTLS = true
				add("frontend", hp+clientVerifyParams(p, opts)+proxyProto)
				// Client verification is TCP only: no QUIC frontend for the port.
				if quic && p.ClientValidation == nil {
					add("frontend", hp+";quic")
				}
			default:
				return nil, fmt.Errorf("port %d: protocol %q not supported", p.Port, p.Protocol)
			}
		}
	}
	add("frontend", "127.0.0.1,"+strconv.Itoa(opts.APIPort)+";api;no-tls")
	if opts.HealthPort != 0 {
		add("frontend", "127.0.0.1,"+strconv.Itoa(opts.HealthPort)+";healthmon;no-tls")
	}
	if mirror {
		// RequestMirror: the tee sends requests and their copies back here (mirror.go).
		add("frontend", internalFrontend(opts))
	}

	if hasTLS && len(certs) == 0 {
		return nil, fmt.Errorf("HTTPS ports but no certificate")
	}
	if hasTLS {
		abs := func(n string) string { return opts.StateDir + "/" + n }
		add("private-key-file", abs(certs[0].key))
		add("certificate-file", abs(certs[0].cert))
		for _, c := range certs[1:] {
			v := abs(c.key) + ":" + abs(c.cert)
			for _, k := range c.sni {
				v += ";sni=" + k
			}
			add("subcert", v)
		}
		if len(opts.TLSTicketKeyFiles) > 0 {
			// Shared keys so any replica resumes another's sessions. The cipher is
			// explicit: 1.52 defaults to aes-128-cbc (48-byte files) and, when a
			// file has the wrong size, silently falls back to per-process keys.
			cipher := opts.TLSTicketKeyCipher
			if cipher == "" {
				cipher = ticketKeyCipher
			}
			add("tls-ticket-key-cipher", cipher)
			for _, f := range opts.TLSTicketKeyFiles {
				add("tls-ticket-key-file", f)
			}
		}
	}

	if bc := gw.BackendClientCertificate; bc != nil {
		// Presented to every TLS backend that asks (Gateway spec.tls.backend).
		f := backendClientFiles(bc)
		add("client-private-key-file", opts.StateDir+"/"+f.key)
		add("client-cert-file", opts.StateDir+"/"+f.cert)
	}
	add("mruby-file", opts.StateDir+"/"+RouterScriptFile)
	add("include", opts.StateDir+"/"+BackendFile)
	add("workers", strconv.Itoa(opts.Workers))
	add("worker-process-grace-shutdown-period", duration(opts.GracePeriod.Milliseconds()))
	// Backends see the client address; the Host header is passed unchanged
	// (nghttpx default); no Via so responses look like the backend's own.
	add("add-x-forwarded-for", "yes")
	add("no-via", "yes")
	add("no-server-push", "yes")
	if opts.Features.OCSP && hasTLS {
		add("fetch-ocsp-response-file", opts.OCSPFetchProgram)
		// Not ocsp-startup: with it, handshakes right after a reload sometimes
		// carried an empty staple (TestOCSPStaplingLive failed 2 of 7 runs, 0 of 8
		// without); until the new worker has fetched, it staples nothing.
	} else {
		add("no-ocsp", "yes")
	}
	if opts.Features.QUIC {
		if quic && opts.Features.BPF {
			add("quic-bpf-program-file", opts.Features.BPFProgramPath)
		} else {
			add("no-quic-bpf", "yes")
		}
		if quic && hasTLS {
			if opts.QUICSecretFile != "" {
				add("frontend-quic-secret-file", opts.QUICSecretFile)
			}
			if opts.QUICRequireToken {
				add("frontend-quic-require-token", "yes")
			}
			for _, p := range gw.Ports {
				if p.Protocol == model.ProtocolHTTPS && p.ClientValidation == nil {
					v := "h3," + strconv.Itoa(int(p.Port)) + ",,,ma=3600"
					add("altsvc", v)
					add("http2-altsvc", v)
				}
			}
		}
	}
	add("errorlog-file", opts.ErrorLogFile)
	if opts.AccessLog != accesslog.FormatOff {
		add("accesslog-file", opts.AccessLogFile)
		add("accesslog-format", accesslog.NghttpxFormat)
	}
	if len(opts.ExtraConfig) > 0 {
		// Last, so that they override our tunables; validated in Options.validate.
		lines = append(lines, "# operator configuration (nghttpx-conf)")
		lines = append(lines, opts.ExtraConfig...)
	}
	return []byte(mainHeader + strings.Join(lines, "\n") + "\n"), nil
}

// addresses returns the canonical bind addresses, sorted and unique, or "*".
func addresses(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{anyAddress}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range in {
		ip, err := parseIP(a)
		if err != nil {
			return nil, fmt.Errorf("gateway address: %w", err)
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	sort.Strings(out)
	return out, nil
}

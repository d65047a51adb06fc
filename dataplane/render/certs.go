package render

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"regexp"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// The placeholder is nghttpx's default certificate when the binary chooses
// certificates by port and SNI (Features.SNICertMap): served only when no
// listener claims the server name on that port (or the client sends none and
// the port has no listener without hostname). It is self-signed, names no host
// (no subjectAltName, no commonName) and is the same everywhere; its key is
// public on purpose: nobody trusts it, it only lets the handshake fail on the
// client's verification instead of showing some tenant's certificate.
var (
	//go:embed placeholder/placeholder.crt
	placeholderCert []byte
	//go:embed placeholder/placeholder.key
	placeholderKey []byte
)

// Placeholder file names in the state directory.
const (
	placeholderCertFile = "tls-placeholder.crt"
	placeholderKeyFile  = "tls-placeholder.key"
)

// sanSyntax is what a certificate name must look like to become an sni= entry
// (it reaches nghttpx.conf): lower-case DNS labels, optionally "*." first.
var sanSyntax = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// sniEntries says, per certificate name, the "<port>:<host>" keys nghttpx serves
// it for (subcert sni=). The rule (Gateway API listener matching):
//   - each key belongs to exactly one listener of its port, the one Gateway API
//     would select for that name; only that listener's certificates are served
//     for it, never another listener's, whatever names they carry;
//   - a listener's first certificate is served for its hostname ("*" when it
//     has none: any name on the port no other listener claims, and no SNI);
//   - its other certificates for the names they carry (subjectAltNames) that
//     the listener owns on that port, so SNI still picks among them;
//   - listeners with model SNI entries (the Ingress shim) get exactly those.
//
// A key goes to the first certificate that claims it.
func sniEntries(gw *model.Gateway, byName map[string]*model.Certificate) map[string][]string {
	out := map[string][]string{}
	taken := map[string]bool{}
	add := func(cert string, port int32, host string) {
		if host == "" {
			host = "*"
		}
		k := strconv.Itoa(int(port)) + ":" + host
		if taken[k] {
			return
		}
		taken[k] = true
		out[cert] = append(out[cert], k)
	}
	for _, p := range gw.Ports {
		if p.Protocol != model.ProtocolHTTPS {
			continue
		}
		for li, l := range p.Listeners {
			if len(l.SNI) > 0 {
				for _, e := range l.SNI {
					add(e.Certificate, p.Port, e.Hostname)
				}
				continue
			}
			if len(l.CertificateNames) == 0 {
				continue
			}
			// Names carried by the certificates first, so that an exact name
			// in the second certificate beats the first certificate's fallback.
			for _, n := range l.CertificateNames[1:] {
				c := byName[n]
				if c == nil {
					continue
				}
				for _, san := range certNames(c.CertPEM) {
					if ownerListener(p.Listeners, san) == li {
						add(n, p.Port, san)
					}
				}
			}
			add(l.CertificateNames[0], p.Port, l.Hostname)
		}
	}
	return out
}

// certNames returns the usable DNS subjectAltNames of the leaf in pem, lower-cased.
func certNames(data []byte) []string {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range c.DNSNames {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if len(n) < 250 && sanSyntax.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

// ownerListener returns the index of the listener Gateway API selects for name
// (exact or "*.suffix") among ls (sorted by hostname precedence), or -1. A
// wildcard name belongs to the most specific listener covering all of it.
func ownerListener(ls []model.Listener, name string) int {
	for i, l := range ls {
		if covers(l.Hostname, name) {
			return i
		}
	}
	return -1
}

// covers reports whether every name matching pattern name also matches the
// listener hostname h.
func covers(h, name string) bool {
	switch {
	case h == "":
		return true
	case strings.HasPrefix(h, "*."):
		suffix := h[1:] // ".example.com"
		if strings.HasPrefix(name, "*.") {
			return strings.HasSuffix(name[1:], suffix)
		}
		return strings.HasSuffix(name, suffix) && len(name) > len(suffix)
	default:
		return h == name
	}
}

package render

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Backend TLS (model.Cluster.TLS, from BackendTLSPolicy): the cluster's lines get
// tls;sni=<hostname> and, with our nghttpx patch
// (hack/nghttpx-patches/*-backend-tls-verify.patch), tls-ca=<bundle> (trust only
// these CAs for this backend) and tls-san=<list> (a subjectAltName must match,
// instead of the SNI name). Both files are content addressed, so a new CA bundle
// is a new backend line (backend API, no reload) and never changes a file a
// running line names. Without the patch, clusters that need either answer 500:
// connecting unverified would defeat the policy. wellKnownCACertificates System
// without subjectAltNames needs no patch: nghttpx verifies against the system
// store and the SNI name by default.
//
// The Gateway's backend client certificate (model.Gateway.BackendClientCertificate)
// is nghttpx's process-wide client-cert-file/client-private-key-file: one nghttpx
// serves one Gateway, so process-wide is per Gateway.

// backendCAFile and backendSANFile are the state-directory names of a cluster's
// verification files ("" when not needed).
func backendCAFile(t *model.ClusterTLS) string {
	if t == nil || t.CACertPEM == nil {
		return ""
	}
	return "backend-ca-" + shortHash(t.CACertPEM) + ".crt"
}

func backendSANFile(t *model.ClusterTLS) string {
	if t == nil || len(t.SubjectAltNames) == 0 {
		return ""
	}
	return "backend-san-" + shortHash([]byte(sanList(t))) + ".txt"
}

// sanList is the tls-san= file: one "dns:<name>" or "uri:<uri>" per line.
func sanList(t *model.ClusterTLS) string {
	var b strings.Builder
	for _, s := range t.SubjectAltNames {
		b.WriteString(s.Type + ":" + s.Value + "\n")
	}
	return b.String()
}

// backendClientFiles names the backend client certificate's files.
func backendClientFiles(c *model.Certificate) tlsFiles {
	h := shortHash(append(append(append([]byte{}, c.CertPEM...), 0), c.KeyPEM...))
	return tlsFiles{cert: "backend-client-" + h + ".crt", key: "backend-client-" + h + ".key"}
}

// backendTLSFiles validates every cluster's TLS settings and the backend client
// certificate and adds their files. Clusters whose TLS settings cannot be written
// are returned by name: their shares of traffic answer 500, like a policy the
// binary cannot verify.
func backendTLSFiles(gw *model.Gateway, files map[string][]byte, opts Options) (map[string]Dropped, error) {
	bad := map[string]Dropped{}
	for i := range gw.Clusters {
		c := &gw.Clusters[i]
		if c.TLS == nil {
			continue
		}
		if err := checkClusterTLS(c.TLS); err != nil {
			bad[c.Name] = Dropped{Source: c.TLS.Source, What: "backend TLS of cluster " + c.Name, Reason: err.Error()}
			continue
		}
		if !opts.Features.BackendTLSVerify {
			continue
		}
		if f := backendCAFile(c.TLS); f != "" {
			files[f] = c.TLS.CACertPEM
		}
		if f := backendSANFile(c.TLS); f != "" {
			files[f] = []byte(sanList(c.TLS))
		}
	}
	if bc := gw.BackendClientCertificate; bc != nil {
		if _, err := tls.X509KeyPair(bc.CertPEM, bc.KeyPEM); err != nil {
			return nil, fmt.Errorf("backend client certificate: %w", err)
		}
		f := backendClientFiles(bc)
		files[f.cert] = bc.CertPEM
		files[f.key] = bc.KeyPEM
	}
	return bad, nil
}

// checkClusterTLS accepts what can be written into a backend line and the SAN
// file: a host name for SNI, parseable CA certificates, SAN values without
// separators or control bytes.
func checkClusterTLS(t *model.ClusterTLS) error {
	if err := checkHostname(t.Hostname, false); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if t.CACertPEM != nil {
		if err := checkCABundle(t.CACertPEM); err != nil {
			return fmt.Errorf("CA bundle: %w", err)
		}
	}
	for _, s := range t.SubjectAltNames {
		switch s.Type {
		case "dns":
			if err := checkHostname(s.Value, true); err != nil {
				return fmt.Errorf("subjectAltName: %w", err)
			}
		case "uri":
			if s.Value == "" || len(s.Value) > 2048 {
				return fmt.Errorf("subjectAltName URI: empty or too long")
			}
			for i := 0; i < len(s.Value); i++ {
				if c := s.Value[i]; c <= ' ' || c >= 0x7f {
					return fmt.Errorf("subjectAltName URI %q: byte %q not allowed", s.Value, c)
				}
			}
		default:
			return fmt.Errorf("subjectAltName type %q not supported", s.Type)
		}
	}
	return nil
}

// withClusterTLS adds a cluster's TLS settings to a member profile. ok is false
// when the binary cannot verify the way the policy asks (the share answers 500).
func (p profile) withClusterTLS(t *model.ClusterTLS, opts Options) (profile, bool) {
	if t == nil {
		return p, true
	}
	ca, san := backendCAFile(t), backendSANFile(t)
	if (ca != "" || san != "") && !opts.Features.BackendTLSVerify {
		return p, false
	}
	p.tls, p.sni = true, t.Hostname
	if ca != "" {
		p.tlsCA = opts.StateDir + "/" + ca
	}
	if san != "" {
		p.tlsSAN = opts.StateDir + "/" + san
	}
	return p, true
}

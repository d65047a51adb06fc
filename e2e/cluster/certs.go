package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the cluster's key material; every file lives under dir.
type pki struct {
	dir                      string
	caCert                   *x509.Certificate
	caKey                    crypto.Signer
	caPEM                    []byte
	caFile                   string
	apiserverCert, apiserKey string
	kubeletClientCert        string
	kubeletClientKey         string
	saPub, saKey             string
	kubelet                  tls.Certificate
	// kubeletCert/Key serve kubelet's HTTPS port; nodeClientCert/Key are kubelet's
	// client identity system:node:<NodeName> in group system:nodes.
	kubeletCert, kubeletKey       string
	nodeClientCert, nodeClientKey string
}

// NodeName is the name of the cluster's single Node (pod runner or real).
const NodeName = "ngxgw-node"

func newPKI(dir string, apiserverIPs []net.IP, nodeIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ngxgw-e2e-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	p.caCert, _ = x509.ParseCertificate(der)
	p.caKey = caKey
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p.caFile = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(p.caFile, p.caPEM, 0o644); err != nil {
		return nil, err
	}

	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1)}, apiserverIPs...)
	if p.apiserverCert, p.apiserKey, _, err = p.issue("apiserver", "kube-apiserver", nil, dns, ips,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}); err != nil {
		return nil, err
	}
	if p.kubeletClientCert, p.kubeletClientKey, _, err = p.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
		[]string{"system:masters"}, nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}); err != nil {
		return nil, err
	}
	var kc, kk string
	if kc, kk, _, err = p.issue("kubelet", "system:node:"+NodeName, []string{"system:nodes"}, []string{"localhost", NodeName},
		[]net.IP{nodeIP}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}); err != nil {
		return nil, err
	}
	p.kubeletCert, p.kubeletKey = kc, kk
	if p.nodeClientCert, p.nodeClientKey, _, err = p.issue("kubelet-client", "system:node:"+NodeName, []string{"system:nodes"},
		nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}); err != nil {
		return nil, err
	}
	if p.kubelet, err = tls.LoadX509KeyPair(kc, kk); err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p.saKey = filepath.Join(dir, "sa.key")
	p.saPub = filepath.Join(dir, "sa.pub")
	if err := writeKey(p.saKey, saKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// issue writes name.crt/name.key signed by the CA.
func (p *pki) issue(name, cn string, orgs, dns []string, ips []net.IP, usage []x509.ExtKeyUsage) (string, string, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", nil, err
	}
	now := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now,
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return "", "", nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	cert, _ := x509.ParseCertificate(der)
	crt := filepath.Join(p.dir, name+".crt")
	kf := filepath.Join(p.dir, name+".key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", nil, err
	}
	if err := writeKey(kf, key); err != nil {
		return "", "", nil, err
	}
	return crt, kf, cert, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func (p *pki) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

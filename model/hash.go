package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Hash identifies what a data plane serves for gw: the SHA-256 (hex) of the model's
// canonical JSON with Addresses cleared (a controller and a proxy bind different
// addresses for the same Gateway) and Settings cleared (the proxy gets them as
// flags, not by translation) followed by the digests of every certificate's
// PEM, key and OCSP response and of every port's client CA bundle, which the
// JSON leaves out. Equal hashes mean equal
// behaviour; it is pure and stable across processes and Go versions of the same
// model definition.
func Hash(gw *Gateway) string {
	if gw == nil {
		return ""
	}
	c := *gw
	c.Addresses = nil
	c.Settings = nil
	h := sha256.New()
	// Marshal of plain structs and slices cannot fail; map-free, so field order
	// is the struct order and the output is canonical.
	b, err := json.Marshal(&c)
	if err != nil {
		panic(fmt.Sprintf("model.Hash: %v", err))
	}
	h.Write(b)
	for _, cert := range gw.Certificates {
		for _, part := range [][]byte{cert.CertPEM, cert.KeyPEM, cert.OCSPResponse} {
			d := sha256.Sum256(part)
			h.Write([]byte{'\n'})
			h.Write(d[:])
		}
	}
	for _, p := range gw.Ports {
		if p.ClientValidation != nil {
			d := sha256.Sum256(p.ClientValidation.CAPEM)
			h.Write([]byte{'\n'})
			h.Write(d[:])
		}
	}
	// Backend TLS: the clusters' CA bundles and the backend client certificate.
	for _, cl := range gw.Clusters {
		if cl.TLS != nil {
			d := sha256.Sum256(cl.TLS.CACertPEM)
			h.Write([]byte{'\n'})
			h.Write(d[:])
		}
	}
	if bc := gw.BackendClientCertificate; bc != nil {
		for _, part := range [][]byte{bc.CertPEM, bc.KeyPEM} {
			d := sha256.Sum256(part)
			h.Write([]byte{'\n'})
			h.Write(d[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

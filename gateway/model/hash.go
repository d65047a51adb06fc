package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Hash identifies what a data plane serves for gw: the SHA-256 (hex) of the model's
// canonical JSON with Addresses cleared (a controller and a proxy bind different
// addresses for the same Gateway) followed by the digests of every certificate's
// PEM, key and OCSP response, which the JSON leaves out. Equal hashes mean equal
// behaviour; it is pure and stable across processes and Go versions of the same
// model definition.
func Hash(gw *Gateway) string {
	if gw == nil {
		return ""
	}
	c := *gw
	c.Addresses = nil
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
	return hex.EncodeToString(h.Sum(nil))
}

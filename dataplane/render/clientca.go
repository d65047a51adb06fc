package render

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Client certificate validation (model.Port.ClientValidation) needs the
// per-frontend verification of our nghttpx patch
// (hack/nghttpx-patches/*-frontend-client-verify.patch): the frontend parameters
// verify-client=<CAFILE> and verify-client-optional. Stock nghttpx only has a
// process-wide --verify-client, which cannot give two ports different CAs.

// clientCAFile is the state-directory name of a port's CA bundle: content
// addressed, so ports with the same bundle share one file.
func clientCAFile(cv *model.ClientValidation) string {
	return "client-ca-" + shortHash(cv.CAPEM) + ".crt"
}

// clientCAs checks every port's client certificate validation and adds the CA
// bundles to files.
func clientCAs(gw *model.Gateway, files map[string][]byte, opts Options) error {
	for _, p := range gw.Ports {
		cv := p.ClientValidation
		if cv == nil {
			continue
		}
		if p.Protocol != model.ProtocolHTTPS {
			return fmt.Errorf("port %d: client certificate validation on a %s port", p.Port, p.Protocol)
		}
		if !opts.Features.ClientVerify {
			return fmt.Errorf("port %d: client certificate validation needs an nghttpx with per-frontend verify-client= (hack/nghttpx-patches)", p.Port)
		}
		if err := checkCABundle(cv.CAPEM); err != nil {
			return fmt.Errorf("port %d: client CA bundle: %w", p.Port, err)
		}
		files[clientCAFile(cv)] = cv.CAPEM
	}
	return nil
}

// checkCABundle accepts PEM CERTIFICATE blocks that parse, and nothing else.
func checkCABundle(b []byte) error {
	n := 0
	for rest := b; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return fmt.Errorf("data after certificate %d is not PEM", n)
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is a %q", n+1, blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("no certificate")
	}
	return nil
}

// clientVerifyParams are the frontend parameters of a port's client certificate
// validation ("" when it has none).
func clientVerifyParams(p model.Port, opts Options) string {
	cv := p.ClientValidation
	if cv == nil {
		return ""
	}
	s := ";verify-client=" + opts.StateDir + "/" + clientCAFile(cv)
	if cv.AllowInsecureFallback {
		s += ";verify-client-optional"
	}
	return s
}

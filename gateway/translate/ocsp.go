package translate

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// OCSPOptions configure OCSP stapling from TLS Secrets. The zero value disables it.
type OCSPOptions struct {
	// Enabled staples the DER OCSP response found under SecretKey in a listener's
	// certificate Secret, once it checks out, and reports ListenerConditionOCSPStapled
	// on HTTPS listeners.
	Enabled bool
	// SecretKey is the Secret key of the response; default OCSPResponseKey.
	SecretKey string
	// Unsupported: the data plane cannot staple (nghttpx without
	// fetch-ocsp-response-file). Listeners then report reason Unsupported. The
	// model still carries valid responses, so that every translator of the same
	// objects computes the same model whatever its data plane.
	Unsupported bool
}

func (o OCSPOptions) secretKey() string {
	if o.SecretKey == "" {
		return OCSPResponseKey
	}
	return o.SecretKey
}

// ListenerConditionOCSPStapled is our implementation-specific listener condition:
// True when every certificate of the listener has a valid OCSP response to
// staple. It is informational: the certificate is served either way.
const ListenerConditionOCSPStapled = "gateway.nghttpx.zlab.co.jp/OCSPStapled"

// Reasons of ListenerConditionOCSPStapled (and of the Ingress events about OCSP).
const (
	OCSPReasonStapled     = "Stapled"
	OCSPReasonMissing     = "Missing"
	OCSPReasonInvalid     = "Invalid"
	OCSPReasonExpired     = "Expired"
	OCSPReasonRevoked     = "Revoked"
	OCSPReasonUnsupported = "Unsupported"
)

// ocspClockSkew tolerates a thisUpdate slightly ahead of our clock.
const ocspClockSkew = 5 * time.Minute

// OCSPResult is the verdict on one Secret's OCSP response.
type OCSPResult struct {
	// Reason is one of the OCSPReason constants except Unsupported.
	Reason string
	// Message says what was found, and what to fix when Reason is not Stapled.
	Message string
	// Response is the DER response to staple; nil unless Reason is Stapled.
	Response []byte
	// Recheck is when this verdict changes by itself, checked at a non-zero now:
	// the nextUpdate of a stapled response (it expires), or when a response
	// not valid yet becomes valid. Zero when only a new response changes it.
	Recheck time.Time
}

// CheckOCSPResponse checks a DER OCSP response for the first certificate of
// certPEM (tls.crt). The issuer is the next certificate of the chain that signed
// it, else one from caPEM (the Secret's ca.crt, as cert-manager writes it), else
// the leaf itself when self-signed. The response must be well-formed, successful,
// signed by the issuer (or a responder certificate it issued for OCSP signing),
// about the leaf's serial number, say "good", and be current at now; a zero now
// skips the time check. Pure: no clock, no network.
func CheckOCSPResponse(certPEM, caPEM, der []byte, now time.Time) OCSPResult {
	if len(der) == 0 {
		return OCSPResult{Reason: OCSPReasonMissing, Message: "no OCSP response"}
	}
	invalid := func(format string, args ...any) OCSPResult {
		return OCSPResult{Reason: OCSPReasonInvalid, Message: fmt.Sprintf(format, args...)}
	}
	chain := parseCertificates(certPEM)
	if len(chain) == 0 {
		return invalid("the certificate cannot be parsed")
	}
	leaf := chain[0]
	issuer := findIssuer(leaf, append(chain[1:], parseCertificates(caPEM)...))
	if issuer == nil {
		return invalid("the issuer of the certificate (%s) is neither in the chain after it nor in ca.crt, so the response cannot be verified; "+
			"put the intermediate certificate after the leaf", leaf.Issuer)
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		var re ocsp.ResponseError
		switch {
		case errors.As(err, &re):
			return invalid("the response has status %q, not successful", re.Status)
		case err.Error() == "no response matching the supplied certificate":
			if other, err := ocsp.ParseResponse(der, nil); err == nil && other.SerialNumber != nil {
				return invalid("the response is for serial number %s, not for the certificate's %s", serialHex(other.SerialNumber.Bytes()), serialHex(leaf.SerialNumber.Bytes()))
			}
			return invalid("the response has no entry for the certificate's serial number %s", serialHex(leaf.SerialNumber.Bytes()))
		}
		if _, perr := ocsp.ParseResponse(der, nil); perr != nil && !errors.As(perr, new(ocsp.ParseError)) {
			return invalid("the response is not DER-encoded OCSP (store the raw DER bytes, not PEM or base64 text)")
		}
		return invalid("the response is not a valid OCSP response signed by the certificate's issuer: %v", err)
	}
	if resp.Certificate != nil && !slices.Contains(resp.Certificate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return invalid("the response is signed by %s, which the issuer did not authorise for OCSP signing", resp.Certificate.Subject)
	}
	serial := serialHex(leaf.SerialNumber.Bytes())
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		return OCSPResult{Reason: OCSPReasonRevoked, Message: fmt.Sprintf("the response says the certificate (serial %s) was revoked at %s; replace the certificate",
			serial, resp.RevokedAt.UTC().Format(time.RFC3339))}
	default:
		return invalid("the response gives status unknown for the certificate (serial %s)", serial)
	}
	if !now.IsZero() {
		if resp.ThisUpdate.After(now.Add(ocspClockSkew)) {
			r := invalid("the response is not valid yet (thisUpdate %s)", resp.ThisUpdate.UTC().Format(time.RFC3339))
			r.Recheck = resp.ThisUpdate.Add(-ocspClockSkew)
			return r
		}
		if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
			return OCSPResult{Reason: OCSPReasonExpired, Message: fmt.Sprintf("the response expired at %s (nextUpdate); store a fresh one",
				resp.NextUpdate.UTC().Format(time.RFC3339))}
		}
	}
	msg := fmt.Sprintf("good for serial %s, thisUpdate %s", serial, resp.ThisUpdate.UTC().Format(time.RFC3339))
	if !resp.NextUpdate.IsZero() {
		msg += ", nextUpdate " + resp.NextUpdate.UTC().Format(time.RFC3339)
	}
	r := OCSPResult{Reason: OCSPReasonStapled, Message: msg, Response: der}
	if !now.IsZero() {
		r.Recheck = resp.NextUpdate
	}
	return r
}

// CheckOCSPSecret checks the OCSP response of a TLS Secret (see CheckOCSPResponse)
// under opts' key.
func CheckOCSPSecret(s *corev1.Secret, opts OCSPOptions, now time.Time) OCSPResult {
	data := secretData(s)
	r := CheckOCSPResponse(data[corev1.TLSCertKey], data["ca.crt"], data[opts.secretKey()], now)
	if r.Reason == OCSPReasonMissing {
		r.Message = fmt.Sprintf("no OCSP response under key %s", opts.secretKey())
	}
	return r
}

func parseCertificates(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

func findIssuer(leaf *x509.Certificate, candidates []*x509.Certificate) *x509.Certificate {
	for _, c := range append(candidates, leaf) {
		if leaf.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

func serialHex(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// ocspCheck returns the verdict on a certificate Secret, once per Secret and
// translation; nil when stapling is disabled.
func (t *translator) ocspCheck(k nsName, s *corev1.Secret) *OCSPResult {
	if !t.opts.OCSP.Enabled {
		return nil
	}
	if r, ok := t.ocsp[k]; ok {
		return r
	}
	var now time.Time
	if t.opts.Now.Unix() != 0 { // Translate's stand-in for "no clock given"
		now = t.opts.Now.Time
	}
	r := CheckOCSPSecret(s, t.opts.OCSP, now)
	t.ocsp[k] = &r
	return &r
}

// ocspRecheck is the earliest Recheck of the verdicts of this translation: when
// a stapled response expires (or one not valid yet becomes valid) with no object
// changing, so the caller must translate again then. Zero when none.
func (t *translator) ocspRecheck() time.Time {
	var at time.Time
	for _, r := range t.ocsp {
		if !r.Recheck.IsZero() && (at.IsZero() || r.Recheck.Before(at)) {
			at = r.Recheck
		}
	}
	return at
}

// ocspCondition is the listener's ListenerConditionOCSPStapled condition, nil when
// stapling is disabled or the listener has no usable certificate.
func (t *translator) ocspCondition(certs []*model.Certificate) *condition {
	if !t.opts.OCSP.Enabled || len(certs) == 0 {
		return nil
	}
	if t.opts.OCSP.Unsupported {
		c := falseCond(ListenerConditionOCSPStapled, OCSPReasonUnsupported,
			"OCSP stapling is enabled but this data plane's nghttpx cannot staple (no fetch-ocsp-response-file; removed upstream in 1.66)")
		return &c
	}
	// The most serious problem names the condition; Missing is the mildest.
	rank := map[string]int{OCSPReasonStapled: 0, OCSPReasonMissing: 1, OCSPReasonExpired: 2, OCSPReasonRevoked: 3, OCSPReasonInvalid: 4}
	reason := OCSPReasonStapled
	msgs := make([]string, 0, len(certs))
	for _, c := range certs {
		k := nsName{c.Source.Namespace, c.Source.Name}
		r := t.ocsp[k]
		if r == nil {
			continue
		}
		if rank[r.Reason] > rank[reason] {
			reason = r.Reason
		}
		msgs = append(msgs, fmt.Sprintf("Secret %s: %s", k, r.Message))
	}
	msg := joinMessages(msgs)
	if reason == OCSPReasonStapled {
		c := trueCond(ListenerConditionOCSPStapled, reason, "OCSP responses are stapled: "+msg)
		return &c
	}
	if reason == OCSPReasonMissing {
		msg = "nothing is stapled for a certificate without a response (informational): " + msg
	} else {
		msg = "a response that does not check out is not stapled; the certificate is still served: " + msg
	}
	c := falseCond(ListenerConditionOCSPStapled, reason, msg)
	return &c
}

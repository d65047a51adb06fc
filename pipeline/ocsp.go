package pipeline

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Event reasons about OCSP stapling on Ingresses (OCSP stapling enabled only).
// Gateways report the same in their listeners' OCSPStapled condition.
const (
	ReasonOCSPResponseMissing   = "OCSPResponseMissing" // Normal: nothing to staple
	ReasonOCSPResponseInvalid   = "OCSPResponseInvalid"
	ReasonOCSPResponseExpired   = "OCSPResponseExpired"
	ReasonOCSPResponseRevoked   = "OCSPResponseRevoked"
	ReasonOCSPStaplingUnsupport = "OCSPStaplingUnsupported"
)

// ocspIngressEvents adds an event to every Ingress whose TLS Secret's OCSP
// response is not stapled, and one about the default TLS Secret: Ingresses have
// no listener status to carry it. Secrets the shim found unusable already have
// their InvalidTLSSecret event.
func ocspIngressEvents(in *load.Input, res *ingressshim.Result, opts translate.Options, defaultTLSSecret string) {
	o := opts.OCSP
	if !o.Enabled || in == nil {
		return
	}
	var now time.Time
	if opts.Now.Unix() != 0 { // as the translator: no clock given
		now = opts.Now.Time
	}
	secrets := map[string]*corev1.Secret{}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		secrets[s.Namespace+"/"+s.Name] = s
	}
	event := func(k string) (ingressshim.Event, bool) {
		s := secrets[k]
		if s == nil || s.Type != corev1.SecretTypeTLS {
			return ingressshim.Event{}, false
		}
		if _, err := tls.X509KeyPair(secretValue(s, corev1.TLSCertKey), secretValue(s, corev1.TLSPrivateKeyKey)); err != nil {
			return ingressshim.Event{}, false
		}
		if o.Unsupported {
			return ingressshim.Event{Type: ingressshim.EventWarning, Reason: ReasonOCSPStaplingUnsupport,
				Message: "OCSP stapling is enabled but this data plane's nghttpx cannot staple (no fetch-ocsp-response-file; removed upstream in 1.66)"}, true
		}
		r := translate.CheckOCSPSecret(s, o, now)
		e := ingressshim.Event{Type: ingressshim.EventWarning, Message: fmt.Sprintf("Secret %s: %s; the certificate is served without a stapled OCSP response", k, r.Message)}
		switch r.Reason {
		case translate.OCSPReasonStapled:
			return e, false
		case translate.OCSPReasonMissing:
			e.Type, e.Reason = ingressshim.EventNormal, ReasonOCSPResponseMissing
		case translate.OCSPReasonExpired:
			e.Reason = ReasonOCSPResponseExpired
		case translate.OCSPReasonRevoked:
			e.Reason = ReasonOCSPResponseRevoked
		default:
			e.Reason = ReasonOCSPResponseInvalid
		}
		return e, true
	}

	ingresses := map[string][]string{} // Ingress -> its TLS Secrets
	for _, ing := range in.Ingresses {
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" {
				ingresses[ing.Namespace+"/"+ing.Name] = append(ingresses[ing.Namespace+"/"+ing.Name], ing.Namespace+"/"+t.SecretName)
			}
		}
	}
	for i := range res.Ingresses {
		ir := &res.Ingresses[i]
		seen := map[string]bool{}
		for _, k := range ingresses[ir.Namespace+"/"+ir.Name] {
			if seen[k] {
				continue
			}
			seen[k] = true
			if e, ok := event(k); ok {
				ir.Events = append(ir.Events, e)
			}
		}
	}
	if k := defaultTLSSecret; k != "" {
		if e, ok := event(k); ok {
			ns, name, _ := strings.Cut(k, "/")
			res.Events = append(res.Events, ingressshim.ObjectEvent{Regarding: &model.ObjectRef{Kind: "Secret", Namespace: ns, Name: name}, Event: e})
		}
	}
}

// secretValue reads a key with stringData applied over data, as the API server
// stores it.
func secretValue(s *corev1.Secret, key string) []byte {
	if v, ok := s.StringData[key]; ok {
		return []byte(v)
	}
	return s.Data[key]
}

package translate

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// CACertificateKey is the key of a PEM CA bundle in a ConfigMap or Secret named by
// spec.tls.frontend caCertificateRefs.
const CACertificateKey = "ca.crt"

// frontendValidation returns the client certificate validation that applies to
// HTTPS listeners on port: the perPort entry for it, else the default (nil: none).
func frontendValidation(gw *gatewayv1.Gateway, port gatewayv1.PortNumber) *gatewayv1.FrontendTLSValidation {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return nil
	}
	f := gw.Spec.TLS.Frontend
	for _, pp := range f.PerPort {
		if pp.Port == port {
			return pp.TLS.Validation
		}
	}
	return f.Default.Validation
}

// insecureFrontendValidation reports whether the Gateway allows insecure fallback
// anywhere (condition InsecureFrontendValidationMode).
func insecureFrontendValidation(gw *gatewayv1.Gateway) bool {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return false
	}
	f := gw.Spec.TLS.Frontend
	insecure := func(v *gatewayv1.FrontendTLSValidation) bool {
		return v != nil && v.Mode == gatewayv1.AllowInsecureFallback
	}
	if insecure(f.Default.Validation) {
		return true
	}
	for _, pp := range f.PerPort {
		if insecure(pp.TLS.Validation) {
			return true
		}
	}
	return false
}

// insecureFrontendCondition is the Gateway's InsecureFrontendValidationMode
// condition, nil when it must not be set.
func insecureFrontendCondition(gw *gatewayv1.Gateway) *condition {
	if !insecureFrontendValidation(gw) {
		return nil
	}
	c := trueCond(string(gatewayv1.GatewayConditionInsecureFrontendValidationMode),
		string(gatewayv1.GatewayReasonConfigurationChanged),
		"client certificate validation uses mode AllowInsecureFallback: connections without a valid client certificate are accepted")
	return &c
}

// resolveClientValidation resolves the client certificate validation of an HTTPS
// listener on gw: invalid references become ResolvedRefs=False reasons, and when
// none is usable the listener is not accepted (NoValidCACertificate).
func (t *translator) resolveClientValidation(gw *gatewayv1.Gateway, ls *listenerState) {
	v := frontendValidation(gw, ls.spec.Port)
	if v == nil {
		return
	}
	if t.opts.NoClientValidation {
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
			"client certificate validation (spec.tls.frontend) needs an nghttpx built with per-frontend client verification (hack/nghttpx-patches); this data plane's nghttpx lacks it")
		return
	}
	cv := &model.ClientValidation{}
	switch v.Mode {
	case "", gatewayv1.AllowValidOnly:
	case gatewayv1.AllowInsecureFallback:
		cv.AllowInsecureFallback = true
	default:
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
			fmt.Sprintf("client certificate validation mode %q is not supported; use AllowValidOnly or AllowInsecureFallback", v.Mode))
		return
	}
	var bundle bytes.Buffer
	for _, ref := range v.CACertificateRefs {
		pemData, src, reason, msg := t.resolveCACertificate(gw, ref)
		if pemData == nil {
			ls.refProblems = append(ls.refProblems, falseCond("", reason, msg))
			continue
		}
		cv.Sources = append(cv.Sources, src)
		bundle.Write(pemData)
	}
	if len(cv.Sources) == 0 {
		ls.reject(string(gatewayv1.ListenerReasonNoValidCACertificate),
			"no caCertificateRef of the client certificate validation (spec.tls.frontend) is usable; see ResolvedRefs")
		return
	}
	cv.CAPEM = bundle.Bytes()
	ls.clientValidation = cv
}

// resolveCACertificate returns the PEM CA certificates of one caCertificateRef of
// gw, re-encoded (only CERTIFICATE blocks that parse), and the object it came
// from; on failure the listener ResolvedRefs reason and a message.
func (t *translator) resolveCACertificate(gw *gatewayv1.Gateway, ref gatewayv1.ObjectReference) ([]byte, model.ObjectRef, string, string) {
	group, kind := string(ref.Group), string(ref.Kind)
	k := nsName{gw.Namespace, string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	src := model.ObjectRef{Kind: kind, Namespace: k.Namespace, Name: k.Name}
	if group != "" || kind != "ConfigMap" && kind != "Secret" {
		return nil, src, string(gatewayv1.ListenerReasonInvalidCACertificateKind),
			fmt.Sprintf("caCertificateRef %s is a %s; only core ConfigMaps and Secrets are supported", k, groupKind(group, kind))
	}
	if !t.idx.referenceAllowed(gatewayv1.GroupName, "Gateway", gw.Namespace,
		refTarget{Group: "", Kind: kind, Namespace: k.Namespace, Name: k.Name}) {
		return nil, src, string(gatewayv1.ListenerReasonRefNotPermitted),
			fmt.Sprintf("%s %s is in another namespace and no ReferenceGrant there allows Gateways from namespace %s to use it", kind, k, gw.Namespace)
	}
	var data []byte
	switch kind {
	case "ConfigMap":
		cm := t.idx.configMaps[k]
		if cm == nil {
			return nil, src, string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s does not exist", k)
		}
		if s, ok := cm.Data[CACertificateKey]; ok {
			data = []byte(s)
		} else {
			data = cm.BinaryData[CACertificateKey]
		}
	case "Secret":
		s := t.idx.secrets[k]
		if s == nil {
			return nil, src, string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("Secret %s does not exist", k)
		}
		data = secretData(s)[CACertificateKey]
	}
	if len(data) == 0 {
		return nil, src, string(gatewayv1.ListenerReasonInvalidCACertificateRef),
			fmt.Sprintf("%s %s has no key %s", kind, k, CACertificateKey)
	}
	out, err := caBundle(data)
	if err != nil {
		return nil, src, string(gatewayv1.ListenerReasonInvalidCACertificateRef),
			fmt.Sprintf("%s %s key %s: %v", kind, k, CACertificateKey, err)
	}
	return out, src, "", ""
}

// caBundle re-encodes the certificates of a PEM bundle, refusing one without any
// or with a block that is not a valid certificate, so that only PEM the
// translator parsed reaches the data plane.
func caBundle(data []byte) ([]byte, error) {
	var out bytes.Buffer
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", n+1, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}); err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out.Bytes(), nil
}

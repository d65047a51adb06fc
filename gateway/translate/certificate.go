package translate

import (
	"crypto/tls"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// OCSPResponseKey is the default Secret key of a DER OCSP response to staple
// (OCSPOptions.SecretKey).
const OCSPResponseKey = "tls.ocsp-resp"

// secretData returns the Secret's data with stringData applied over it, as the API
// server would store it; standalone YAML often uses stringData.
func secretData(s *corev1.Secret) map[string][]byte {
	if len(s.StringData) == 0 {
		return s.Data
	}
	out := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

func certificateName(k nsName) string { return "secret/" + k.Namespace + "/" + k.Name }

// resolveCertificateFrom resolves one certificateRef of a listener declared by
// owner (a Gateway or ListenerSet; ReferenceGrants must allow that kind). On
// failure it returns the listener ResolvedRefs reason and a message.
func (t *translator) resolveCertificateFrom(owner listenerOwner, ref gatewayv1.SecretObjectReference) (*model.Certificate, string, string) {
	group, kind := "", "Secret"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	k := nsName{owner.Namespace, string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	if group != "" || kind != "Secret" {
		return nil, string(gatewayv1.ListenerReasonInvalidCertificateRef),
			fmt.Sprintf("certificateRef %s is a %s; only core Secrets are supported", k, groupKind(group, kind))
	}
	if !t.idx.referenceAllowed(gatewayv1.GroupName, owner.Kind, owner.Namespace,
		refTarget{Group: "", Kind: "Secret", Namespace: k.Namespace, Name: k.Name}) {
		return nil, string(gatewayv1.ListenerReasonRefNotPermitted),
			fmt.Sprintf("Secret %s is in another namespace and no ReferenceGrant there allows %ss from namespace %s to use it", k, owner.Kind, owner.Namespace)
	}
	s := t.idx.secrets[k]
	if s == nil {
		return nil, string(gatewayv1.ListenerReasonInvalidCertificateRef), t.idx.certs.MissingSecretMessage(k.Namespace, k.Name)
	}
	if s.Type != corev1.SecretTypeTLS {
		return nil, string(gatewayv1.ListenerReasonInvalidCertificateRef),
			fmt.Sprintf("Secret %s has type %q; it must be %q", k, s.Type, corev1.SecretTypeTLS)
	}
	data := secretData(s)
	crt, key := data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, string(gatewayv1.ListenerReasonInvalidCertificateRef),
			fmt.Sprintf("Secret %s must hold both %s and %s", k, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return nil, string(gatewayv1.ListenerReasonInvalidCertificateRef),
			fmt.Sprintf("Secret %s does not hold a valid PEM certificate and matching key: %v", k, err)
	}
	cert := &model.Certificate{
		Name:    certificateName(k),
		Source:  model.ObjectRef{Kind: "Secret", Namespace: k.Namespace, Name: k.Name},
		CertPEM: crt,
		KeyPEM:  key,
	}
	// Only a response that checks out is stapled; the rest is reported on the
	// listener (ocspCondition).
	if r := t.ocspCheck(k, s); r != nil && r.Reason == OCSPReasonStapled {
		cert.OCSPResponse = r.Response
	}
	return cert, "", ""
}

func groupKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return fmt.Sprintf("%s (group %s)", kind, group)
}

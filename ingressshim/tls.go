package ingressshim

//lint:file-ignore ST1005 the messages start with the kind Secret, as kubectl spells it; they are in status goldens

import (
	"crypto/tls"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// checkSecret reports why a Secret cannot serve as a certificate, nil when it
// can. The checks are those translate.Translate applies to certificateRefs, so that
// the problem is reported on the Ingress rather than on a synthetic Gateway.
func (t *translator) checkSecret(k nsName) error {
	if err, ok := t.secretChecks[k]; ok {
		return err
	}
	var err error
	if s := t.secrets[k]; s == nil {
		// Name the cert-manager Certificate that will write it, if any.
		err = errors.New(t.certs.MissingSecretMessage(k.Namespace, k.Name))
	} else {
		err = checkSecret(s, k)
	}
	t.secretChecks[k] = err
	return err
}

func checkSecret(s *corev1.Secret, k nsName) error {
	if s == nil {
		return fmt.Errorf("Secret %s does not exist", k)
	}
	if s.Type != corev1.SecretTypeTLS {
		return fmt.Errorf("Secret %s has type %q; it must be %q (kubectl create secret tls)", k, s.Type, corev1.SecretTypeTLS)
	}
	crt, key := secretValue(s, corev1.TLSCertKey), secretValue(s, corev1.TLSPrivateKeyKey)
	if len(crt) == 0 || len(key) == 0 {
		return fmt.Errorf("Secret %s must hold both %s and %s", k, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return fmt.Errorf("Secret %s does not hold a valid PEM certificate and matching key: %w", k, err)
	}
	return nil
}

// secretValue reads a key with stringData applied over data, as the API server
// stores it; standalone YAML often uses stringData.
func secretValue(s *corev1.Secret, key string) []byte {
	if v, ok := s.StringData[key]; ok {
		return []byte(v)
	}
	return s.Data[key]
}

package translate

import (
	"fmt"
	"slices"
	"strings"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
)

// CertificateIndex finds the cert-manager Certificates that write a Secret, so
// that a missing certificate Secret can be explained by the Certificate that
// will create it. The zero value (and nil) finds nothing.
type CertificateIndex struct {
	bySecret map[nsName][]*cmv1.Certificate
}

// NewCertificateIndex indexes Certificates by spec.secretName in their own
// namespace (cert-manager only writes Secrets there). Where the slice holds the
// same Certificate twice, the later one wins.
func NewCertificateIndex(certs []cmv1.Certificate) *CertificateIndex {
	x := &CertificateIndex{bySecret: map[nsName][]*cmv1.Certificate{}}
	for _, c := range dedupSorted(certs, func(c *cmv1.Certificate) nsName { return keyOf(c) }) {
		if c.Spec.SecretName == "" {
			continue
		}
		k := nsName{c.Namespace, c.Spec.SecretName}
		x.bySecret[k] = append(x.bySecret[k], c)
	}
	return x
}

// MissingSecretMessage says that the Secret namespace/name does not exist and,
// when Certificates target it, names them with their Ready condition: the
// Secret is expected, and Ready tells the user what cert-manager is doing.
func (x *CertificateIndex) MissingSecretMessage(namespace, name string) string {
	k := nsName{namespace, name}
	var certs []*cmv1.Certificate
	if x != nil {
		certs = x.bySecret[k]
	}
	if len(certs) == 0 {
		return fmt.Sprintf("Secret %s does not exist", k)
	}
	parts := make([]string, 0, len(certs))
	for _, c := range certs {
		parts = append(parts, fmt.Sprintf("%s (%s)", keyOf(c), readySummary(c)))
	}
	if len(parts) == 1 {
		return fmt.Sprintf("Secret %s does not exist yet; cert-manager Certificate %s will create it", k, parts[0])
	}
	// Several Certificates writing one Secret fight over it; name them all.
	return fmt.Sprintf("Secret %s does not exist yet; cert-manager Certificates %s all target it", k, strings.Join(parts, ", "))
}

// readySummary renders a Certificate's Ready condition as
// "Ready=False, reason Issuing: message".
func readySummary(c *cmv1.Certificate) string {
	i := slices.IndexFunc(c.Status.Conditions, func(cond cmv1.CertificateCondition) bool {
		return cond.Type == cmv1.CertificateConditionReady
	})
	if i < 0 {
		return "no Ready condition yet"
	}
	cond := c.Status.Conditions[i]
	s := "Ready=" + string(cond.Status)
	if cond.Reason != "" {
		s += ", reason " + cond.Reason
	}
	if cond.Message != "" {
		s += ": " + cond.Message
	}
	return s
}

package translate

import (
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

func certificate(ns, name, secret string, conds ...cmv1.CertificateCondition) cmv1.Certificate {
	return cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       cmv1.CertificateSpec{SecretName: secret},
		Status:     cmv1.CertificateStatus{Conditions: conds},
	}
}

func TestMissingSecretMessage(t *testing.T) {
	ready := func(status cmmeta.ConditionStatus, reason, msg string) cmv1.CertificateCondition {
		return cmv1.CertificateCondition{Type: cmv1.CertificateConditionReady, Status: status, Reason: reason, Message: msg}
	}
	issuing := cmv1.CertificateCondition{Type: cmv1.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: "X"}
	old := certificate("web", "site", "site-tls", ready(cmmeta.ConditionFalse, "Old", "stale"))
	x := NewCertificateIndex([]cmv1.Certificate{
		old,
		certificate("web", "other", ""), // no secretName: ignored
		certificate("web", "site", "site-tls", issuing, ready(cmmeta.ConditionFalse, "Issuing", "in progress")),
		certificate("web", "bare", "bare-tls", ready(cmmeta.ConditionUnknown, "", "")),
	})
	tests := []struct {
		name      string
		x         *CertificateIndex
		ns, s     string
		want      string
		wantExact bool
	}{
		{"nil index", nil, "web", "site-tls", "Secret web/site-tls does not exist", true},
		{"no Certificate", x, "web", "nope", "Secret web/nope does not exist", true},
		{"other namespace", x, "other", "site-tls", "Secret other/site-tls does not exist", true},
		// The later duplicate wins; the Ready condition is found among others.
		{"ready false", x, "web", "site-tls",
			"Secret web/site-tls does not exist yet; cert-manager Certificate web/site (Ready=False, reason Issuing: in progress) will create it", true},
		{"no reason or message", x, "web", "bare-tls", "(Ready=Unknown) will create it", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.x.MissingSecretMessage(tt.ns, tt.s)
			if tt.wantExact && got != tt.want || !tt.wantExact && !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeCertificates(t *testing.T) {
	in, err := load.DecodeYAML([]byte(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: site, namespace: web}
spec: {secretName: site-tls, issuerRef: {name: ca}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: web}
spec: {selfSigned: {}, fieldFromAFutureRelease: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Certificates) != 1 || in.Certificates[0].Spec.SecretName != "site-tls" {
		t.Errorf("Certificates %+v, want web/site for site-tls", in.Certificates)
	}
	// Other cert-manager kinds are not validated; they are skipped as before.
	if len(in.Other) != 1 || strings.Join(in.SkippedKinds, ",") != "cert-manager.io/v1/Issuer" {
		t.Errorf("Other %d objects, skipped kinds %v; want the Issuer only", len(in.Other), in.SkippedKinds)
	}
	// A typo in a Certificate is an error, like in any kind we read.
	if _, err := load.DecodeYAML([]byte("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {secretname: x}\n")); err == nil ||
		!strings.Contains(err.Error(), "secretname") {
		t.Errorf("a Certificate with an unknown field decoded without the error naming it: %v", err)
	}
	var all load.Input
	all.Append(in)
	if len(all.Certificates) != 1 {
		t.Errorf("Append dropped Certificates: %d", len(all.Certificates))
	}
}

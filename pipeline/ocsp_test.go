package pipeline

import (
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Ingresses have no listener status: what the OCSP check finds about their TLS
// Secrets becomes events on them. The Secrets are the translator's OCSP
// fixtures (responses current on 2024-01-01).
func TestOCSPIngressEvents(t *testing.T) {
	secrets, err := os.ReadFile("../gateway/translate/testdata/listener-ocsp.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(secrets), "\n---\n# a good")
	if i < 0 {
		t.Fatal("fixture Secrets not found")
	}
	ingresses := `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nghttpx
spec:
  controller: zlab.co.jp/nghttpx
`
	for _, n := range []string{"good", "missing", "malformed", "expired", "revoked"} {
		ingresses += `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ` + n + `
  namespace: default
spec:
  ingressClassName: nghttpx
  tls:
  - secretName: ` + n + `
  - hosts: [` + n + `.example.com]
    secretName: ` + n + `
  rules:
  - host: ` + n + `.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
`
	}
	in, err := load.DecodeYAML([]byte(ingresses + string(secrets[i:])))
	if err != nil {
		t.Fatal(err)
	}
	build := func(o translate.OCSPOptions) map[string][]ingressshim.Event {
		out := Build(in, Options{
			Gateway:  translate.Options{Now: metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), OCSP: o},
			Render:   render.Options{APIPort: 15000},
			StateDir: "/var/run/nghttpx-gateway",
			Ingress:  ingressshim.Options{DefaultTLSSecret: "default/revoked"},
		})
		got := map[string][]ingressshim.Event{}
		for _, ir := range out.Ingress.Ingresses {
			for _, e := range ir.Events {
				if strings.HasPrefix(e.Reason, "OCSP") {
					got[ir.Name] = append(got[ir.Name], e)
				}
			}
		}
		for _, e := range out.Ingress.Events {
			if strings.HasPrefix(e.Reason, "OCSP") && e.Regarding != nil {
				got["Secret "+e.Regarding.Name] = append(got["Secret "+e.Regarding.Name], e.Event)
			}
		}
		return got
	}

	got := build(translate.OCSPOptions{Enabled: true})
	want := map[string]string{ // one event per Ingress and Secret, even when listed twice
		"missing": "Normal " + ReasonOCSPResponseMissing, "malformed": "Warning " + ReasonOCSPResponseInvalid,
		"expired": "Warning " + ReasonOCSPResponseExpired, "revoked": "Warning " + ReasonOCSPResponseRevoked,
		"Secret revoked": "Warning " + ReasonOCSPResponseRevoked,
	}
	if len(got) != len(want) {
		t.Errorf("events for %d objects, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		if es := got[k]; len(es) != 1 || es[0].Type+" "+es[0].Reason != w || !strings.Contains(es[0].Message, "Secret default/") {
			t.Errorf("%s: events %+v; want one %s", k, es, w)
		}
	}

	got = build(translate.OCSPOptions{Enabled: true, Unsupported: true})
	if es := got["good"]; len(es) != 1 || es[0].Reason != ReasonOCSPStaplingUnsupport {
		t.Errorf("unsupported data plane: good gets %+v", es)
	}
	if got = build(translate.OCSPOptions{}); len(got) != 0 {
		t.Errorf("stapling disabled, yet events: %+v", got)
	}
}

package proxyagent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

type fakeDP struct {
	starts, applies int
	last            render.Config
	fail            error
	stats           apply.Stats
}

func (f *fakeDP) Start(_ context.Context, cfg render.Config) error {
	f.starts++
	f.last = cfg
	return nil
}

func (f *fakeDP) Apply(_ context.Context, cfg render.Config) error {
	if f.fail != nil {
		return f.fail
	}
	f.applies++
	f.last = cfg
	f.stats.BackendPosts.Add(1)
	return nil
}
func (f *fakeDP) Stop(context.Context) error { return nil }
func (f *fakeDP) Stats() *apply.Stats        { return &f.stats }

const objects = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: ns}
spec:
  gatewayClassName: nghttpx
  addresses: [{type: IPAddress, value: 192.0.2.7}]
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: ns}
spec: {ports: [{port: 80, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: ns, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
endpoints: [{addresses: [ENDPOINT], conditions: {ready: true}}]
ports: [{port: 3000}]
`

func input(t *testing.T, endpoint string) *load.Input {
	t.Helper()
	in, err := load.DecodeYAML([]byte(strings.ReplaceAll(objects, "ENDPOINT", endpoint)))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func status(t *testing.T, h http.Handler) Status {
	t.Helper()
	code, body := get(t, h, "/status")
	var s Status
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("/status: %d %s", code, body)
	}
	return s
}

func TestSyncAppliesAndReports(t *testing.T) {
	dp := &fakeDP{}
	a, err := New(Options{
		Gateway:      types.NamespacedName{Namespace: "ns", Name: "gw"},
		StateDir:     t.TempDir(),
		Render:       render.Options{APIPort: 9999},
		NewDataPlane: func(string) (DataPlane, error) { return dp, nil },
		Log:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("ready before the first apply: %d", code)
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}

	ctx := context.Background()
	if err := a.Sync(ctx, input(t, "10.244.0.10")); err != nil {
		t.Fatal(err)
	}
	if dp.starts != 1 {
		t.Fatalf("starts %d", dp.starts)
	}
	// The data plane binds the wildcard address, not the Gateway's own.
	if main := string(dp.last.Main); !strings.Contains(main, "frontend=0.0.0.0,80") || strings.Contains(main, "192.0.2.7") {
		t.Errorf("frontends not bound to the wildcard:\n%s", main)
	}
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("not ready after the first apply: %d", code)
	}
	s1 := status(t, h)
	if !s1.Applied || len(s1.ModelHash) != 64 {
		t.Fatalf("status after first apply %+v", s1)
	}

	// The same objects hash the same; a new endpoint changes the hash.
	if err := a.Sync(ctx, input(t, "10.244.0.10")); err != nil {
		t.Fatal(err)
	}
	if s := status(t, h); s.ModelHash != s1.ModelHash {
		t.Errorf("hash changed without a change: %s -> %s", s1.ModelHash, s.ModelHash)
	}
	if err := a.Sync(ctx, input(t, "10.244.0.11")); err != nil {
		t.Fatal(err)
	}
	s2 := status(t, h)
	if s2.ModelHash == s1.ModelHash || dp.applies != 2 || s2.BackendPosts != 2 {
		t.Errorf("after endpoint change: %+v, applies %d", s2, dp.applies)
	}

	// A failed apply keeps the old hash, reports the error and stays ready.
	dp.fail = errors.New("nghttpx said no")
	if err := a.Sync(ctx, input(t, "10.244.0.12")); err == nil {
		t.Error("failed apply not reported")
	}
	s3 := status(t, h)
	if s3.Applied || s3.ModelHash != s2.ModelHash || !strings.Contains(s3.Error, "nghttpx said no") {
		t.Errorf("after failure: %+v", s3)
	}
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("a failed update must not fail readiness: %d", code)
	}

	a.st.mu.Lock()
	a.st.draining = true
	a.st.mu.Unlock()
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("ready while draining: %d", code)
	}
}

func TestSyncIgnoresOtherGateways(t *testing.T) {
	dp := &fakeDP{}
	a, err := New(Options{
		Gateway:      types.NamespacedName{Namespace: "ns", Name: "other"},
		StateDir:     t.TempDir(),
		NewDataPlane: func(string) (DataPlane, error) { return dp, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(context.Background(), input(t, "10.244.0.10")); err != nil {
		t.Fatal(err)
	}
	if dp.starts != 0 {
		t.Error("started nghttpx for another Gateway")
	}
	if code, _ := get(t, a.Handler(), "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("ready without a configuration: %d", code)
	}
}

const ingressObjects = `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nghttpx}
spec: {controller: zlab.co.jp/nghttpx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: apps}
spec:
  ingressClassName: nghttpx
  rules:
  - host: foo.bar.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: apps}
spec: {ports: [{port: 80, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: apps, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.20], conditions: {ready: true}}]
ports: [{port: 3000}]
`

// A proxy of the Ingress shim's synthetic Gateway runs the shim with the
// controller's options and ends up with the model the controller computed, so
// the controller can confirm it by hash.
func TestSyncServesSyntheticIngressGateway(t *testing.T) {
	in, err := load.DecodeYAML([]byte(ingressObjects))
	if err != nil {
		t.Fatal(err)
	}
	shim := ingressshim.Options{Namespace: "system", HTTPPort: 8080}
	newAgent := func(ing *ingressshim.Options) (*Agent, *fakeDP) {
		dp := &fakeDP{}
		a, err := New(Options{
			Gateway:       types.NamespacedName{Namespace: "system", Name: "nghttpx"},
			StateDir:      t.TempDir(),
			Render:        render.Options{APIPort: 9999},
			NewDataPlane:  func(string) (DataPlane, error) { return dp, nil },
			Ingress:       ing,
			ProxyProtocol: true,
			Log:           testr.New(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		return a, dp
	}
	// Without the Ingress options there is no such Gateway.
	a, dp := newAgent(nil)
	if err := a.Sync(context.Background(), in); err != nil || dp.starts != 0 {
		t.Fatalf("without --ingress: err %v, starts %d", err, dp.starts)
	}
	a, dp = newAgent(&shim)
	if err := a.Sync(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if dp.starts != 1 {
		t.Fatalf("starts %d", dp.starts)
	}
	if main := string(dp.last.Main); !strings.Contains(main, "frontend=0.0.0.0,8080;no-tls;proxyproto") {
		t.Errorf("no PROXY-protocol frontend on the Ingress HTTP port:\n%s", main)
	}
	// The controller's view: same objects, its own gateway options.
	out := pipeline.Build(in, pipeline.Options{
		Gateway: translate.Options{ControllerName: translate.DefaultControllerName,
			GatewayAddresses: func(string, string) []string { return []string{"10.245.0.9"} }},
		Ingress: shim,
	})
	var want string
	for _, g := range out.Gateways {
		if g.Model.Source.Namespace == "system" && g.Model.Source.Name == "nghttpx" {
			want = model.Hash(g.Model)
		}
	}
	if got := status(t, a.Handler()).ModelHash; want == "" || got != want {
		t.Errorf("proxy hash %s, controller hash %s", got, want)
	}
}

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
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
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

func input(t *testing.T, endpoint string) *gateway.Input {
	t.Helper()
	in, err := gateway.DecodeYAML([]byte(strings.ReplaceAll(objects, "ENDPOINT", endpoint)))
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

//go:build integration

package proxyagent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// TestLiveDeferredShutdown: an Ingress data plane with --deferred-shutdown-period
// answers /nghttpx-healthz with 200 through real nghttpx; once shutdown starts
// it answers 503 while the Ingress rules keep serving for the period, with no
// nghttpx reload, and then nghttpx stops.
func TestLiveDeferredShutdown(t *testing.T) {
	ctx := context.Background()
	bin, rf := liveNghttpx(t)
	echo := testenv.StartEcho(t, "deferred")
	port := testenv.FreePort(t)
	in, err := load.DecodeYAML([]byte(`
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
` + echoBackend(echo.HTTPPort)))
	if err != nil {
		t.Fatal(err)
	}
	const period = 3 * time.Second
	a, err := New(Options{
		Gateway:  types.NamespacedName{Namespace: "system", Name: "nghttpx"},
		StateDir: t.TempDir(),
		Render:   render.Options{APIPort: testenv.FreePort(t), Workers: 1, Features: rf, GracePeriod: time.Second},
		Ingress: &ingressshim.Options{Namespace: "system", HTTPPort: int32(port), DisableHTTPS: true,
			InternalDefaultBackend: true, DeferredShutdownPeriod: period},
		NewDataPlane: liveDataPlane(t, bin),
		StopTimeout:  10 * time.Second,
		Log:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	sync := func() error {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return a.Sync(sctx, in)
	}
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(host, path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.WaitTCP(t, nil, "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	if code, body := get("any.example", "/nghttpx-healthz"); code != 200 || body != "ok" {
		t.Fatalf("/nghttpx-healthz before shutdown: %d %q", code, body)
	}
	if code, _ := get("foo.bar.com", "/"); code != 200 {
		t.Fatalf("the Ingress rule: %d", code)
	}
	reloads := a.inst.Stats().Reloads.Load()

	// Shutdown as Run does it: the build loop rebuilds on notify.
	syncErr := make(chan error, 8)
	a.notify.Store(func() { go func() { syncErr <- sync() }() })
	loopDone := make(chan struct{})
	started := time.Now()
	done := make(chan struct{})
	go func() {
		a.shutdown(loopDone, func() { close(loopDone) }, period)
		close(done)
	}()
	var code int
	for code, _ = get("any.example", "/nghttpx-healthz"); code != 503; code, _ = get("any.example", "/nghttpx-healthz") {
		if time.Since(started) > period {
			t.Fatalf("/nghttpx-healthz still %d %v after shutdown began", code, time.Since(started))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/nghttpx-healthz answered 503 %v after shutdown began", time.Since(started).Round(time.Millisecond))
	if err := <-syncErr; err != nil {
		t.Errorf("rebuild on shutdown: %v", err)
	}
	if code, _ := get("foo.bar.com", "/"); code != 200 {
		t.Errorf("the Ingress rule during the deferred period: %d, want 200", code)
	}
	if r := a.inst.Stats().Reloads.Load(); r != reloads {
		t.Errorf("nghttpx reloaded %d times for the health answer, want 0", r-reloads)
	}
	select {
	case <-done:
		t.Fatalf("shutdown finished after %v, before the %v period", time.Since(started), period)
	case <-time.After(period - time.Since(started) - 200*time.Millisecond):
	}
	<-done
	if code, _ := get("any.example", "/nghttpx-healthz"); code != 0 {
		t.Errorf("nghttpx still answers %d after the period", code)
	}
}

// liveNghttpx is the built nghttpx and its render features (no OCSP).
func liveNghttpx(t *testing.T) (string, render.Features) {
	t.Helper()
	bin := testenv.NghttpxBin(t)
	feat, err := features.Detect(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	rf := feat.Render()
	rf.OCSP = false
	return bin, rf
}

// liveDataPlane runs bin for an agent, with a short graceful stop.
func liveDataPlane(t *testing.T, bin string) func(dir string) (DataPlane, error) {
	return func(dir string) (DataPlane, error) {
		return apply.New(apply.Options{Binary: bin, StateDir: dir, Log: testr.New(t).WithName("nghttpx"), StopGrace: 2 * time.Second})
	}
}

// echoBackend is the Service apps/echo (port 80) and its one ready endpoint,
// 127.0.0.1:port.
func echoBackend(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: echo, namespace: apps}
spec: {ports: [{port: 80, targetPort: %[1]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: apps, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{port: %[1]d}]
`, port)
}

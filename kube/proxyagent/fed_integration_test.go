//go:build integration

package proxyagent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// fedInput is two IngressClasses of ours with an Ingress each (hosts), all
// to one echo backend on 127.0.0.1:port.
func fedInput(t *testing.T, port int, hosts ...string) *load.Input {
	t.Helper()
	var b strings.Builder
	for i, h := range hosts {
		fmt.Fprintf(&b, `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: class-%[1]d}
spec: {controller: zlab.co.jp/nghttpx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web-%[1]d, namespace: apps}
spec:
  ingressClassName: class-%[1]d
  rules:
  - host: %[2]s
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}
---
`, i, h)
	}
	b.WriteString(echoBackend(port))
	in, err := load.DecodeYAML([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestLiveFedInPod is the in-pod topology through real nghttpx: an agent fed
// snapshots by its caller (as the controller does) serves the Ingresses of
// every IngressClass of ours on one port, is ready only once configured,
// applies a new Ingress with no reload, and on Stop answers /nghttpx-healthz
// with 503 for the deferred period while the Ingresses keep serving.
func TestLiveFedInPod(t *testing.T) {
	ctx := context.Background()
	bin, rf := liveNghttpx(t)
	echo := testenv.StartEcho(t, "in-pod")
	port := testenv.FreePort(t)
	const period = 2 * time.Second
	f, err := NewFed(Options{
		Gateway:  types.NamespacedName{Namespace: "system", Name: ingressshim.DefaultGatewayName},
		StateDir: t.TempDir(),
		Render:   render.Options{APIPort: testenv.FreePort(t), Workers: 1, Features: rf, GracePeriod: time.Second},
		Ingress: &ingressshim.Options{Namespace: "system", HTTPPort: int32(port), DisableHTTPS: true, OneGateway: true,
			InternalDefaultBackend: true, DeferredShutdownPeriod: period},
		NewDataPlane: liveDataPlane(t, bin),
		DrainPeriod:  100 * time.Millisecond,
		StopTimeout:  10 * time.Second,
		Log:          testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	dues := 0
	if err := f.Start(ctx, nil, func() { dues++ }); err != nil {
		t.Fatal(err)
	}
	if err := f.Ready(); err == nil {
		t.Fatal("ready before any configuration")
	}
	sync := func(in *load.Input) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := f.Sync(sctx, in); err != nil {
			t.Fatal(err)
		}
	}
	sync(fedInput(t, echo.HTTPPort, "a.example", "b.example"))
	if err := f.Ready(); err != nil {
		t.Fatalf("not ready after the first Sync: %v", err)
	}
	if err := f.Healthy(); err != nil {
		t.Fatalf("not healthy: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(host, path string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.WaitTCP(t, nil, "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	for host, want := range map[string]int{"a.example": 200, "b.example": 200, "c.example": 404} {
		if code := get(host, "/"); code != want {
			t.Errorf("%s: %d, want %d (both classes on the one port)", host, code, want)
		}
	}
	reloads := f.Agent().inst.Stats().Reloads.Load()
	sync(fedInput(t, echo.HTTPPort, "a.example", "b.example", "c.example"))
	if code := get("c.example", "/"); code != 200 {
		t.Errorf("new Ingress c.example: %d, want 200", code)
	}
	if r := f.Agent().inst.Stats().Reloads.Load(); r != reloads {
		t.Errorf("a new Ingress reloaded nghttpx %d times, want 0", r-reloads)
	}

	started := time.Now()
	done := make(chan struct{})
	go func() { f.Stop(); close(done) }()
	for code := get("any.example", "/nghttpx-healthz"); code != 503; code = get("any.example", "/nghttpx-healthz") {
		if time.Since(started) > period {
			t.Fatalf("/nghttpx-healthz still %d %v after Stop began", code, time.Since(started))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("/nghttpx-healthz answered 503 %v after Stop began", time.Since(started).Round(time.Millisecond))
	if err := f.Ready(); err == nil {
		t.Error("ready while draining")
	}
	if code := get("a.example", "/"); code != 200 {
		t.Errorf("a.example during the deferred period: %d, want 200", code)
	}
	// A batch arriving while draining changes nothing.
	sync(fedInput(t, echo.HTTPPort, "a.example"))
	<-done
	if time.Since(started) < period {
		t.Errorf("Stop returned after %v, before the %v period", time.Since(started), period)
	}
	if code := get("a.example", "/"); code != 0 {
		t.Errorf("nghttpx still answers %d after Stop", code)
	}
}

package controller

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/client-go/rest"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// The health port serves /healthz while the caches have not synced yet (the
// original's liveness probe), /readyz fails until the first translation, and
// pprof is there with Profiling.
func TestHealthPortBeforeSync(t *testing.T) {
	scheme, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	api := testenv.DiscoveryServer(t, scheme)
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	c, err := New(&rest.Config{Host: api.URL}, Options{
		Namespace: "kube-system", LeaderElect: false, MetricsAddr: "0", HealthAddr: "0",
		HealthzAddr: addr, Profiling: true, NoSharedKeys: true, Log: testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Manager().Start(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop")
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := get("/healthz"); code != 200; code, _ = get("/healthz") {
		if time.Now().After(deadline) {
			t.Fatal("/healthz did not answer 200 within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 500 || !strings.Contains(body, "[-]built failed") {
		t.Errorf("/readyz before the caches synced: %d %q", code, body)
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d %.100q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "nghttpx_gateway_builds_total") {
		t.Errorf("/metrics: %d %.100q", code, body)
	}
}

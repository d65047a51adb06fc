//go:build integration

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// TestRouteLookupCost measures nghttpx's CPU per request (one worker, pinned to
// core 0; h2load and echo-basic on core 1) for a route table of 1 and 5,000
// HTTPRoutes of one hostname each, requests for one of them, and for one route
// without a hostname (any host): what finding the rule costs as the table grows.
func TestRouteLookupCost(t *testing.T) {
	const requests = 20000
	echo := quietEcho(t)
	cases := []struct {
		name   string
		routes int
		any    bool
	}{{"1 route, any host", 1, true}, {"1 route, one host", 1, false}, {"5000 routes, one host each", 5000, false}}
	res := make([][]float64, len(cases))
	for round := range 3 {
		for i, c := range cases {
			us := lookupOnce(t, echo, c.routes, c.any, requests)
			t.Logf("round %d, %s: %.1f µs/request", round, c.name, us)
			res[i] = append(res[i], us)
		}
	}
	var b strings.Builder
	b.WriteString("| route table | nghttpx CPU/request (median of 3) |\n|---|---:|\n")
	for i, c := range cases {
		fmt.Fprintf(&b, "| %s | %.1f µs |\n", c.name, med(res[i]))
	}
	t.Logf("route lookup cost (h2c, %d requests, 10 clients x 10 streams):\n%s", requests, b.String())
	if out := os.Getenv("BENCH_LOOKUP_OUT"); out != "" && !t.Failed() {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func lookupOnce(t *testing.T, echoPort, n int, anyHost bool, requests int) float64 {
	ports := testenv.FreePorts(t, 2)
	w := &world{port: ports[0], apiPort: ports[1], stateDir: t.TempDir()}
	w.in = pipeline.SyntheticInput(n, n/10+1, 1, int32(w.port), int32(echoPort))
	if anyHost {
		w.in.HTTPRoutes[0].Spec.Hostnames = nil
	}
	cfg := w.build(t)
	a := w.applier(t)
	ctx := context.Background()
	if err := a.Start(ctx, *cfg); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	pids := nghttpxPIDs(t, a.PID())
	for _, p := range pids {
		pin(t, p, "0")
	}
	host := fmt.Sprintf("host-%d.example", n/2)
	url := fmt.Sprintf("http://127.0.0.1:%d/", w.port)
	h2load := func(k int) {
		cmd := exec.Command("taskset", "-c", "1", testenv.H2loadBin(t), "-n", strconv.Itoa(k), "-c", "10", "-m", "10", "-H", ":authority: "+host, url)
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), fmt.Sprintf("%d succeeded", k)) || !strings.Contains(string(b), fmt.Sprintf("status codes: %d 2xx", k)) {
			t.Fatalf("h2load: %v\n%s", err, b)
		}
	}
	h2load(1000) // warm up: the table and the shard are loaded
	time.Sleep(200 * time.Millisecond)
	c0 := cpuOf(t, pids)
	h2load(requests)
	c1 := cpuOf(t, pids)
	return float64(c1-c0) / float64(time.Microsecond) / float64(requests)
}

//go:build integration

package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// TestAccessLogCost measures what the access log costs per request: nghttpx's
// CPU (main and worker processes, pinned to core 0) and the agent's (this test
// process, which reads the FIFO, counts the metrics and formats the lines for
// a discarding writer), with h2load and the echo backend on core 1, for each
// format. Off is the baseline: no access log, no request metrics.
func TestAccessLogCost(t *testing.T) {
	const requests = 20000
	echo := quietEcho(t)
	formats := []accesslog.Format{accesslog.FormatOff, accesslog.FormatJSON, accesslog.FormatNghttpx}
	type result struct{ ngx, agent, rps []float64 }
	res := map[accesslog.Format]*result{}
	for _, f := range formats {
		res[f] = &result{}
	}
	for round := range 3 {
		for _, f := range formats {
			ngx, agent, rps := costOnce(t, echo, f, requests)
			t.Logf("round %d %s: nghttpx %.1f µs/req, agent %.1f µs/req, %.0f req/s", round, f, ngx, agent, rps)
			r := res[f]
			r.ngx, r.agent, r.rps = append(r.ngx, ngx), append(r.agent, agent), append(r.rps, rps)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| access log | nghttpx CPU/request | agent CPU/request | req/s |\n|---|---:|---:|---:|\n")
	for _, f := range formats {
		r := res[f]
		fmt.Fprintf(&b, "| %s | %.1f µs | %.1f µs | %.0f |\n", f, med(r.ngx), med(r.agent), med(r.rps))
	}
	t.Logf("access log cost (h2c, %d requests, 10 clients x 10 streams, median of 3):\n%s", requests, b.String())
	if out := os.Getenv("BENCH_ACCESSLOG_OUT"); out != "" && !t.Failed() {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// quietEcho runs echo-basic on core 1 with its output (a line per request)
// discarded, so that this process, which measures itself as the agent, does
// not read it; it returns the HTTP port.
func quietEcho(t *testing.T) int {
	ports := testenv.FreePorts(t, 2)
	cmd := exec.Command("taskset", "-c", "1", testenv.EchoBin(t))
	cmd.Env = append(os.Environ(), "HTTP_PORT="+strconv.Itoa(ports[0]), "H2C_PORT="+strconv.Itoa(ports[1]), "POD_NAME=a", "NAMESPACE=bench")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		if err == nil {
			c.Close()
			return ports[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("echo-basic does not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func med(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

const costYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: %s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners: [{name: http, protocol: HTTP, port: %d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-0
  namespace: default
  labels: {kubernetes.io/service-name: app}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`

// costOnce starts a data plane with format f, loads it and returns the CPU
// microseconds per request of nghttpx and of this process, and the rate.
func costOnce(t *testing.T, echoPort int, f accesslog.Format, n int) (ngx, agent, rps float64) {
	port := testenv.FreePorts(t, 1)[0]
	in, err := load.DecodeYAML(fmt.Appendf(nil, costYAML, translate.DefaultControllerName, port, echoPort))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := accesslog.NewSink(prometheus.NewRegistry(), io.Discard, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	po := pipeline.Options{StateDir: dir, Render: render.Options{Workers: 1, AccessLog: f}}
	out := pipeline.Translate(in, po)
	if len(out.Translation.Models) != 1 {
		t.Fatalf("%d models", len(out.Translation.Models))
	}
	var app *apply.Applier
	inst, err := instance.New(instance.Options{StateDir: pipeline.StateDirFor(dir, out.Translation.Models[0]), AccessLog: sink,
		NewProcess: func(d string) (instance.Process, error) {
			a, err := apply.New(apply.Options{Binary: testenv.NghttpxBin(t), StateDir: d, Log: logr.Discard()})
			app = a
			return a, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	po.Ports = map[types.NamespacedName]pipeline.Ports{{Namespace: "default", Name: "gw"}: inst.Ports()}
	pipeline.Render(out, po)
	if len(out.Gateways) != 1 || out.Gateways[0].Err != nil {
		t.Fatalf("render: %+v", out.Gateways)
	}
	ctx := context.Background()
	if err := inst.Apply(ctx, *out.Gateways[0].Config); err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	pids := nghttpxPIDs(t, app.PID())
	for _, p := range pids {
		pin(t, p, "0")
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	h2load := func(n int) time.Duration {
		start := time.Now()
		cmd := exec.Command("taskset", "-c", "1", testenv.H2loadBin(t), "-n", strconv.Itoa(n), "-c", "10", "-m", "10", url)
		if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), fmt.Sprintf("%d succeeded", n)) {
			t.Fatalf("h2load: %v\n%s", err, b)
		}
		return time.Since(start)
	}
	h2load(1000) // warm up
	time.Sleep(200 * time.Millisecond)
	ngx0, self0 := cpuOf(t, pids), selfCPU()
	took := h2load(n)
	// The agent reads the last lines shortly after nghttpx wrote them.
	time.Sleep(200 * time.Millisecond)
	ngx1, self1 := cpuOf(t, pids), selfCPU()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
	return us(ngx1 - ngx0), us(self1 - self0), float64(n) / took.Seconds()
}

// nghttpxPIDs are the main process and its worker processes.
func nghttpxPIDs(t *testing.T, main int) []int {
	pids := []int{main}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", main, main))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		p, _ := strconv.Atoi(f)
		pids = append(pids, p)
	}
	return pids
}

// pin sets every thread of pid to cpus.
func pin(t *testing.T, pid int, cpus string) {
	if b, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("taskset %d: %v\n%s", pid, err, b)
	}
}

// cpuOf is the user and system time of pids so far.
func cpuOf(t *testing.T, pids []int) time.Duration {
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the command (which may hold spaces) in parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ 100
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

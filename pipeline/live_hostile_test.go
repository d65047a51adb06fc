//go:build integration

package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Golden ports the live test moves to free ones: the listener port of every case
// and the backend API port the corpus reserves.
const (
	goldenListenerPort = 8080
	goldenAPIPort      = 15000
)

// TestHostileCorpusLive loads every hostile golden case into a real nghttpx through
// the data-plane applier, with the EndpointSlices pointed at an echo server: the
// Gateway is Programmed with nothing dropped, each "# live: HOST PATH STATUS" line
// of the case answers as stated (the friendly neighbours 200 from the echo server),
// and every hostile object's status or events say why it is not (fully) served.
func TestHostileCorpusLive(t *testing.T) {
	bin := testenv.NghttpxBin(t)
	feat, err := features.Detect(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	echo := testenv.StartEcho(t, "web")
	forEachCase(t, "testdata/hostile-*.in.yaml", func(t *testing.T, name string, data []byte, in *load.Input) {
		ports := testenv.FreePorts(t, 2)
		listen, api := ports[0], ports[1]
		liveInput(in, echo.HTTPPort, map[int32]int32{goldenListenerPort: int32(listen), goldenAPIPort: int32(api)})
		opts := Options{
			Gateway:  translate.Options{DefaultAddress: "127.0.0.1", Now: metav1.Now()},
			Render:   render.Options{APIPort: api, Workers: 1, GracePeriod: time.Second, Features: renderFeatures(feat)},
			StateDir: t.TempDir(),
		}
		goldenIngressOptions(t, data, &opts)
		if opts.Ingress.HTTPPort == goldenListenerPort {
			opts.Ingress.HTTPPort = int32(listen)
		}
		out := Build(in, opts)
		if len(out.Gateways) != 1 {
			t.Fatalf("%d Gateways rendered, want 1", len(out.Gateways))
		}
		rg := out.Gateways[0]
		if rg.Err != nil {
			t.Fatalf("Gateway not rendered: %v", rg.Err)
		}
		if len(rg.Config.Dropped) > 0 {
			t.Fatalf("Gateway rendered without %v", rg.Config.Dropped)
		}
		for _, g := range out.Translation.Gateways {
			if c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); c == nil || c.Status != metav1.ConditionTrue {
				t.Fatalf("Gateway %s/%s not Programmed: %+v", g.Namespace, g.Name, c)
			}
		}
		why := hostileReasons(out)
		if len(why) == 0 {
			t.Fatal("no hostile object's status or events say why it is not served as written")
		}
		for _, w := range why {
			t.Logf("status: %s", w)
		}

		a, err := apply.New(apply.Options{Binary: bin, StateDir: rg.StateDir, Log: testr.New(t), StopGrace: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Start(ctx, *rg.Config); err != nil {
			t.Fatalf("nghttpx did not start: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Stop(ctx)
		})
		checks := liveChecks(t, data)
		if len(checks) == 0 || !strings.HasPrefix(checks[0].host, "friendly.") {
			t.Fatalf("case has no friendly live check first: %v", checks)
		}
		for _, c := range checks {
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", listen, c.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = c.host
			if c.status == http.StatusOK {
				e, err := testenv.DoEcho(req)
				if err != nil || e.Pod != "web" {
					t.Fatalf("GET %s%s: %v (pod %q), want 200 from the echo server", c.host, c.path, err, e.Pod)
				}
				continue
			}
			st, body, err := testenv.Do(req)
			if err != nil || st != c.status {
				t.Fatalf("GET %s%s: %d %.100q %v, want %d", c.host, c.path, st, body, err, c.status)
			}
		}
	})
}

type liveCheck struct {
	host, path string
	status     int
}

// liveChecks reads the "# live: HOST PATH STATUS" lines of a case.
func liveChecks(t *testing.T, data []byte) []liveCheck {
	var out []liveCheck
	for _, l := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(l, "# live: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		st, err := strconv.Atoi(f[len(f)-1])
		if len(f) != 3 || err != nil {
			t.Fatalf("bad live line %q", l)
		}
		out = append(out, liveCheck{f[0], f[1], st})
	}
	return out
}

// liveInput points every EndpointSlice at the echo server and moves listener ports.
func liveInput(in *load.Input, echoPort int, ports map[int32]int32) {
	for i := range in.EndpointSlices {
		s := &in.EndpointSlices[i]
		for j := range s.Endpoints {
			s.Endpoints[j].Addresses = []string{"127.0.0.1"}
		}
		for j := range s.Ports {
			s.Ports[j].Port = new(int32(echoPort))
		}
	}
	move := func(ls []gatewayv1.Listener) {
		for i := range ls {
			if p, ok := ports[int32(ls[i].Port)]; ok {
				ls[i].Port = gatewayv1.PortNumber(p)
			}
		}
	}
	for i := range in.Gateways {
		move(in.Gateways[i].Spec.Listeners)
	}
	for i := range in.ListenerSets {
		ls := in.ListenerSets[i].Spec.Listeners
		for j := range ls {
			if p, ok := ports[int32(ls[j].Port)]; ok {
				ls[j].Port = gatewayv1.PortNumber(p)
			}
		}
	}
}

// hostileReasons collects what the status and events say about the hostile
// objects: routes not accepted or partially invalid or accepted with a clamped
// value, listeners not accepted, warnings on Ingresses.
func hostileReasons(out *Output) []string {
	var why []string
	add := func(obj string, c *metav1.Condition) {
		why = append(why, fmt.Sprintf("%s %s=%s %s: %s", obj, c.Type, c.Status, c.Reason, c.Message))
	}
	for _, r := range out.Translation.HTTPRoutes {
		for _, p := range r.Status.Parents {
			for i := range p.Conditions {
				c := &p.Conditions[i]
				switch {
				case c.Type == string(gatewayv1.RouteConditionAccepted) && (c.Status == metav1.ConditionFalse || strings.Contains(c.Message, "clamped")),
					c.Type == string(gatewayv1.RouteConditionPartiallyInvalid) && c.Status == metav1.ConditionTrue:
					add("HTTPRoute "+r.Name, c)
				}
			}
		}
	}
	for _, g := range out.Translation.Gateways {
		for _, l := range g.Status.Listeners {
			if c := meta.FindStatusCondition(l.Conditions, string(gatewayv1.ListenerConditionAccepted)); c != nil && c.Status == metav1.ConditionFalse {
				add("Gateway "+g.Name+" listener "+string(l.Name), c)
			}
		}
	}
	for _, s := range out.Translation.ListenerSets {
		for _, l := range s.Status.Listeners {
			if c := meta.FindStatusCondition(l.Conditions, string(gatewayv1.ListenerConditionAccepted)); c != nil && c.Status == metav1.ConditionFalse {
				add("ListenerSet "+s.Namespace+"/"+s.Name+" listener "+string(l.Name), c)
			}
		}
	}
	if out.Ingress != nil {
		for _, ir := range out.Ingress.Ingresses {
			for _, e := range ir.Events {
				why = append(why, fmt.Sprintf("Ingress %s event %s %s: %s", ir.Name, e.Type, e.Reason, e.Message))
			}
		}
	}
	return why
}

// renderFeatures is what the binary supports, without OCSP (no fetch program here;
// the corpus has no certificates).
func renderFeatures(f features.Features) render.Features {
	r := f.Render()
	r.OCSP = false
	return r
}

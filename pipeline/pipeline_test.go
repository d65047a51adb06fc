package pipeline

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// TestGolden runs whole pipeline cases, objects in, status and nghttpx files out,
// through the same code path as `nghttpx-gateway translate`.
func TestGolden(t *testing.T) {
	forEachCase(t, "testdata/*.in.yaml", func(t *testing.T, name string, data []byte, in *load.Input) {
		opts := Options{
			Gateway:  translate.Options{DefaultAddress: "127.0.0.1", Now: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
			Render:   render.Options{APIPort: 15000, Features: render.Features{SNICertMap: true}},
			StateDir: "/var/run/nghttpx-gateway",
		}
		goldenIngressOptions(t, data, &opts)
		out := Build(in, opts)
		got, err := out.YAML()
		if err != nil {
			t.Fatal(err)
		}
		outPath := filepath.Join("testdata", name+".out.yaml")
		golden.Check(t, outPath, got)
	})
}

// forEachCase runs f as a subtest, named after the file without ".in.yaml", for
// every input matching pattern, with its bytes and decoded objects.
func forEachCase(t *testing.T, pattern string, f func(t *testing.T, name string, data []byte, in *load.Input)) {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no inputs match %s: %v", pattern, err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, err := load.DecodeYAML(data)
			if err != nil {
				t.Fatal(err)
			}
			f(t, name, data, in)
		})
	}
}

// goldenIngressOptions reads "# ingress: key=value" lines at the top of an input:
// the Ingress controller's options of the case.
func goldenIngressOptions(t *testing.T, data []byte, o *Options) {
	t.Helper()
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "# ingress: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
		port := func() int32 {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("option %s: %v", k, err)
			}
			return int32(n)
		}
		switch k {
		case "allowMruby":
			o.Ingress.AllowMruby = v == "true"
		case "defaultTLSSecret":
			o.Ingress.DefaultTLSSecret = v
		case "nghttpxConfigMap":
			o.Ingress.NghttpxConfigMap = v
		case "httpPort":
			o.Ingress.HTTPPort = port()
		case "httpsPort":
			o.Ingress.HTTPSPort = port()
		case "proxyProto":
			o.ProxyProtocol = v == "true"
		default:
			t.Fatalf("unknown ingress option %q", k)
		}
	}
}

// Build runs the shim on a copy: the caller's input keeps only its own objects,
// and the synthetic ones are never printed as objects.
func TestBuildIngressLeavesInputAlone(t *testing.T) {
	data, err := os.ReadFile("testdata/ingress-broken-annotation.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := load.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	// Spare capacity would let an append write into the caller's arrays.
	in.Gateways = append(make([]gatewayv1.Gateway, 0, 8), in.Gateways...)
	in.HTTPRoutes = append(make([]gatewayv1.HTTPRoute, 0, 8), in.HTTPRoutes...)
	out := Build(in, Options{Gateway: translate.Options{DefaultAddress: "127.0.0.1"}, Render: render.Options{APIPort: 15000}, StateDir: "/s"})
	if len(in.Gateways) != 1 || len(in.HTTPRoutes) != 1 || len(in.GatewayClasses) != 1 || len(in.Gateways[:2][1].Name) != 0 {
		t.Fatalf("input changed: %d Gateways, %d HTTPRoutes", len(in.Gateways), len(in.HTTPRoutes))
	}
	if out.Ingress == nil || len(out.Ingress.Ingresses) != 3 || len(out.Gateways) != 2 {
		t.Fatalf("shim result %v, %d rendered Gateways; want 3 Ingresses and 2 Gateways", out.Ingress != nil, len(out.Gateways))
	}
	for _, g := range out.Gateways {
		if g.Err != nil {
			t.Errorf("Gateway %s: %v", g.Model.Source.Name, g.Err)
		}
	}
	y, err := out.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(y), "\n---\n") {
		if strings.Contains(doc, "\nkind: Gateway\n") && strings.Contains(doc, "namespace: nghttpx-ingress\n") && !strings.HasPrefix(doc, "#") {
			t.Errorf("synthetic Gateway printed as an object:\n%s", doc)
		}
	}
}

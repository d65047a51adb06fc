package ingressshim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// goldenOptions reads "# shim: key=value" lines at the top of an input file.
// convert=true also checks <case>.convert.yaml.
func goldenOptions(t *testing.T, data []byte) (Options, bool) {
	t.Helper()
	var o Options
	convert := false
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "# shim: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
		b := v == "true"
		port := func() int32 {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("option %s: %v", k, err)
			}
			return int32(n)
		}
		switch k {
		case "ingressClassController":
			o.IngressClassController = v
		case "requireIngressClass":
			o.RequireIngressClass = b
		case "defaultTLSSecret":
			o.DefaultTLSSecret = v
		case "defaultBackendService":
			o.DefaultBackendService = v
		case "internalDefaultBackend":
			o.InternalDefaultBackend = b
		case "deferredShutdownPeriod":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("option %s: %v", k, err)
			}
			o.DeferredShutdownPeriod = d
		case "shuttingDown":
			o.ShuttingDown = b
		case "noDefaultBackendOverride":
			o.NoDefaultBackendOverride = b
		case "httpPort":
			o.HTTPPort = port()
		case "httpsPort":
			o.HTTPSPort = port()
		case "disableHTTP":
			o.DisableHTTP = b
		case "disableHTTPS":
			o.DisableHTTPS = b
		case "allowMruby":
			o.AllowMruby = b
		case "watchNamespace":
			o.WatchNamespace = v
		case "nghttpxConfigMap":
			o.NghttpxConfigMap = v
		case "namespace":
			o.Namespace = v
		case "oneGateway":
			o.OneGateway = b
		case "convert":
			convert = b
		default:
			t.Fatalf("unknown shim option %q", k)
		}
	}
	return o, convert
}

type goldenOutput struct {
	Ingresses   []IngressResult   `json:"ingresses,omitempty"`
	Skipped     []SkippedIngress  `json:"skipped,omitempty"`
	Events      []ObjectEvent     `json:"events,omitempty"`
	Operator    *OperatorConfig   `json:"operator,omitempty"`
	Objects     []map[string]any  `json:"objects,omitempty"`
	Extensions  load.Extensions   `json:"extensions,omitempty"`
	Translation goldenTranslation `json:"translation"`
}

// goldenTranslation summarizes what translate.Translate makes of the synthetic
// objects: status problems and the resolved models.
type goldenTranslation struct {
	Problems []string `json:"problems,omitempty"`
	// OtherRoutes is the status of the input's own (not synthetic) HTTPRoutes.
	OtherRoutes []string      `json:"otherRoutes,omitempty"`
	Models      []goldenModel `json:"models,omitempty"`
}

type goldenModel struct {
	Gateway      string       `json:"gateway"`
	Certificates []string     `json:"certificates,omitempty"`
	Ports        []goldenPort `json:"ports"`
}

type goldenPort struct {
	Port         int32         `json:"port"`
	Protocol     string        `json:"protocol"`
	VirtualHosts []goldenVHost `json:"virtualHosts,omitempty"`
}

type goldenVHost struct {
	Host  string   `json:"host"`
	Rules []string `json:"rules"`
}

func objectMaps(t *testing.T, res *Result) []map[string]any {
	t.Helper()
	var objs []runtime.Object
	for i := range res.GatewayClasses {
		objs = append(objs, &res.GatewayClasses[i])
	}
	for i := range res.Gateways {
		objs = append(objs, &res.Gateways[i])
	}
	for i := range res.HTTPRoutes {
		objs = append(objs, &res.HTTPRoutes[i])
	}
	for i := range res.ReferenceGrants {
		objs = append(objs, &res.ReferenceGrants[i])
	}
	var out []map[string]any
	for _, o := range objs {
		b, err := applyableYAML(o)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// runPipeline translates in with the shim, then everything with translate.Translate.
func runPipeline(in *load.Input, opts Options) (*Result, *load.Input, *translate.Result) {
	res := Translate(InputFrom(in), opts)
	all := &load.Input{}
	all.Append(in)
	all.Append(res.GatewayInput())
	return res, all, translate.Translate(all, translate.Options{
		DefaultAddress: "127.0.0.1",
		Now:            metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
	})
}

func renderGolden(t *testing.T, res *Result, gres *translate.Result) []byte {
	t.Helper()
	out := goldenOutput{
		Ingresses: res.Ingresses, Skipped: res.Skipped, Events: res.Events, Operator: res.Operator,
		Objects: objectMaps(t, res), Extensions: res.Extensions,
		Translation: goldenTranslation{Problems: translationProblems(res, gres), OtherRoutes: otherRouteStatus(res, gres)},
	}
	for _, m := range gres.Models {
		out.Translation.Models = append(out.Translation.Models, summarizeModel(m))
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	return b
}

// translationProblems lists the conditions of synthetic objects that are not as
// they should be.
func translationProblems(res *Result, gres *translate.Result) []string {
	var out []string
	bad := func(what string, c metav1.Condition) {
		out = append(out, fmt.Sprintf("%s: %s=%s %s: %s", what, c.Type, c.Status, c.Reason, c.Message))
	}
	for _, g := range gres.Gateways {
		for _, c := range g.Status.Conditions {
			if c.Status != metav1.ConditionTrue {
				bad("Gateway "+g.Namespace+"/"+g.Name, c)
			}
		}
		for _, l := range g.Status.Listeners {
			for _, c := range l.Conditions {
				if (c.Type == "Conflicted" || c.Type == "OverlappingTLSConfig") == (c.Status == metav1.ConditionTrue) {
					bad(fmt.Sprintf("Gateway %s/%s listener %s", g.Namespace, g.Name, l.Name), c)
				}
			}
		}
	}
	for _, r := range gres.HTTPRoutes {
		if !slices.ContainsFunc(res.HTTPRoutes, func(s gatewayv1.HTTPRoute) bool { return s.Namespace == r.Namespace && s.Name == r.Name }) {
			continue
		}
		for _, p := range r.Status.Parents {
			for _, c := range p.Conditions {
				if (c.Type == "PartiallyInvalid") == (c.Status == metav1.ConditionTrue) {
					bad(fmt.Sprintf("HTTPRoute %s/%s parent %s", r.Namespace, r.Name, deref(p.ParentRef.SectionName, "")), c)
				}
			}
		}
	}
	return out
}

// otherRouteStatus lists every parent condition of the HTTPRoutes that are not
// synthetic (routes written by users next to the Ingresses).
func otherRouteStatus(res *Result, gres *translate.Result) []string {
	var out []string
	for _, r := range gres.HTTPRoutes {
		if res.Synthetic("HTTPRoute", r.Namespace, r.Name) {
			continue
		}
		for _, p := range r.Status.Parents {
			for _, c := range p.Conditions {
				out = append(out, fmt.Sprintf("HTTPRoute %s/%s parent %s: %s=%s %s: %s",
					r.Namespace, r.Name, p.ParentRef.Name, c.Type, c.Status, c.Reason, c.Message))
			}
		}
	}
	return out
}

func summarizeModel(m *model.Gateway) goldenModel {
	out := goldenModel{Gateway: m.Source.Namespace + "/" + m.Source.Name}
	for _, c := range m.Certificates {
		out.Certificates = append(out.Certificates, c.Name)
	}
	clusters := map[string]model.Cluster{}
	for _, c := range m.Clusters {
		clusters[c.Name] = c
	}
	for _, p := range m.Ports {
		gp := goldenPort{Port: p.Port, Protocol: string(p.Protocol)}
		for _, l := range p.Listeners {
			for _, vh := range l.VirtualHosts {
				gv := goldenVHost{Host: vh.Hostname}
				if gv.Host == "" {
					gv.Host = "*"
				}
				for _, r := range vh.Rules {
					gv.Rules = append(gv.Rules, summarizeRule(r, clusters))
				}
				gp.VirtualHosts = append(gp.VirtualHosts, gv)
			}
		}
		out.Ports = append(out.Ports, gp)
	}
	return out
}

func summarizeRule(r model.Rule, clusters map[string]model.Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> ", r.Match.Path.Type, r.Match.Path.Value)
	switch {
	case r.Redirect != nil:
		fmt.Fprintf(&b, "redirect %d scheme=%s", r.Redirect.StatusCode, deref(r.Redirect.Scheme, ""))
		if r.Redirect.Port != nil {
			fmt.Fprintf(&b, " port=%d", *r.Redirect.Port)
		}
	case r.DirectStatus != 0:
		fmt.Fprintf(&b, "answer %d %q", r.DirectStatus, r.DirectBody)
	case r.Proxy != nil && r.Proxy.DoNotForward:
		b.WriteString("mruby answers (doNotForward)")
	default:
		var parts []string
		for _, wb := range r.Backends {
			s := wb.Cluster
			if wb.Invalid {
				s = fmt.Sprintf("invalid(%s/%s port %s)", wb.Source.Namespace, wb.Source.Name, wb.Source.Section)
			} else {
				s += fmt.Sprintf(" (%s, %d endpoints)", clusters[wb.Cluster].Protocol, len(clusters[wb.Cluster].Endpoints))
			}
			if wb.Weight != 1 {
				s += fmt.Sprintf(" weight=%d", wb.Weight)
			}
			if p := wb.Proxy; p != nil {
				s += fmt.Sprintf(" backend{protocol=%s tls=%t sni=%q dns=%t}", p.Protocol, p.TLS, p.SNI, p.DNS)
			}
			parts = append(parts, s)
		}
		b.WriteString(strings.Join(parts, ", "))
	}
	if p := r.Proxy; p != nil {
		var opts []string
		if a := p.Affinity; a != nil {
			opts = append(opts, fmt.Sprintf("affinity=%s", a.Type))
			if a.Type == model.AffinityCookie {
				opts = append(opts, fmt.Sprintf("cookie=%s path=%q secure=%s stickiness=%s", a.CookieName, a.CookiePath, a.CookieSecure, a.CookieStickiness))
			}
		}
		if p.ReadTimeoutMillis != 0 {
			opts = append(opts, fmt.Sprintf("read=%dms", p.ReadTimeoutMillis))
		}
		if p.WriteTimeoutMillis != 0 {
			opts = append(opts, fmt.Sprintf("write=%dms", p.WriteTimeoutMillis))
		}
		if p.Mruby != "" {
			opts = append(opts, fmt.Sprintf("mruby(%d bytes)", len(p.Mruby)))
		}
		fmt.Fprintf(&b, " proxy{%s}", strings.Join(opts, " "))
	}
	return b.String()
}

func reversedInput(in *load.Input) *load.Input {
	out := &load.Input{}
	out.Append(in)
	slices.Reverse(out.Ingresses)
	slices.Reverse(out.IngressClasses)
	slices.Reverse(out.Services)
	slices.Reverse(out.Secrets)
	slices.Reverse(out.ConfigMaps)
	slices.Reverse(out.EndpointSlices)
	slices.Reverse(out.Certificates)
	return out
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, path, got)
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, inPath := range inputs {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			in, err := load.DecodeYAML(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			opts, convert := goldenOptions(t, data)
			res, _, gres := runPipeline(in, opts)
			got := renderGolden(t, res, gres)
			checkGolden(t, filepath.Join("testdata", name+".out.yaml"), got)

			// The input order must not matter.
			if r2, _, g2 := runPipeline(reversedInput(in), opts); !bytes.Equal(renderGolden(t, r2, g2), got) {
				t.Errorf("translating the input in reverse order gives a different result:\n%s", renderGolden(t, r2, g2))
			}
			// Whatever the input, the synthetic routes must be accepted as a whole.
			for _, r := range gres.HTTPRoutes {
				if !slices.ContainsFunc(res.HTTPRoutes, func(s gatewayv1.HTTPRoute) bool { return s.Namespace == r.Namespace && s.Name == r.Name }) {
					continue
				}
				for _, p := range r.Status.Parents {
					for _, c := range p.Conditions {
						if (c.Type == "Accepted" && c.Status != metav1.ConditionTrue) || (c.Type == "PartiallyInvalid" && c.Status == metav1.ConditionTrue) {
							t.Errorf("synthetic HTTPRoute %s/%s: %s=%s %s: %s", r.Namespace, r.Name, c.Type, c.Status, c.Reason, c.Message)
						}
					}
				}
			}
			if convert {
				checkConvert(t, name, in, opts)
			}
		})
	}
}

// checkConvert compares Convert's output with <case>.convert.yaml and checks that
// the output, applied next to the input's Services, translates into accepted
// routes.
func checkConvert(t *testing.T, name string, in *load.Input, opts Options) {
	t.Helper()
	y, warnings, err := Convert(InputFrom(in), opts)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	var b bytes.Buffer
	b.WriteString("# warnings:\n")
	for _, w := range warnings {
		fmt.Fprintf(&b, "# - %s\n", w)
	}
	b.Write(y)
	checkGolden(t, filepath.Join("testdata", name+".convert.yaml"), b.Bytes())

	applied, err := load.DecodeYAML(y)
	if err != nil {
		t.Fatalf("Convert output does not decode: %v", err)
	}
	applied.Services = in.Services
	applied.Secrets = in.Secrets
	applied.EndpointSlices = in.EndpointSlices
	gres := translate.Translate(applied, translate.Options{DefaultAddress: "127.0.0.1"})
	if len(gres.HTTPRoutes) == 0 {
		t.Errorf("Convert output has no HTTPRoutes of ours")
	}
	for _, r := range gres.HTTPRoutes {
		for _, p := range r.Status.Parents {
			for _, c := range p.Conditions {
				if c.Type == "Accepted" && c.Status != metav1.ConditionTrue {
					t.Errorf("converted HTTPRoute %s/%s is not accepted: %s: %s", r.Namespace, r.Name, c.Reason, c.Message)
				}
			}
		}
	}
}

func TestSynthetic(t *testing.T) {
	data, err := os.ReadFile("testdata/tls-default-secret.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := load.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := goldenOptions(t, data)
	res := Translate(InputFrom(in), opts)
	for _, c := range []struct {
		kind, ns, name string
		want           bool
	}{
		{"GatewayClass", "", DefaultGatewayClassName, true},
		{"Gateway", DefaultNamespace, DefaultGatewayName, true},
		{"HTTPRoute", "team-a", "a.a.example.com", true},
		{"HTTPRoute", "team-a", "a.a.example.com.http", true},
		{"ReferenceGrant", "kube-system", DefaultGatewayClassName + "-tls", true},
		{"HTTPRoute", "team-b", "a.a.example.com", false},
		{"Gateway", "team-a", DefaultGatewayName, false},
		{"Service", "team-a", "web", false},
	} {
		if got := res.Synthetic(c.kind, c.ns, c.name); got != c.want {
			t.Errorf("Synthetic(%s, %s, %s) = %v; want %v", c.kind, c.ns, c.name, got, c.want)
		}
	}
}

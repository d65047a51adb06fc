package translate

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// goldenNow is the fixed clock of the golden tests.
func goldenNow() metav1.Time { return metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) }

type goldenObject struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    any    `json:"status"`
}

type goldenOutput struct {
	SkippedKinds   []string       `json:"skippedKinds,omitempty"`
	GatewayClasses []goldenObject `json:"gatewayClasses,omitempty"`
	Gateways       []goldenObject `json:"gateways,omitempty"`
	HTTPRoutes     []goldenObject `json:"httpRoutes,omitempty"`
	GRPCRoutes     []goldenObject `json:"grpcRoutes,omitempty"`
	ListenerSets   []goldenObject `json:"listenerSets,omitempty"`
	// BackendTLSPolicies with their status (backendtls.go).
	BackendTLSPolicies []goldenObject   `json:"backendTLSPolicies,omitempty"`
	Models             []*model.Gateway `json:"models,omitempty"`
	// OCSPStapled lists the certificates whose model carries an OCSP response
	// (hidden from the model's JSON), as "gateway: certificate".
	OCSPStapled []string `json:"ocspStapled,omitempty"`
	// OCSPRecheck is Result.OCSPRecheck (RFC 3339), when a verdict changes by itself.
	OCSPRecheck string `json:"ocspRecheck,omitempty"`
	// ClientCAs lists the subjects of each port's client CA bundle (hidden from
	// the model's JSON), as "gateway port N: subject, ...".
	ClientCAs []string `json:"clientCAs,omitempty"`
	// BackendCAs lists the subjects of each cluster's BackendTLSPolicy CA bundle
	// and BackendClientCerts those of each Gateway's backend client certificate
	// (both hidden from the model's JSON).
	BackendCAs         []string `json:"backendCAs,omitempty"`
	BackendClientCerts []string `json:"backendClientCerts,omitempty"`
}

func renderGolden(t *testing.T, in *load.Input, res *Result) []byte {
	t.Helper()
	out := goldenOutput{SkippedKinds: in.SkippedKinds, Models: res.Models}
	for _, c := range res.GatewayClasses {
		out.GatewayClasses = append(out.GatewayClasses, goldenObject{Name: c.Name, Status: c.Status})
	}
	for _, g := range res.Gateways {
		out.Gateways = append(out.Gateways, goldenObject{Namespace: g.Namespace, Name: g.Name, Status: g.Status})
	}
	for _, r := range res.HTTPRoutes {
		out.HTTPRoutes = append(out.HTTPRoutes, goldenObject{Namespace: r.Namespace, Name: r.Name, Status: r.Status})
	}
	for _, r := range res.GRPCRoutes {
		out.GRPCRoutes = append(out.GRPCRoutes, goldenObject{Namespace: r.Namespace, Name: r.Name, Status: r.Status})
	}
	for _, s := range res.ListenerSets {
		out.ListenerSets = append(out.ListenerSets, goldenObject{Namespace: s.Namespace, Name: s.Name, Status: s.Status})
	}
	for _, p := range res.BackendTLSPolicies {
		out.BackendTLSPolicies = append(out.BackendTLSPolicies, goldenObject{Namespace: p.Namespace, Name: p.Name, Status: p.Status})
	}
	for _, m := range res.Models {
		for _, cl := range m.Clusters {
			if cl.TLS != nil && cl.TLS.CACertPEM != nil {
				out.BackendCAs = append(out.BackendCAs, fmt.Sprintf("%s/%s %s: %s", m.Source.Namespace, m.Source.Name, cl.Name,
					strings.Join(pemSubjects(t, cl.TLS.CACertPEM), ", ")))
			}
		}
		if bc := m.BackendClientCertificate; bc != nil {
			out.BackendClientCerts = append(out.BackendClientCerts, fmt.Sprintf("%s/%s: %s", m.Source.Namespace, m.Source.Name,
				strings.Join(pemSubjects(t, bc.CertPEM), ", ")))
		}
	}
	for _, m := range res.Models {
		for _, c := range m.Certificates {
			if len(c.OCSPResponse) > 0 {
				out.OCSPStapled = append(out.OCSPStapled, m.Source.Namespace+"/"+m.Source.Name+": "+c.Name)
			}
		}
	}
	if !res.OCSPRecheck.IsZero() {
		out.OCSPRecheck = res.OCSPRecheck.UTC().Format(time.RFC3339)
	}
	for _, m := range res.Models {
		for _, p := range m.Ports {
			if p.ClientValidation != nil {
				out.ClientCAs = append(out.ClientCAs, fmt.Sprintf("%s/%s port %d: %s", m.Source.Namespace, m.Source.Name, p.Port,
					strings.Join(pemSubjects(t, p.ClientValidation.CAPEM), ", ")))
			}
		}
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	return b
}

// pemSubjects returns the subjects of the certificates in a PEM bundle.
func pemSubjects(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("client CA bundle: %v", err)
		}
		out = append(out, c.Subject.String())
	}
}

// goldenOptions reads "# translate: key=value" lines at the top of an input file.
// Keys: defaultAddress, usableAddresses (comma-separated prefixes),
// controllerName, supportedFeatures (comma-separated), parametersNamespace,
// ocsp, ocspUnsupported (true/false), ocspSecretKey, noClientValidation (true/false).
func goldenOptions(t *testing.T, data []byte) Options {
	t.Helper()
	opts := Options{DefaultAddress: "127.0.0.1", Now: goldenNow()}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "# translate: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
		switch k {
		case "defaultAddress":
			opts.DefaultAddress = v
		case "controllerName":
			opts.ControllerName = v
		case "ocsp":
			opts.OCSP.Enabled = v == "true"
		case "ocspUnsupported":
			opts.OCSP.Unsupported = v == "true"
		case "ocspSecretKey":
			opts.OCSP.SecretKey = v
		case "noClientValidation":
			opts.NoClientValidation = v == "true"
		case "parametersNamespace":
			opts.ParametersNamespace = v
		case "supportedFeatures":
			opts.SupportedFeatures = strings.Split(v, ",")
		case "usableAddresses":
			var prefixes []netip.Prefix
			for _, s := range strings.Split(v, ",") {
				prefixes = append(prefixes, netip.MustParsePrefix(s))
			}
			opts.AddressUsable = func(a netip.Addr) bool {
				return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
			}
		default:
			t.Fatalf("unknown translate option %q", k)
		}
	}
	return opts
}

func reversed(in *load.Input) *load.Input {
	out := &load.Input{
		GatewayClasses:     slices.Clone(in.GatewayClasses),
		Gateways:           slices.Clone(in.Gateways),
		HTTPRoutes:         slices.Clone(in.HTTPRoutes),
		GRPCRoutes:         slices.Clone(in.GRPCRoutes),
		ListenerSets:       slices.Clone(in.ListenerSets),
		ReferenceGrants:    slices.Clone(in.ReferenceGrants),
		Services:           slices.Clone(in.Services),
		EndpointSlices:     slices.Clone(in.EndpointSlices),
		Secrets:            slices.Clone(in.Secrets),
		Namespaces:         slices.Clone(in.Namespaces),
		ConfigMaps:         slices.Clone(in.ConfigMaps),
		Certificates:       slices.Clone(in.Certificates),
		BackendTLSPolicies: slices.Clone(in.BackendTLSPolicies),
		Extensions: load.Extensions{
			Rules:    slices.Clone(in.Extensions.Rules),
			Backends: slices.Clone(in.Extensions.Backends),
		},
		SkippedKinds: in.SkippedKinds,
	}
	slices.Reverse(out.GatewayClasses)
	slices.Reverse(out.Gateways)
	slices.Reverse(out.HTTPRoutes)
	slices.Reverse(out.GRPCRoutes)
	slices.Reverse(out.ListenerSets)
	slices.Reverse(out.ReferenceGrants)
	slices.Reverse(out.Services)
	slices.Reverse(out.EndpointSlices)
	slices.Reverse(out.Secrets)
	slices.Reverse(out.Namespaces)
	slices.Reverse(out.ConfigMaps)
	slices.Reverse(out.Certificates)
	slices.Reverse(out.BackendTLSPolicies)
	return out
}

// Test inputs give Extensions as a document of this kind, with the Extensions as
// its spec, since they are not a Kubernetes object.
const extensionsAPIVersion, extensionsKind = "test.nghttpx-gateway.io/v1", "Extensions"

// takeExtensions moves Extensions documents from in.Other into in.Extensions.
func takeExtensions(t *testing.T, in *load.Input) {
	t.Helper()
	var rest []unstructured.Unstructured
	for _, u := range in.Other {
		if u.GetAPIVersion() != extensionsAPIVersion || u.GetKind() != extensionsKind {
			rest = append(rest, u)
			continue
		}
		b, err := json.Marshal(u.Object["spec"])
		if err != nil {
			t.Fatal(err)
		}
		var e load.Extensions
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("decode Extensions: %v", err)
		}
		in.Extensions.Append(&e)
	}
	in.Other = rest
	in.SkippedKinds = slices.DeleteFunc(in.SkippedKinds, func(k string) bool { return k == extensionsAPIVersion+"/"+extensionsKind })
}

// withResultStatus returns in with the statuses of res, as the API server would
// hold them after a status write.
func withResultStatus(in *load.Input, res *Result) *load.Input {
	out := reversed(reversed(in))
	for i := range out.GatewayClasses {
		for _, c := range res.GatewayClasses {
			if c.Name == out.GatewayClasses[i].Name {
				out.GatewayClasses[i].Status = *c.Status.DeepCopy()
			}
		}
	}
	for i := range out.Gateways {
		for _, g := range res.Gateways {
			if keyOf(&g) == keyOf(&out.Gateways[i]) {
				out.Gateways[i].Status = *g.Status.DeepCopy()
			}
		}
	}
	for i := range out.HTTPRoutes {
		for _, r := range res.HTTPRoutes {
			if keyOf(&r) == keyOf(&out.HTTPRoutes[i]) {
				out.HTTPRoutes[i].Status = *r.Status.DeepCopy()
			}
		}
	}
	for i := range out.GRPCRoutes {
		for _, r := range res.GRPCRoutes {
			if keyOf(&r) == keyOf(&out.GRPCRoutes[i]) {
				out.GRPCRoutes[i].Status = *r.Status.DeepCopy()
			}
		}
	}
	for i := range out.ListenerSets {
		for _, s := range res.ListenerSets {
			if keyOf(&s) == keyOf(&out.ListenerSets[i]) {
				out.ListenerSets[i].Status = *s.Status.DeepCopy()
			}
		}
	}
	for i := range out.BackendTLSPolicies {
		for _, p := range res.BackendTLSPolicies {
			if keyOf(&p) == keyOf(&out.BackendTLSPolicies[i]) {
				out.BackendTLSPolicies[i].Status = *p.Status.DeepCopy()
			}
		}
	}
	return out
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
			takeExtensions(t, in)
			opts := goldenOptions(t, data)
			res := Translate(in, opts)
			got := renderGolden(t, in, res)

			outPath := filepath.Join("testdata", name+".out.yaml")
			golden.Check(t, outPath, got)

			// The input order must not matter.
			if again := renderGolden(t, in, Translate(reversed(in), opts)); !bytes.Equal(again, got) {
				t.Errorf("translating the input in reverse order gives a different result:\n%s", again)
			}
			// Translating again with our own status in place and a later clock must
			// change nothing: unchanged conditions keep their lastTransitionTime.
			later := opts
			later.Now = metav1.NewTime(goldenNow().Add(time.Hour))
			// Routes whose only change was dropping our stale entries are not
			// returned the second time.
			again := Translate(withResultStatus(in, res), later)
			if a, b := renderGolden(t, in, again), renderGolden(t, in, withoutCleanedRoutes(res, opts)); !bytes.Equal(a, b) {
				t.Errorf("a second translation over the written status differs:\n%s", a)
			}
		})
	}
}

// withoutCleanedRoutes returns res without the routes that have no status entry of
// our controller left.
func withoutCleanedRoutes(res *Result, opts Options) *Result {
	out := *res
	out.HTTPRoutes = nil
	for _, r := range res.HTTPRoutes {
		if slices.ContainsFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return string(p.ControllerName) == DefaultControllerName || string(p.ControllerName) == opts.ControllerName
		}) {
			out.HTTPRoutes = append(out.HTTPRoutes, r)
		}
	}
	out.GRPCRoutes = nil
	for _, r := range res.GRPCRoutes {
		if slices.ContainsFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return string(p.ControllerName) == DefaultControllerName || string(p.ControllerName) == opts.ControllerName
		}) {
			out.GRPCRoutes = append(out.GRPCRoutes, r)
		}
	}
	return &out
}

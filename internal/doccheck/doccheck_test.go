package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

const root = "../.."

func decode(t *testing.T, files ...string) *load.Input {
	t.Helper()
	in := &load.Input{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		part, err := load.DecodeYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		in.Append(part)
	}
	return in
}

// tlsSecret stands in for the Secret a doc tells the user to create by hand
// (kubectl create secret tls NAME --cert --key).
func tlsSecret(t *testing.T, ns, name string, hosts ...string) corev1.Secret {
	t.Helper()
	p, err := selfsigned.New(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: p.CertPEM, corev1.TLSPrivateKeyKey: p.KeyPEM}}
}

// allTrue fails for every condition of the given types that is not True.
func allTrue(t *testing.T, what string, conds []metav1.Condition, types ...string) {
	t.Helper()
	for _, ty := range types {
		c := meta.FindStatusCondition(conds, ty)
		if c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("%s: %s = %+v", what, ty, c)
		}
	}
}

// Every docs example, with what its page installs first, translates with every
// Gateway, listener and route accepted and every reference resolved.
func TestDocsExamplesTranslate(t *testing.T) {
	cases := []struct {
		files   []string
		secrets func(t *testing.T) []corev1.Secret
		// gateways and routes the example must produce (not fewer).
		gateways, routes int
	}{
		{files: []string{"docs/examples/one-route.yaml"}, gateways: 1, routes: 1},
		// What `make run` serves; it writes the TLS Secret on its first run.
		{files: []string{"examples/quickstart/gateway.yaml", "examples/quickstart/backends.yaml", "examples/quickstart/routes.yaml"},
			secrets: func(t *testing.T) []corev1.Secret {
				return []corev1.Secret{tlsSecret(t, "default", "quickstart-tls", "quickstart.example")}
			}, gateways: 1, routes: 2},
		{files: []string{"config/gatewayclass/gatewayclass.yaml", "docs/examples/quickstart-cluster.yaml"},
			secrets: func(t *testing.T) []corev1.Secret {
				return []corev1.Secret{tlsSecret(t, "quickstart", "echo-tls", "echo.example.com")}
			}, gateways: 1, routes: 1},
	}
	covered := map[string]bool{
		"docs/examples/quickstart-cert-manager.yaml": true, // decoded below
		"examples/quickstart/tls-secret.yaml":        true, // written by make run, git-ignored
	}
	for _, c := range cases {
		t.Run(c.files[len(c.files)-1], func(t *testing.T) {
			in := decode(t, c.files...)
			if c.secrets != nil {
				in.Secrets = append(in.Secrets, c.secrets(t)...)
			}
			// As `nghttpx-gateway translate` runs it, with its defaults.
			out := pipeline.Build(in, pipeline.Options{
				Gateway:  translate.Options{DefaultAddress: "127.0.0.1"},
				Render:   render.Options{APIPort: 15000, StateDir: "/var/run/nghttpx-gateway"},
				StateDir: "/var/run/nghttpx-gateway",
			})
			res := out.Translation
			if len(res.Gateways) < c.gateways || len(res.HTTPRoutes) < c.routes {
				t.Fatalf("%d Gateways, %d HTTPRoutes; want %d, %d", len(res.Gateways), len(res.HTTPRoutes), c.gateways, c.routes)
			}
			for _, g := range res.Gateways {
				allTrue(t, "Gateway "+g.Name, g.Status.Conditions, "Accepted", "Programmed")
				// Options.Now was not set: the epoch, never the clock (Translate is pure).
				if c := meta.FindStatusCondition(g.Status.Conditions, "Accepted"); c != nil && c.LastTransitionTime.Unix() != 0 {
					t.Errorf("Gateway %s: lastTransitionTime %v; want the epoch", g.Name, c.LastTransitionTime)
				}
				for _, l := range g.Status.Listeners {
					allTrue(t, "Gateway "+g.Name+" listener "+string(l.Name), l.Conditions, "Accepted", "Programmed", "ResolvedRefs")
				}
			}
			for _, r := range res.HTTPRoutes {
				if len(r.Status.Parents) == 0 {
					t.Errorf("HTTPRoute %s has no parent status", r.Name)
				}
				for _, p := range r.Status.Parents {
					allTrue(t, "HTTPRoute "+r.Name, p.Conditions, "Accepted", "ResolvedRefs")
				}
			}
			for _, g := range out.Gateways {
				if g.Err != nil {
					t.Errorf("render %s: %v", g.Model.Source.Name, g.Err)
				}
			}
		})
		for _, f := range c.files {
			covered[f] = true
		}
	}
	// The cert-manager variant must decode (cert-manager is not needed to translate).
	if in := decode(t, "docs/examples/quickstart-cert-manager.yaml"); len(in.Certificates) != 1 {
		t.Errorf("quickstart-cert-manager.yaml: %d Certificates, want 1", len(in.Certificates))
	}
	examples, err := filepath.Glob(filepath.Join(root, "docs/examples/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	quickstart, err := filepath.Glob(filepath.Join(root, "examples/quickstart/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	examples = append(examples, quickstart...)
	for _, e := range examples {
		if rel, _ := filepath.Rel(root, e); !covered[rel] {
			t.Errorf("%s is not checked: add it to the cases of TestDocsExamplesTranslate", rel)
		}
	}
}

var link = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// Relative links in README.md and docs/ point at files that exist.
func TestDocsLinksResolve(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(root, "docs/*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(root, "README.md"), filepath.Join(root, "charts/nghttpx-gateway/README.md"))
	n := 0
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), target)); err != nil {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s links to %s, which does not exist", rel, target)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d relative links found: is the pattern broken?", n)
	}
}

package load

import (
	"slices"
	"strings"
	"testing"
)

func TestDecodeYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{
			name: "unknown field names document and kind",
			yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n" +
				"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rule: []\n",
			want: []string{"document 2", `"HTTPRoute"`, "rule"},
		},
		{
			name: "missing kind",
			yaml: "apiVersion: v1\nmetadata: {name: a}\n",
			want: []string{"document 1", "apiVersion and kind are required"},
		},
		{
			name: "list item",
			yaml: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  spec: {ports: 3}\n",
			want: []string{"document 1 item 1", `"Service"`},
		},
		{
			name: "not an object",
			yaml: "- a\n- b\n",
			want: []string{"document 1", "not an object"},
		},
		{
			name: "bad YAML",
			yaml: "a: [\n",
			want: []string{"document 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := DecodeYAML([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("DecodeYAML succeeded: %+v", in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDecodeYAMLEmpty(t *testing.T) {
	for _, s := range []string{"", "---\n", "# only a comment\n", "---\n---\n"} {
		in, err := DecodeYAML([]byte(s))
		if err != nil {
			t.Fatalf("DecodeYAML(%q): %v", s, err)
		}
		if len(in.Gateways)+len(in.Other)+len(in.SkippedKinds) != 0 {
			t.Errorf("DecodeYAML(%q) = %+v; want nothing", s, in)
		}
	}
}

func TestAppend(t *testing.T) {
	a, err := DecodeYAML([]byte("apiVersion: v1\nkind: Endpoints\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeYAML([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: b}\n" +
		"---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\n---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: ic}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b.Extensions.Rules = []RuleExtension{{RuleRef: RuleRef{Name: "r"}, DirectStatus: 404}}
	a.Append(b)
	a.Append(nil)
	if len(a.Services) != 1 || len(a.Other) != 3 {
		t.Errorf("after Append: %d services, %d other; want 1, 3", len(a.Services), len(a.Other))
	}
	if want := []string{"v1/Endpoints", "v1/Pod"}; !slices.Equal(a.SkippedKinds, want) {
		t.Errorf("SkippedKinds = %q; want %q", a.SkippedKinds, want)
	}
	if a.Other[2].GetName() != "b" || a.Other[2].GetKind() != "Endpoints" {
		t.Errorf("Other[2] = %s %s; want Endpoints b", a.Other[2].GetKind(), a.Other[2].GetName())
	}
	if len(a.ConfigMaps) != 1 || len(a.Ingresses) != 1 || len(a.IngressClasses) != 1 || len(a.Extensions.Rules) != 1 {
		t.Errorf("after Append: %d ConfigMaps, %d Ingresses, %d IngressClasses, %d rule extensions; want 1 each",
			len(a.ConfigMaps), len(a.Ingresses), len(a.IngressClasses), len(a.Extensions.Rules))
	}
}

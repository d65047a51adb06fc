package ingressshim

import (
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestBackendConfigDefaultsFillFieldByField(t *testing.T) {
	json := parseAnnotations(map[string]string{
		AnnotationBackendConfig:        `{"svc": {"80": {"sni": "www.example.com", "tls": false}}}`,
		AnnotationDefaultBackendConfig: `{"proto": "h2", "sni": "example.com", "tls": true, "weight": 7}`,
	})
	yaml := parseAnnotations(map[string]string{
		AnnotationBackendConfig:        "svc:\n  80:\n    sni: www.example.com\n    tls: false\n",
		AnnotationDefaultBackendConfig: "proto: h2\nsni: example.com\ntls: true\nweight: 7\n",
	})
	for name, a := range map[string]*annotations{"JSON": json, "YAML": yaml} {
		if len(a.problems) > 0 {
			t.Fatalf("%s: problems %q", name, a.problems)
		}
		got := a.backendConfigFor("svc", "80")
		// Explicit values win (sni, and tls even though false); missing ones
		// come from the defaults.
		if *got.proto != "h2" || *got.sni != "www.example.com" || *got.tls || *got.weight != 7 || got.dns != nil {
			t.Errorf("%s: merged config = proto %v sni %v tls %v weight %v dns %v", name, *got.proto, *got.sni, *got.tls, *got.weight, got.dns)
		}
		// A port without an entry gets the defaults alone.
		if other := a.backendConfigFor("svc", "8080"); *other.sni != "example.com" || !*other.tls {
			t.Errorf("%s: defaults alone = sni %v tls %v", name, *other.sni, *other.tls)
		}
		if u := a.unused(); len(u) != 0 {
			t.Errorf("%s: unused after lookup: %q", name, u)
		}
	}
}

func TestPathConfigKeys(t *testing.T) {
	a := parseAnnotations(map[string]string{
		AnnotationPathConfig:        `{"www.example.com": {"readTimeout": "5s"}, "www.example.com/a:b": {"writeTimeout": "1s"}, "/x": {"affinity": "ip"}}`,
		AnnotationDefaultPathConfig: "readTimeout: 1m\naffinity: cookie\n",
	})
	if len(a.problems) > 0 {
		t.Fatalf("problems %q", a.problems)
	}
	// A key without "/" is the host's root; ":" matches its percent-encoded form.
	root, key := a.pathConfigFor("www.example.com", "")
	if key != "www.example.com/" || *root.readTimeout != 5000 || *root.affinity != "cookie" {
		t.Errorf("root: key %q read %v affinity %v", key, *root.readTimeout, *root.affinity)
	}
	colon, _ := a.pathConfigFor("www.example.com", "/a:b")
	if colon.writeTimeout == nil || *colon.writeTimeout != 1000 || *colon.readTimeout != 60000 {
		t.Errorf("colon: write %v read %v", colon.writeTimeout, colon.readTimeout)
	}
	// A host-less path is keyed by the path alone.
	if x, _ := a.pathConfigFor("", "/x"); *x.affinity != "ip" {
		t.Errorf("/x: affinity %v", *x.affinity)
	}
	if u := a.unused(); len(u) != 0 {
		t.Errorf("unused: %q", u)
	}
}

func TestAnnotationProblemsLeaveTheRestUsable(t *testing.T) {
	a := parseAnnotations(map[string]string{
		AnnotationBackendConfig: `{"svc": {"80": {"proto": "h3", "weight": 2}}, "gone": null}`,
		AnnotationPathConfig:    `{"h/": {"readTimeout": 5, "writeTimeout": "2s"}}`,
	})
	wantProblems := []string{`Service "gone" is null`, `proto must be one of h2, http/1.1, not "h3"`, "readTimeout must be a string"}
	if len(a.problems) != len(wantProblems) {
		t.Fatalf("problems %q; want %d", a.problems, len(wantProblems))
	}
	for i, w := range wantProblems {
		if !strings.Contains(a.problems[i], w) {
			t.Errorf("problem %d = %q; want it to mention %q", i, a.problems[i], w)
		}
	}
	if b := a.backendConfigFor("svc", "80"); b.proto != nil || *b.weight != 2 {
		t.Errorf("backend: proto %v weight %v; want the bad field dropped and the good one kept", b.proto, b.weight)
	}
	if p, _ := a.pathConfigFor("h", "/"); p.readTimeout != nil || *p.writeTimeout != 2000 {
		t.Errorf("path: read %v write %v", p.readTimeout, p.writeTimeout)
	}
}

func TestConvertPath(t *testing.T) {
	tests := []struct {
		path, typ string // typ "" means unset
		want      matchKey
		err       bool
	}{
		{"/foo", "Exact", matchKey{typ: "Exact", value: "/foo"}, false},
		{"/foo/", "Prefix", matchKey{typ: "PathPrefix", value: "/foo"}, false},
		{"/", "Prefix", matchKey{typ: "PathPrefix", value: "/"}, false},
		{"/foo/", "ImplementationSpecific", matchKey{typ: "PathPrefix", value: "/foo"}, false},
		{"/foo", "ImplementationSpecific", matchKey{typ: "Exact", value: "/foo"}, false},
		{"/foo", "", matchKey{typ: "Exact", value: "/foo"}, false},
		{"", "", matchKey{typ: "PathPrefix", value: "/"}, false},
		{"foo", "Prefix", matchKey{}, true},
		{"/a?b", "Exact", matchKey{}, true},
		{"/a", "Regex", matchKey{}, true},
	}
	for _, tt := range tests {
		var typ *networkingv1.PathType
		if tt.typ != "" {
			typ = new(networkingv1.PathType(tt.typ))
		}
		got, err := convertPath(tt.path, typ)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("convertPath(%q, %q) = %+v, %v; want %+v, error %v", tt.path, tt.typ, got, err, tt.want, tt.err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{DefaultTLSSecret: "ns/name", DefaultBackendService: "a/b", HTTPPort: 8080}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	err := (Options{DefaultTLSSecret: "name", NghttpxConfigMap: "a/b/c", HTTPSPort: 70000}).Validate()
	for _, w := range []string{"--default-tls-secret", "--nghttpx-configmap", "--nghttpx-https-port"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v; want it to mention %s", err, w)
		}
	}
}

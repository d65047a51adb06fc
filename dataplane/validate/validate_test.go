package validate

import (
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func TestValues(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"hostname", Hostname("a.example", false), true},
		{"wildcard", Hostname("*.example", true), true},
		{"wildcard where none is allowed", Hostname("*.example", false), false},
		{"63-byte label", Hostname(long[:63]+".example", false), true},
		{"64-byte label", Hostname(long+".example", false), false},
		{"upper case", Hostname("A.example", false), false},
		{"trailing hyphen", Hostname("a-.example", false), false},
		{"header value tab", HeaderValue("a\tb"), true},
		{"header value LF", HeaderValue("a\nb"), false},
		{"header value DEL", HeaderValue("a\x7f"), false},
		{"header value 4097 bytes", HeaderValue(strings.Repeat("v", 4097)), false},
		{"token", Token("name", "x-a"), true},
		{"token with space", Token("name", "a b"), false},
		{"token 257 bytes", Token("name", strings.Repeat("t", 257)), false},
		{"cookie path", CookiePath("/a/b"), true},
		{"cookie path with ;", CookiePath("/a;secure"), false},
		{"path with ?", Path("/a?b", "?"), false},
		{"path with #", Path("/a#b", ""), false},
		{"query value with &", QueryPart(false, "a&b"), false},
		{"query value percent-encoded", QueryPart(false, "a%20b%26c"), true},
		{"query name with =", QueryPart(true, "a=b"), false},
		{"timeout a day", TimeoutMillis("t", MaxTimeoutMillis), true},
		{"timeout a day and 1ms", TimeoutMillis("t", MaxTimeoutMillis+1), false},
		{"port 0", Port(0), false},
	} {
		if (tc.err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, tc.err, tc.ok)
		}
	}
	if n, err := HeaderName("X-Ngxgw-Retry"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("internal header accepted as %q (%v)", n, err)
	}
	if n, err := HeaderName("X-Custom"); err != nil || n != "x-custom" {
		t.Errorf("HeaderName(X-Custom) = %q, %v", n, err)
	}
}

func TestRule(t *testing.T) {
	base := func() *model.Rule {
		return &model.Rule{
			Name:     "r",
			Match:    model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/"}},
			Backends: []model.WeightedBackend{{Weight: 1, Cluster: "c"}},
		}
	}
	if err := Rule(base()); err != nil {
		t.Fatalf("base rule: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		mut        func(r *model.Rule)
	}{
		{"backend header", "backend 0: response header modifier", func(r *model.Rule) {
			r.Backends[0].ResponseHeaders = &model.HeaderModifier{Add: []model.NameValue{{Name: "x", Value: "\r"}}}
		}},
		{"remove", "token", func(r *model.Rule) { r.RequestHeaders = &model.HeaderModifier{Remove: []string{"a b"}} }},
		{"retry over the bound", "attempts", func(r *model.Rule) { r.Retry = &model.Retry{Codes: []int{503}, Attempts: MaxRetryAttempts + 1} }},
		{"backoff over the bound", "backoff", func(r *model.Rule) {
			r.Retry = &model.Retry{Codes: []int{503}, Attempts: 1, BackoffMillis: MaxRetryBackoffMillis + 1}
		}},
		{"stricter timeout decides", "", func(r *model.Rule) {
			r.Timeouts = &model.Timeouts{RequestMillis: MaxTimeoutMillis * 2, BackendRequestMillis: 1000}
		}},
		{"timeout", "timeout", func(r *model.Rule) { r.Timeouts = &model.Timeouts{RequestMillis: MaxTimeoutMillis + 1} }},
		{"cookie name", "cookie name", func(r *model.Rule) {
			r.Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: strings.Repeat("c", 300)}}
		}},
		{"sni", "SNI", func(r *model.Rule) {
			r.Backends[0].Proxy = &model.BackendOptions{TLS: true, SNI: strings.Repeat("s", 64) + ".example"}
		}},
		{"cors expose", "exposeHeaders", func(r *model.Rule) {
			r.CORS = &model.CORS{AllowAnyOrigin: true, MaxAgeSeconds: 5, ExposeHeaders: strings.Split(strings.Repeat(strings.Repeat("e", 250)+",", 20), ",")[:20]}
		}},
		{"rewrite ?", "rewrite", func(r *model.Rule) {
			r.Rewrite = &model.Rewrite{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/a?b"}}
		}},
	} {
		r := base()
		tc.mut(r)
		err := Rule(r)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

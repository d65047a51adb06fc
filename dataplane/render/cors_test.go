package render

import (
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func TestRenderRejectsCORS(t *testing.T) {
	foo := model.CORSOrigin{Scheme: "https", Host: "www.foo.com", Port: 443}
	for _, tc := range []struct {
		name, want string
		cors       model.CORS
	}{
		{"origin scheme", "scheme", model.CORS{AllowOrigins: []model.CORSOrigin{{Scheme: "ftp", Host: "a.com", Port: 21}}, MaxAgeSeconds: 5}},
		{"origin port 0", "port", model.CORS{AllowOrigins: []model.CORSOrigin{{Scheme: "https", Host: "a.com"}}, MaxAgeSeconds: 5}},
		{"origin host quote", "hostname", model.CORS{AllowOrigins: []model.CORSOrigin{{Scheme: "https", Host: `a".com`, Port: 443}}, MaxAgeSeconds: 5}},
		{"origin wildcard inside", "hostname", model.CORS{AllowOrigins: []model.CORSOrigin{{Scheme: "https", Host: "a.*.com", Port: 443}}, MaxAgeSeconds: 5}},
		{"any and a list", "any origin", model.CORS{AllowAnyOrigin: true, AllowOrigins: []model.CORSOrigin{foo}, MaxAgeSeconds: 5}},
		{"method lower case", "upper-case", model.CORS{AllowOrigins: []model.CORSOrigin{foo}, AllowMethods: []string{"get"}, MaxAgeSeconds: 5}},
		{"method star and more", `"*" together`, model.CORS{AllowOrigins: []model.CORSOrigin{foo}, AllowMethods: []string{"*", "GET"}, MaxAgeSeconds: 5}},
		{"allow header CRLF", "token", model.CORS{AllowOrigins: []model.CORSOrigin{foo}, AllowHeaders: []string{"a\r\nb"}, MaxAgeSeconds: 5}},
		{"expose header comma", "token", model.CORS{AllowOrigins: []model.CORSOrigin{foo}, ExposeHeaders: []string{"a,b"}, MaxAgeSeconds: 5}},
		{"max age 0", "maxAge", model.CORS{AllowOrigins: []model.CORSOrigin{foo}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := validGateway()
			rule0(gw).CORS = &model.CORS{AllowOrigins: []model.CORSOrigin{foo}, MaxAgeSeconds: 5}
			if err := refused(Render(gw, baseOptions())); err != nil {
				t.Fatalf("base model rejected: %v", err)
			}
			c := tc.cors
			rule0(gw).CORS = &c
			err := refused(Render(gw, baseOptions()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestCORSEntryShared: rules with the same response-side policy share one :cors
// entry, and its key changes with that policy.
func TestCORSEntryShared(t *testing.T) {
	keys := func(cs ...model.CORS) []string {
		tb, err := newTableBuilder(&model.Gateway{}, baseOptions())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i := range cs {
			v, err := tb.corsEntry(&cs[i])
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range v.(rbHash) {
				if p.Key == rbSym("key") {
					out = append(out, string(p.Val.(rbStr)))
				}
			}
		}
		if len(tb.cors) != len(uniq(out)) {
			t.Fatalf("%d entries for keys %v", len(tb.cors), out)
		}
		return out
	}
	foo := []model.CORSOrigin{{Scheme: "https", Host: "www.foo.com", Port: 443}}
	bar := []model.CORSOrigin{{Scheme: "https", Host: "*.bar.com", Port: 443}}
	k := keys(
		model.CORS{AllowOrigins: foo, AllowMethods: []string{"GET"}, MaxAgeSeconds: 5},
		model.CORS{AllowOrigins: bar, AllowMethods: []string{"PUT"}, MaxAgeSeconds: 60}, // same response side
		model.CORS{AllowOrigins: foo, AllowCredentials: true, MaxAgeSeconds: 5},
		model.CORS{AllowOrigins: foo, ExposeHeaders: []string{"x-a"}, MaxAgeSeconds: 5},
		model.CORS{AllowAnyOrigin: true, MaxAgeSeconds: 5}, // no Vary
	)
	if k[0] != k[1] {
		t.Errorf("same response policy, keys %s and %s", k[0], k[1])
	}
	if len(uniq(k)) != 4 {
		t.Errorf("keys %v: want 4 distinct", k)
	}
}

func uniq(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

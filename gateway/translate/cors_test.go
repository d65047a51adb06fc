package translate

import (
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func TestParseCORSOrigin(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want model.CORSOrigin
		ok   bool
	}{
		{"https://www.foo.com", model.CORSOrigin{Scheme: "https", Host: "www.foo.com", Port: 443}, true},
		{"http://www.foo.com", model.CORSOrigin{Scheme: "http", Host: "www.foo.com", Port: 80}, true},
		{"HTTPS://WWW.Foo.com:8443", model.CORSOrigin{Scheme: "https", Host: "www.foo.com", Port: 8443}, true},
		{"https://*.bar.com", model.CORSOrigin{Scheme: "https", Host: "*.bar.com", Port: 443}, true},
		{"http://*:8080", model.CORSOrigin{Scheme: "http", Host: "*", Port: 8080}, true},
		{"http://10.0.0.1:3000", model.CORSOrigin{Scheme: "http", Host: "10.0.0.1", Port: 3000}, true},
		{"ftp://a.com", model.CORSOrigin{}, false},
		{"a.com", model.CORSOrigin{}, false},
		{"https://", model.CORSOrigin{}, false},
		{"https://a.com:", model.CORSOrigin{}, false},
		{"https://a.com:0", model.CORSOrigin{}, false},
		{"https://a.com:65536", model.CORSOrigin{}, false},
		{"https://a.com:+80", model.CORSOrigin{}, false},
		{"https://a.com/", model.CORSOrigin{}, false},
		{"https://a.com:80/x", model.CORSOrigin{}, false},
		{"https://user@a.com", model.CORSOrigin{}, false},
		{"https://*.", model.CORSOrigin{}, false},
		{"https://a.*.com", model.CORSOrigin{}, false},
		{"https://**.a.com", model.CORSOrigin{}, false},
		{"https://a..com", model.CORSOrigin{}, false},
		{"https://-a.com", model.CORSOrigin{}, false},
		{"https://[::1]:443", model.CORSOrigin{}, false},
	} {
		got, err := parseCORSOrigin(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCORSOrigin(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

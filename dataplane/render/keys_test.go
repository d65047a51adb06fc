package render

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// withHTTPS adds an HTTPS port with the test certificate to validGateway's model.
func withHTTPS(t testing.TB, gw *model.Gateway) *model.Gateway {
	t.Helper()
	cert, err := os.ReadFile("testdata/certs/a.example.com.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/certs/a.example.com.key")
	if err != nil {
		t.Fatal(err)
	}
	l := gw.Ports[0].Listeners[0]
	l.CertificateNames = []string{"cert"}
	gw.Ports = append(gw.Ports, model.Port{Port: 443, Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{l}})
	gw.Certificates = []model.Certificate{{Name: "cert", CertPEM: cert, KeyPEM: key}}
	return gw
}

// ticketLines returns the main configuration's ticket key lines in order.
func ticketLines(main []byte) []string {
	var out []string
	for _, l := range strings.Split(string(main), "\n") {
		if strings.HasPrefix(l, "tls-ticket-key-") {
			out = append(out, l)
		}
	}
	return out
}

func TestRenderTicketKeys(t *testing.T) {
	files := []string{"/keys/t2", "/keys/t1", "/keys/t0"}
	for _, tc := range []struct {
		name   string
		https  bool
		files  []string
		want   []string
		cipher string
	}{
		{"HTTPS with keys", true, files, []string{"tls-ticket-key-cipher=aes-256-cbc",
			"tls-ticket-key-file=/keys/t2", "tls-ticket-key-file=/keys/t1", "tls-ticket-key-file=/keys/t0"}, ""},
		{"HTTPS with one key", true, files[:1], []string{"tls-ticket-key-cipher=aes-256-cbc", "tls-ticket-key-file=/keys/t2"}, ""},
		// The original Ingress controller's 48-byte keys.
		{"HTTPS with original keys", true, files[:2], []string{"tls-ticket-key-cipher=aes-128-cbc",
			"tls-ticket-key-file=/keys/t2", "tls-ticket-key-file=/keys/t1"}, "aes-128-cbc"},
		// nghttpx keeps its own rotating keys when no file is given.
		{"HTTPS without keys", true, nil, nil, ""},
		// No TLS frontend: ticket options would only make nghttpx read files for nothing.
		{"HTTP only", false, files, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			if tc.https {
				gw = withHTTPS(t, gw)
			}
			opts.TLSTicketKeyFiles, opts.TLSTicketKeyCipher = tc.files, tc.cipher
			cfg, err := Render(gw, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := ticketLines(cfg.Main); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("ticket key lines %q, want %q\n%s", got, tc.want, cfg.Main)
			}
		})
	}
}

// The ticket key options are the data plane's: an operator line could add a key file
// of its own, switch the cipher (every 80-byte file then fails the size check and
// nghttpx silently uses per-process keys) or move the keys to memcached.
func TestParseExtraConfigTicketKeysManaged(t *testing.T) {
	lines, problems := ParseExtraConfig("tls-ticket-key-file=/etc/t\ntls-ticket-key-cipher=aes-128-cbc\n" +
		"tls-ticket-key-memcached=127.0.0.1,11211\nfrontend-quic-require-token=yes\ntls-session-cache-memcached=127.0.0.1,11211\n")
	if want := "frontend-quic-require-token=yes|tls-session-cache-memcached=127.0.0.1,11211"; strings.Join(lines, "|") != want {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if len(problems) != 3 {
		t.Fatalf("problems %q, want 3", problems)
	}
	for i, p := range problems {
		if !strings.Contains(p, "managed by nghttpx-gateway (TLS session ticket keys") {
			t.Errorf("problem %d: %q", i, p)
		}
	}
}

var simpleKeyPath = regexp.MustCompile(`^(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,30}){1,4}$`)

// FuzzRenderTicketKeys: whatever the paths, an accepted configuration has exactly
// one cipher line and one file line per path, in order, with the path verbatim and
// nothing else added; plain absolute paths are always accepted.
func FuzzRenderTicketKeys(f *testing.F) {
	f.Add("/var/lib/ngxgw/keys/ticket-1", "/var/lib/ngxgw/keys/ticket-0", true)
	f.Add("/k\nfrontend=*,1;no-tls", "/k;x", true)
	f.Add("/a:/b", "relative", false)
	f.Add("/a/../b", "/a//b", true)
	f.Add("/", "/.", true)
	f.Fuzz(func(t *testing.T, p0, p1 string, https bool) {
		gw, opts := validGateway(), baseOptions()
		if https {
			gw = withHTTPS(t, gw)
		}
		opts.TLSTicketKeyFiles = []string{p0, p1}
		cfg, err := Render(gw, opts)
		plain := simpleKeyPath.MatchString(p0) && simpleKeyPath.MatchString(p1) &&
			!strings.Contains(p0+p1, "/./") && !strings.Contains(p0+p1, "/../") &&
			!strings.HasSuffix(p0, "/.") && !strings.HasSuffix(p0, "/..") &&
			!strings.HasSuffix(p1, "/.") && !strings.HasSuffix(p1, "/..")
		if err != nil {
			if plain {
				t.Fatalf("paths %q %q rejected: %v", p0, p1, err)
			}
			return
		}
		var want []string
		if https {
			want = []string{"tls-ticket-key-cipher=aes-256-cbc", "tls-ticket-key-file=" + p0, "tls-ticket-key-file=" + p1}
		}
		if got := ticketLines(cfg.Main); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("ticket key lines %q, want %q", got, want)
		}
		base, err := Render(gw, baseOptions())
		if err != nil {
			t.Fatal(err)
		}
		if n, m := strings.Count(string(cfg.Main), "\n"), strings.Count(string(base.Main), "\n")+len(want); n != m {
			t.Fatalf("%d lines, want %d:\n%s", n, m, cfg.Main)
		}
	})
}

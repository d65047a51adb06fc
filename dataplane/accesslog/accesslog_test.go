package accesslog

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A line as nghttpx 1.52 writes NghttpxFormat, with its \xNN escapes.
const sample = `{"time":"2026-12-07T14:00:00.000Z","time_local":"07/Dec/2026:14:00:00 +0000","remote_addr":"127.0.0.1",` +
	`"method":"GET","authority":"a.example","path":"/q?x=\x22\x5c\xc3\xa9","protocol":"HTTP/2","alpn":"h2c",` +
	`"server_port":8080,"status":503,"bytes":12,"request_time":0.042,"backend_host":"127.0.0.1","backend_port":"3000",` +
	`"backend_pattern":"/__ngxgw/g1/","referer":"-","user_agent":"curl/8"}`

func TestParse(t *testing.T) {
	e, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if e.Path != "/q?x=\"\\\u00c3\u00a9" || e.Status != 503 || e.Bytes != 12 || e.RequestTime != 0.042 ||
		e.ServerPort != 8080 || e.BackendPattern != "/__ngxgw/g1/" || e.Proto() != "h2" || e.StatusClass() != "5xx" {
		t.Errorf("parsed %+v", e)
	}
	// The text format writes the bytes back as nghttpx escaped them.
	want := `127.0.0.1 - - [07/Dec/2026:14:00:00 +0000] "GET /q?x=\x22\x5c\xc3\xa9 HTTP/2" 503 12 "-" "curl/8"`
	if got := e.Text(); got != want {
		t.Errorf("text\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{"", "plain text", `{"status":"x"}`, `{"path":"\q"}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		status int
		class  string
	}{{101, "1xx"}, {200, "2xx"}, {404, "4xx"}, {599, "5xx"}, {0, "other"}, {600, "other"}} {
		if got := (&Entry{Status: c.status}).StatusClass(); got != c.class {
			t.Errorf("status %d: class %s, want %s", c.status, got, c.class)
		}
	}
	for p, want := range map[string]string{"HTTP/1.1": "h1", "HTTP/1.0": "h1", "HTTP/2": "h2", "HTTP/3": "h3", "": "other"} {
		if got := (&Entry{Protocol: p}).Proto(); got != want {
			t.Errorf("protocol %q: %s, want %s", p, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	a := Identity{Gateway: "ns/gw", Port: 80, Listener: "http", RouteKind: "HTTPRoute", Route: "ns/a", Rule: "0", Backend: "ns/svc:80"}
	b := a
	b.Route, b.Rule = "ns/b", "1"
	tls := a
	tls.Port, tls.Listener = 443, "https"
	r := &Routes{Gateway: "ns/gw", Groups: map[string][]Identity{
		"/__ngxgw/one/":    {a, tls},
		"/__ngxgw/shared/": {a, b},
	}}
	if got := r.Lookup("/__ngxgw/one/", 80); got != a {
		t.Errorf("port 80: %+v", got)
	}
	if got := r.Lookup("/__ngxgw/one/", 443); got != tls {
		t.Errorf("port 443: %+v", got)
	}
	// No user on the port: all users, merged.
	if got := r.Lookup("/__ngxgw/one/", 9); got.Listener != Shared || got.Route != "ns/a" || got.Port != 0 {
		t.Errorf("other port: %+v", got)
	}
	if got := r.Lookup("/__ngxgw/shared/", 80); got.Route != Shared || got.Rule != Shared || got.Listener != "http" || got.Backend != "ns/svc:80" {
		t.Errorf("shared: %+v", got)
	}
	none := Identity{Gateway: "ns/gw", Listener: None, RouteKind: None, Route: None, Rule: None, Backend: None}
	for _, p := range []string{"-", "", "/"} {
		if got := r.Lookup(p, 80); got != none {
			t.Errorf("pattern %q: %+v", p, got)
		}
	}
}

func TestStream(t *testing.T) {
	reg := prometheus.NewRegistry()
	var out bytes.Buffer
	sink, err := NewSink(reg, &out, logr0())
	if err != nil {
		t.Fatal(err)
	}
	st := sink.Stream("ns/gw")
	// Port 9 is internal (the backend API, say): its line is dropped.
	st.Set(FormatJSON, &Routes{Gateway: "ns/gw", InternalPorts: []int{9}, Groups: map[string][]Identity{"/__ngxgw/g1/": {{Gateway: "ns/gw", Port: 8080,
		Listener: "http", RouteKind: "HTTPRoute", Route: "ns/a", Rule: "0", Backend: "ns/svc:80"}}}})
	in := strings.Repeat(sample+"\n", 3) + "garbage\n" + strings.Replace(sample, `"server_port":8080`, `"server_port":9`, 1) + "\n"
	if err := st.Run(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(sink.metrics.requests.WithLabelValues("ns/gw", "http", "ns/a", "0", "ns/svc:80", "5xx", "h2")); got != 3 {
		t.Errorf("requests %v, want 3", got)
	}
	if got := testutil.ToFloat64(sink.metrics.malformed.WithLabelValues("ns/gw")); got != 1 {
		t.Errorf("malformed %v, want 1", got)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || lines[3] != "garbage" {
		t.Fatalf("output %q", out.String())
	}
	for _, l := range lines[:3] {
		if !strings.Contains(l, `"route":"ns/a"`) || !strings.Contains(l, `"backend":"ns/svc:80"`) || !strings.Contains(l, `"status":503`) {
			t.Errorf("line %s", l)
		}
	}
	out.Reset()
	st.Set(FormatNghttpx, nil)
	if err := st.Run(strings.NewReader(sample + "\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), `127.0.0.1 - - [07/Dec/2026:14:00:00 +0000] "GET `) {
		t.Errorf("text output %q", out.String())
	}
	// Without routes the request is counted with no identity.
	if got := testutil.ToFloat64(sink.metrics.requests.WithLabelValues("ns/gw", "-", "-", "-", "-", "5xx", "h2")); got != 1 {
		t.Errorf("unrouted requests %v, want 1", got)
	}
}

func logr0() logr.Logger { return logr.Discard() }

// The fast parser and encoder agree with encoding/json.
func TestFastMatchesEncodingJSON(t *testing.T) {
	lines := []string{
		sample,
		strings.ReplaceAll(sample, `"bytes":12`, `"bytes":0`),
		`{"time":"t","path":"/a\x0a\x7fb","status":200,"request_time":1.5,"extra":true,"user_agent":"x\x5c\x22y"}`,
		`{ "status" : 204 , "path" : "/" }`,
	}
	for _, l := range lines {
		var fast, slow Entry
		if err := parseFast([]byte(l), &fast); err != nil {
			t.Errorf("fast %s: %v", l, err)
			continue
		}
		if err := json.Unmarshal(fixEscapes([]byte(l)), &slow); err != nil {
			t.Fatalf("encoding/json %s: %v", l, err)
		}
		if fast != slow {
			t.Errorf("%s\nfast %+v\nslow %+v", l, fast, slow)
		}
		id := Identity{Gateway: "g", Listener: "l\"", RouteKind: "HTTPRoute", Route: "r", Rule: "0", Backend: "b"}
		var back map[string]any
		if err := json.Unmarshal(appendJSON(nil, &fast, &id), &back); err != nil {
			t.Errorf("output of %s is not JSON: %v", l, err)
			continue
		}
		if back["path"] != fast.Path || back["user_agent"] != fast.UserAgent || back["listener"] != `l"` || back["status"] != float64(fast.Status) {
			t.Errorf("output of %s reads back as %v", l, back)
		}
	}
	for _, bad := range []string{`{"status":"x"}`, `{"path":"\q"}`, `{"path":"a`, `{"status":}`} {
		var e Entry
		if parseFast([]byte(bad), &e) == nil {
			t.Errorf("fast parser accepted %s", bad)
		}
	}
}

func BenchmarkHandle(b *testing.B) {
	sink, err := NewSink(prometheus.NewRegistry(), io.Discard, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	st := sink.Stream("ns/gw")
	st.Set(FormatJSON, &Routes{Gateway: "ns/gw", Groups: map[string][]Identity{"/__ngxgw/g1/": {{Gateway: "ns/gw", Port: 8080,
		Listener: "http", RouteKind: "HTTPRoute", Route: "ns/a", Rule: "0", Backend: "ns/svc:80"}}}})
	line := []byte(sample + "\n")
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = st.handle(out[:0], line)
	}
}

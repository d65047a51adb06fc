package settings

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// parse is what the proxy command does with its arguments.
func parse(t *testing.T, args []string) Settings {
	t.Helper()
	s := Proxy()
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.Flags(fs, true)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return s
}

// Settings -> proxy arguments -> parsed settings gives the settings back, and the
// render options derived on both sides are the same.
func TestArgsRoundTrip(t *testing.T) {
	var cases []Settings
	for _, workers := range []int{0, 1, 4} {
		for bits := range 8 {
			s := Proxy()
			s.Workers = workers
			s.HTTP3, s.QUICRequireToken, s.ProxyProtocol = bits&1 != 0, bits&2 != 0, bits&4 != 0
			cases = append(cases, s)
		}
	}
	odd := Settings{Workers: 2, AdminPort: 19901, StateDir: "/tmp/state dir", DrainPeriod: 1500 * time.Millisecond, HTTP3: true, QUICRequireToken: true}
	cases = append(cases, odd)
	for _, f := range []accesslog.Format{accesslog.FormatNghttpx, accesslog.FormatOff, ""} {
		s := Proxy()
		s.AccessLog = f
		cases = append(cases, s)
	}
	feats := render.Features{QUIC: true}
	for _, s := range cases {
		got := parse(t, s.Args())
		want := s
		if !want.HTTP3 {
			want.QUICRequireToken = false // meaningless without HTTP/3; not passed on
		}
		if want.AccessLog == "" {
			want.AccessLog = accesslog.FormatJSON // the default
		}
		if got != want {
			t.Errorf("round trip of %+v\nargs %q\nparsed %+v", s, s.Args(), got)
		}
		ro, back := want.RenderOptions(render.Options{Features: feats}), got.RenderOptions(render.Options{Features: feats})
		if Of(ro) != Of(back) {
			t.Errorf("render options differ: %+v vs %+v", Of(ro), Of(back))
		}
	}
}

// The defaults travel as the Deployments always had them: no --workers (the
// pod's CPUs), and the flags in this order.
func TestArgsOfDefaults(t *testing.T) {
	got := Proxy().Args()
	want := []string{"--admin-port=9901", "--state-dir=/var/lib/nghttpx-gateway", "--http3=true", "--drain-period=5s"}
	if len(got) != len(want) {
		t.Fatalf("args %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestResolve(t *testing.T) {
	off, on := false, true
	base := Settings{Workers: 1, HTTP3: true}
	for _, c := range []struct {
		name string
		m    *model.Settings
		want Settings
	}{
		{"none", nil, base},
		{"http3 off", &model.Settings{HTTP3: &off}, Settings{Workers: 1}},
		{"http3 on, token, proxy protocol", &model.Settings{HTTP3: &on, QUICRequireToken: true, ProxyProtocol: true},
			Settings{Workers: 1, HTTP3: true, QUICRequireToken: true, ProxyProtocol: true}},
		{"workers", &model.Settings{Workers: 6}, Settings{Workers: 6, HTTP3: true}},
	} {
		if got := base.Resolve(c.m); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// A class cannot turn off address validation the command line asked for.
	if got := (Settings{HTTP3: true, QUICRequireToken: true}).Resolve(&model.Settings{}); !got.QUICRequireToken {
		t.Error("class parameters turned QUIC address validation off")
	}
	// Workers 0 (the default) takes the caller's CPU count; a Gateway's count wins.
	if ro := Proxy().RenderOptions(render.Options{Workers: 3}); ro.Workers != 3 {
		t.Errorf("default workers rendered as %d, want the base's 3", ro.Workers)
	}
	if ro := Proxy().Resolve(&model.Settings{Workers: 2}).RenderOptions(render.Options{Workers: 3}); ro.Workers != 2 {
		t.Errorf("the Gateway's 2 workers rendered as %d", ro.Workers)
	}
	if got := Proxy().Resolve(&model.Settings{Workers: 2}).Args(); got[len(got)-1] != "--workers=2" {
		t.Errorf("args %q lack --workers=2", got)
	}
	// HTTP/3 needs QUIC in the binary.
	if ro := (Settings{Workers: 1, HTTP3: true}).RenderOptions(render.Options{}); ro.HTTP3 {
		t.Error("HTTP/3 rendered without QUIC support")
	}
	// A Gateway's annotation picks its access log format.
	if got := Proxy().Resolve(&model.Settings{AccessLog: "off"}); got.AccessLog != accesslog.FormatOff {
		t.Errorf("access log %q, want off", got.AccessLog)
	}
	if ro := Proxy().RenderOptions(render.Options{}); ro.AccessLog != accesslog.FormatJSON {
		t.Errorf("proxy's default access log %q, want json", ro.AccessLog)
	}
	// Unset keeps the render options' (translate renders none unless asked).
	if ro := (Settings{Workers: 1}).RenderOptions(render.Options{AccessLog: accesslog.FormatOff}); ro.AccessLog != accesslog.FormatOff {
		t.Errorf("unset access log rendered %q, want off", ro.AccessLog)
	}
}

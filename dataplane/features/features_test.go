package features

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestParseCapEff(t *testing.T) {
	status := "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffffff\n"
	c, err := parseCapEff(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if c != 0x1fffeffffff {
		t.Errorf("CapEff = %x", uint64(c))
	}
	if _, err := parseCapEff(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no CapEff line: want an error")
	}
	if _, err := parseCapEff(strings.NewReader("CapEff:\tzz\n")); err == nil {
		t.Error("bad CapEff: want an error")
	}
}

func TestCanLoadBPF(t *testing.T) {
	for _, tc := range []struct {
		caps Caps
		want bool
	}{
		{0, false},
		{1 << CapBPF, false},
		{1 << CapPerfmon, false},
		{1<<CapBPF | 1<<CapPerfmon, true},
		{1 << CapSysAdmin, true},
		{0x1fffeffffff &^ (1<<CapBPF | 1<<CapPerfmon | 1<<CapSysAdmin), false},
	} {
		if got := tc.caps.CanLoadBPF(); got != tc.want {
			t.Errorf("Caps(%x).CanLoadBPF() = %v, want %v", uint64(tc.caps), got, tc.want)
		}
	}
}

func TestParseHelp(t *testing.T) {
	full := "  --mruby-file=<PATH>\n  --fetch-ocsp-response-file=<PATH>\nHTTP/3 and QUIC:\n  --quic-bpf-program-file=<PATH>\n  --frontend-quic-secret-file=<PATH>\n" +
		"              specify  \"verify-client=<CAFILE>\": a  certificate  is\n" +
		"              \"tls-ca=<CAFILE>\" verifies  this backend's certificate\n" +
		"              A request header \"x-ngxgw-retry: <CODES>;<N>[;<MS>]\"\n" +
		"              \"sni=<PORT>:<HOST>\"  (repeatable)\n" +
		"              Nghttpx::Request#backend_group=  <PATTERN>  (global\n" +
		"              Nghttpx.mapped_word(<PATH>) maps the file's first  8\n"
	if got, want := parseHelp(full), (help{quic: true, bpfOption: true, ocsp: true, clientVerify: true, backendTLSVerify: true, statusRetry: true, sniCertMap: true, backendGroup: true, mappedWord: true}); got != want {
		t.Errorf("full build: %+v, want %+v", got, want)
	}
	if got, want := parseHelp("  --mruby-file=<PATH>\n"), (help{}); got != want {
		t.Errorf("minimal build: %+v, want %+v", got, want)
	}
}

func TestReasons(t *testing.T) {
	full := help{quic: true, bpfOption: true, ocsp: true, clientVerify: true, backendTLSVerify: true, statusRetry: true, sniCertMap: true, backendGroup: true, mappedWord: true}
	ok := probeResults{quic: probeResult{bpfCompiled: true}}
	noCaps := bpfAccess{binary: "/x/nghttpx"}
	allCaps := bpfAccess{binary: "/x/nghttpx", proc: ProcessCaps{Eff: 1 << CapSysAdmin}}
	for _, tc := range []struct {
		name   string
		h      help
		f      Features
		res    probeResults
		caps   bpfAccess
		objErr error
		want   []string // substrings, one per reason, in order
	}{
		{name: "everything", h: full, f: Features{MRuby: true, HTTP3: true, BPF: true, OCSP: true}, res: ok, caps: allCaps},
		{name: "no caps", h: full, f: Features{MRuby: true, HTTP3: true, OCSP: true}, res: ok, caps: noCaps,
			want: []string{"eBPF QUIC steering disabled: process lacks CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN; rendering no-quic-bpf; " +
				"/x/nghttpx has no file capabilities: in Kubernetes set quicBPF in the GatewayClass parameters"}},
		{name: "no object", h: full, f: Features{MRuby: true, HTTP3: true, OCSP: true}, res: ok, caps: allCaps, objErr: fs.ErrNotExist,
			want: []string{"program file /x/reuseport_kern.o is missing"}},
		{name: "probe failed", h: full, f: Features{MRuby: true, HTTP3: true, OCSP: true},
			res: probeResults{quic: probeResult{bpfCompiled: true}, bpf: probeResult{err: errors.New("Failed to load bpf object file")}}, caps: allCaps,
			want: []string{"could not run with /x/reuseport_kern.o (Failed to load bpf object file)"}},
		{name: "no libbpf", h: full, f: Features{MRuby: true, HTTP3: true, OCSP: true}, res: probeResults{}, caps: allCaps,
			want: []string{"built without libbpf"}},
		{name: "debian build", h: help{ocsp: true}, f: Features{OCSP: true}, res: probeResults{mruby: probeResult{err: errors.New("answer is not from the script")}},
			want: []string{"mruby unavailable: a global mruby script did not answer (answer is not from the script)", "HTTP/3 disabled: nghttpx was built without QUIC support",
				"client certificate validation (Gateway spec.tls.frontend) unavailable", "BackendTLSPolicy CA certificates and subjectAltNames unavailable",
				"HTTPRoute retry on status codes unavailable", "certificates per listener unavailable",
				"direct backend group selection unavailable", "mapped route version unavailable"}},
		{name: "no ocsp", h: help{quic: true, bpfOption: true, clientVerify: true, backendTLSVerify: true, statusRetry: true, sniCertMap: true, backendGroup: true, mappedWord: true}, f: Features{MRuby: true, HTTP3: true, BPF: true}, res: ok, caps: allCaps,
			want: []string{"OCSP stapling unavailable"}},
		{name: "no client verify", h: help{quic: true, bpfOption: true, ocsp: true, backendTLSVerify: true, statusRetry: true, sniCertMap: true, backendGroup: true, mappedWord: true}, f: Features{MRuby: true, HTTP3: true, BPF: true, OCSP: true}, res: ok, caps: allCaps,
			want: []string{"lacks the per-frontend verify-client= parameter"}},
		{name: "no backend tls verify", h: help{quic: true, bpfOption: true, ocsp: true, clientVerify: true, statusRetry: true, sniCertMap: true, backendGroup: true, mappedWord: true}, f: Features{MRuby: true, HTTP3: true, BPF: true, OCSP: true}, res: ok, caps: allCaps,
			want: []string{"lacks the backend tls-ca= and tls-san= parameters"}},
		{name: "no status retry", h: help{quic: true, bpfOption: true, ocsp: true, clientVerify: true, backendTLSVerify: true, sniCertMap: true, backendGroup: true, mappedWord: true}, f: Features{MRuby: true, HTTP3: true, BPF: true, OCSP: true}, res: ok, caps: allCaps,
			want: []string{"lacks the x-ngxgw-retry patch"}},
		{name: "no sni cert map", h: help{quic: true, bpfOption: true, ocsp: true, clientVerify: true, backendTLSVerify: true, statusRetry: true, backendGroup: true, mappedWord: true}, f: Features{MRuby: true, HTTP3: true, BPF: true, OCSP: true}, res: ok, caps: allCaps,
			want: []string{"lacks the subcert sni= patch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reasons(tc.h, tc.f, tc.res, tc.caps, tc.objErr, "/x/reuseport_kern.o")
			if len(got) != len(tc.want) {
				t.Fatalf("reasons = %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("reason %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	f := Features{HTTP3: true, BPF: true, BPFProgram: "/b/reuseport_kern.o", OCSP: true, ClientVerify: true}
	r := f.Render()
	if !r.QUIC || !r.BPF || r.BPFProgramPath != "/b/reuseport_kern.o" || !r.OCSP || !r.ClientVerify {
		t.Errorf("Render() = %+v", r)
	}
}

package features

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Capability sets used by the tests below.
const (
	capsNBS  = Caps(1 << CapNetBindService)
	capsBPF  = Caps(1<<CapBPF | 1<<CapPerfmon)
	capsQUIC = capsNBS | capsBPF // the image's nghttpx-bpf
	capsAll  = Caps(1<<41 - 1)   // CapBnd of an unrestricted process (kernel 5.9+)
)

func TestParseFileCaps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       []byte
		want    FileCaps
		wantErr string
	}{
		// Bytes as setcap wrote them on this machine (getfattr -e hex).
		{name: "v2 nghttpx-bpf +ep", b: []byte{
			0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			want: FileCaps{Permitted: capsQUIC, Effective: true, Revision: 2}},
		{name: "v2 +p only", b: []byte{
			0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			want: FileCaps{Permitted: capsNBS, Revision: 2}},
		{name: "v2 sys_admin+ei", b: []byte{
			0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			want: FileCaps{Inheritable: 1 << CapSysAdmin, Effective: true, Revision: 2}},
		// A user namespace's setcap: rootid 100000 (0x186a0).
		{name: "v3 with rootid", b: []byte{
			0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
			0xa0, 0x86, 0x01, 0x00},
			want: FileCaps{Permitted: capsBPF, Inheritable: 1 << 39, Effective: true, Revision: 3, RootID: 100000}},
		{name: "v1, 32 bits", b: []byte{0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00},
			want: FileCaps{Permitted: 1 << CapSysAdmin, Effective: true, Revision: 1}},
		{name: "empty", b: nil, wantErr: "too short"},
		{name: "v2 truncated", b: []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x01}, wantErr: "revision 2 has 8 bytes, want 20"},
		{name: "v3 without rootid", b: append([]byte{0x01, 0x00, 0x00, 0x03}, make([]byte, 16)...), wantErr: "revision 3 has 20 bytes, want 24"},
		{name: "unknown revision", b: append([]byte{0x01, 0x00, 0x00, 0x04}, make([]byte, 20)...), wantErr: "unknown revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFileCaps(tc.b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v (permitted %s), want %+v (permitted %s)", got, got.Permitted, tc.want, tc.want.Permitted)
			}
		})
	}
}

func TestParseProcessCaps(t *testing.T) {
	// A non-root process in a quicBPF pod: nothing effective, eBPF caps in the bounding set.
	status := "Name:\tnghttpx-gateway\nUid:\t65532\t65532\t65532\t65532\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n" +
		"CapEff:\t0000000000000000\nCapBnd:\t000000c000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\n"
	got, err := parseProcessCaps(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ProcessCaps{Bnd: capsQUIC}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got, err = parseProcessCaps(strings.NewReader(strings.Replace(status, "NoNewPrivs:\t0", "NoNewPrivs:\t1", 1)))
	if err != nil || !got.NoNewPrivs {
		t.Errorf("NoNewPrivs 1: %+v, %v", got, err)
	}
	for name, s := range map[string]string{
		"no NoNewPrivs (kernel < 4.10)": strings.Replace(status, "NoNewPrivs:\t0\n", "", 1),
		"no CapBnd":                     strings.Replace(status, "CapBnd:", "CapXxx:", 1),
		"bad CapEff":                    strings.Replace(status, "CapEff:\t0000000000000000", "CapEff:\tzz", 1),
	} {
		if _, err := parseProcessCaps(strings.NewReader(s)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestBPFAccess(t *testing.T) {
	bpfFile := FileCaps{Permitted: capsQUIC, Effective: true, Revision: 2}
	nbsFile := FileCaps{Permitted: capsNBS, Effective: true, Revision: 2}
	nonRoot := func(bnd Caps) ProcessCaps { return ProcessCaps{Bnd: bnd} }
	for _, tc := range []struct {
		name    string
		proc    ProcessCaps
		file    *FileCaps
		want    bool
		blocked bool
		why     []string // substrings of why() when !want
	}{
		{name: "root", proc: ProcessCaps{Eff: capsAll, Bnd: capsAll}, want: true},
		{name: "root without SYS_ADMIN, BPF, PERFMON", proc: ProcessCaps{Eff: capsAll &^ (capsBPF | 1<<CapSysAdmin), Bnd: capsAll &^ (capsBPF | 1<<CapSysAdmin)},
			why: []string{"/b/nghttpx has no file capabilities", "set quicBPF in the GatewayClass parameters"}},
		{name: "non-root, no file caps", proc: nonRoot(capsQUIC),
			why: []string{"/b/nghttpx has no file capabilities", "set quicBPF in the GatewayClass parameters"}},
		{name: "quicBPF pod: nghttpx-bpf", proc: nonRoot(capsQUIC), file: &bpfFile, want: true},
		{name: "quicBPF pod: plain nghttpx", proc: nonRoot(capsQUIC), file: &nbsFile,
			why: []string{"file capabilities of /b/nghttpx (cap_net_bind_service) lack cap_perfmon,cap_bpf", "set quicBPF"}},
		{name: "plain pod: plain nghttpx", proc: ProcessCaps{Bnd: capsNBS, NoNewPrivs: true}, file: &nbsFile,
			why: []string{"lack cap_perfmon,cap_bpf"}},
		{name: "no_new_privs", proc: ProcessCaps{Bnd: capsQUIC, NoNewPrivs: true}, file: &bpfFile,
			why: []string{"no_new_privs is set (Kubernetes: allowPrivilegeEscalation false)", "set quicBPF"}},
		{name: "not in the bounding set: exec refused", proc: nonRoot(capsNBS), file: &bpfFile, blocked: true,
			why: []string{"refuses to run /b/nghttpx: its file capabilities cap_perfmon,cap_bpf are not all in"}},
		{name: "root with dropped bounding set: exec refused", proc: ProcessCaps{Eff: capsAll, Bnd: capsNBS}, file: &bpfFile, blocked: true,
			why: []string{"refuses to run"}},
		{name: "no effective flag", proc: nonRoot(capsAll), file: &FileCaps{Permitted: capsQUIC, Revision: 2},
			why: []string{"lack the effective flag"}},
		// +p without e never blocks exec: the program could raise them itself.
		{name: "no effective flag, outside bounding set", proc: nonRoot(capsNBS), file: &FileCaps{Permitted: capsQUIC, Revision: 2},
			why: []string{"lack the effective flag"}},
		{name: "sys_admin+ep", proc: nonRoot(capsAll), file: &FileCaps{Permitted: 1 << CapSysAdmin, Effective: true}, want: true},
		// pP' = (bnd & fP) | (pI & fI): the inheritable path needs no bounding set.
		{name: "inheritable", proc: ProcessCaps{Inh: capsBPF, Bnd: capsNBS}, file: &FileCaps{Inheritable: capsBPF, Effective: true}, want: true},
		{name: "inheritable, process lacks it", proc: ProcessCaps{Bnd: capsNBS}, file: &FileCaps{Inheritable: capsBPF, Effective: true},
			why: []string{"lack cap_perfmon,cap_bpf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bpfAccess{binary: "/b/nghttpx", proc: tc.proc}
			if tc.file != nil {
				a.file, a.hasFile = *tc.file, true
			}
			if got := a.CanLoadBPF(); got != tc.want {
				t.Errorf("CanLoadBPF() = %v, want %v", got, tc.want)
			}
			if got := a.execBlocked(); got != tc.blocked {
				t.Errorf("execBlocked() = %v, want %v", got, tc.blocked)
			}
			if tc.want {
				return
			}
			why := a.why()
			for _, w := range tc.why {
				if !strings.Contains(why, w) {
					t.Errorf("why() = %q, want it to contain %q", why, w)
				}
			}
		})
	}
}

func TestCapsString(t *testing.T) {
	for c, want := range map[Caps]string{
		0:                   "none",
		capsQUIC:            "cap_net_bind_service,cap_perfmon,cap_bpf",
		1<<0 | 1<<CapBPF:    "cap_0,cap_bpf",
		1 << CapSysAdmin:    "cap_sys_admin",
		capsBPF | 1<<40:     "cap_perfmon,cap_bpf,cap_40",
		1 << 63:             "cap_63",
		1 << CapSysResource: "cap_sys_resource",
	} {
		if got := c.String(); got != want {
			t.Errorf("Caps(%#x).String() = %q, want %q", uint64(c), got, want)
		}
	}
}

func TestReadFileCapsNone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fc, ok, err := ReadFileCaps(p); err != nil || ok {
		t.Errorf("file without capabilities: %+v, %v, %v; want none and no error", fc, ok, err)
	}
	if _, _, err := ReadFileCaps(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: want an error")
	}
}

// TestReadFileCapsSetcap reads back what setcap wrote, as the Dockerfile does it.
func TestReadFileCapsSetcap(t *testing.T) {
	setcap, err := exec.LookPath("setcap")
	if err != nil {
		t.Skip("setcap (package libcap2-bin) is not installed; the xattr round trip is untested")
	}
	if os.Geteuid() != 0 {
		t.Skip("setting file capabilities needs root; the xattr round trip is untested")
	}
	p := filepath.Join(t.TempDir(), "nghttpx-bpf")
	if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec string
		want FileCaps
	}{
		{"cap_net_bind_service,cap_bpf,cap_perfmon+ep", FileCaps{Permitted: capsQUIC, Effective: true}},
		{"cap_net_bind_service+p cap_bpf+i", FileCaps{Permitted: capsNBS, Inheritable: 1 << CapBPF}},
	} {
		if out, err := exec.Command(setcap, tc.spec, p).CombinedOutput(); err != nil {
			t.Fatalf("setcap %s: %v: %s", tc.spec, err, out)
		}
		fc, ok, err := ReadFileCaps(p)
		if err != nil || !ok {
			t.Fatalf("after setcap %s: %+v, %v, %v", tc.spec, fc, ok, err)
		}
		if fc.Revision != 2 && fc.Revision != 3 {
			t.Errorf("setcap %s: revision %d", tc.spec, fc.Revision)
		}
		got := FileCaps{Permitted: fc.Permitted, Inheritable: fc.Inheritable, Effective: fc.Effective}
		if got != tc.want {
			t.Errorf("setcap %s: read %+v, want %+v", tc.spec, got, tc.want)
		}
	}
	if out, err := exec.Command(setcap, "-r", p).CombinedOutput(); err != nil {
		t.Fatalf("setcap -r: %v: %s", err, out)
	}
	if fc, ok, err := ReadFileCaps(p); err != nil || ok {
		t.Errorf("after setcap -r: %+v, %v, %v; want none", fc, ok, err)
	}
}

// Ports below 1024 on a node's network: the process's own CAP_NET_BIND_SERVICE,
// or the binary's file capability when exec grants it.
func TestCanBindPrivileged(t *testing.T) {
	bpfFile := FileCaps{Permitted: capsQUIC, Effective: true, Revision: 2}
	for _, tc := range []struct {
		name string
		proc ProcessCaps
		file *FileCaps
		want bool
	}{
		{"root", ProcessCaps{Eff: capsAll, Bnd: capsAll}, nil, true},
		{"non-root, plain nghttpx without file caps", ProcessCaps{Bnd: capsQUIC}, nil, false},
		{"non-root, nghttpx-bpf, the original's capabilities", ProcessCaps{Bnd: capsQUIC}, &bpfFile, true},
		{"nghttpx-bpf outside the bounding set: exec refused", ProcessCaps{Bnd: capsNBS}, &bpfFile, false},
		{"nghttpx-bpf under no_new_privs", ProcessCaps{Bnd: capsQUIC, NoNewPrivs: true}, &bpfFile, false},
	} {
		a := bpfAccess{binary: "/b/nghttpx", proc: tc.proc}
		if tc.file != nil {
			a.file, a.hasFile = *tc.file, true
		}
		if got := a.canBindPrivileged(); got != tc.want {
			t.Errorf("%s: canBindPrivileged() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

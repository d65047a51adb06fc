//go:build integration

package features

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
)

const fileCapsHelperEnv = "NGXGW_FILECAPS_HELPER"

// fileCapsReport is what TestFileCapsHelper prints for its parent.
type fileCapsReport struct {
	UID      int         `json:"uid"`
	Proc     ProcessCaps `json:"proc"`
	Features Features    `json:"features"`
	Err      string      `json:"err,omitempty"`
}

// TestFileCapsNonRoot lays out the image's two nghttpx binaries (Dockerfile) and runs
// Detect as uid 65534 with the bounding sets and no_new_privs the provisioner gives a
// pod (setpriv): with file capabilities alone, nghttpx-bpf loads the eBPF program.
func TestFileCapsNonRoot(t *testing.T) {
	bin := os.Getenv("NGHTTPX_BIN")
	if bin == "" {
		t.Fatal("NGHTTPX_BIN is not set: run make integration, or set it to the nghttpx of make nghttpx")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (setcap, and setpriv to become uid 65534); file capabilities are untested here")
	}
	setcap, err := exec.LookPath("setcap")
	if err != nil {
		t.Skip("setcap (package libcap2-bin) is not installed; file capabilities are untested here")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (package util-linux) is not installed; file capabilities are untested here")
	}
	// t.TempDir's parents are private to root; uid 65534 must reach these files.
	root, err := os.MkdirTemp("", "ngxgw-filecaps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := filepath.Join(root, "bin")
	for _, f := range []struct{ from, to string }{
		{bin, filepath.Join(binDir, "nghttpx")},
		{bin, filepath.Join(binDir, "nghttpx-bpf")},
		{bin, filepath.Join(binDir, "nghttpx-nocaps")},
		{nghttpx.H2load(bin), filepath.Join(binDir, "h2load")},
		{nghttpx.BPFObject(bin), nghttpx.BPFObject(filepath.Join(binDir, "nghttpx"))},
		{self, filepath.Join(binDir, "features.test")},
	} {
		copyFile(t, f.from, f.to)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The image's sets (hack/image/image.args).
	bpfCaps, bpfPod := capsQUIC, "-all,+net_bind_service,+bpf,+perfmon"
	for name, spec := range map[string]string{
		"nghttpx":     "cap_net_bind_service+ep",
		"nghttpx-bpf": bpfCaps.String() + "+ep",
	} {
		if out, err := exec.Command(setcap, spec, filepath.Join(binDir, name)).CombinedOutput(); err != nil {
			t.Fatalf("setcap %s %s: %v: %s", spec, name, err, out)
		}
	}

	const plainPod = "-all,+net_bind_service"
	for _, tc := range []struct {
		name, binary, bounding string
		noNewPrivs             bool
		wantBPF                bool
		want                   string // in the reasons, or in the error when wantErr
		wantErr                bool
	}{
		{name: "quicBPF pod runs nghttpx-bpf", binary: "nghttpx-bpf", bounding: bpfPod, wantBPF: true},
		{name: "plain pod runs nghttpx", binary: "nghttpx", bounding: plainPod, noNewPrivs: true,
			want: "the file capabilities of " + filepath.Join(binDir, "nghttpx") + " (cap_net_bind_service) lack cap_perfmon,cap_bpf"},
		{name: "quicBPF pod, binary without file capabilities", binary: "nghttpx-nocaps", bounding: bpfPod,
			want: "has no file capabilities: in Kubernetes set quicBPF in the GatewayClass parameters"},
		{name: "quicBPF pod under no_new_privs", binary: "nghttpx-bpf", bounding: bpfPod, noNewPrivs: true,
			want: "no_new_privs is set"},
		{name: "nghttpx-bpf in a plain pod", binary: "nghttpx-bpf", bounding: plainPod, noNewPrivs: true, wantErr: true,
			want: "the kernel refuses to run " + filepath.Join(binDir, "nghttpx-bpf") + ": its file capabilities " + (bpfCaps &^ capsNBS).String() + " are not all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=" + tc.bounding}
			if tc.noNewPrivs {
				args = append(args, "--no-new-privs")
			}
			args = append(args, "--", filepath.Join(binDir, "features.test"), "-test.run=^TestFileCapsHelper$", "-test.count=1", "-test.v")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, setpriv, args...)
			cmd.Env = append(os.Environ(), fileCapsHelperEnv+"="+filepath.Join(binDir, tc.binary))
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			var r *fileCapsReport
			for line := range strings.Lines(string(out)) {
				if j, ok := strings.CutPrefix(strings.TrimSpace(line), "REPORT "); ok {
					r = new(fileCapsReport)
					if err := json.Unmarshal([]byte(j), r); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r == nil {
				t.Fatalf("helper printed no report:\n%s", out)
			}
			t.Logf("helper took %s: uid %d, CapEff %s, CapBnd %s, no_new_privs %v; bpf %v http3 %v mruby %v; err %q; reasons %q",
				time.Since(start).Round(time.Millisecond), r.UID, r.Proc.Eff, r.Proc.Bnd, r.Proc.NoNewPrivs,
				r.Features.BPF, r.Features.HTTP3, r.Features.MRuby, r.Err, r.Features.Reasons)
			// The process itself has nothing: whatever nghttpx can do comes from its file.
			if r.UID != 65534 || r.Proc.Eff != 0 || r.Proc.NoNewPrivs != tc.noNewPrivs {
				t.Fatalf("helper ran as uid %d with CapEff %s, no_new_privs %v", r.UID, r.Proc.Eff, r.Proc.NoNewPrivs)
			}
			if tc.wantErr {
				if !strings.Contains(r.Err, tc.want) {
					t.Errorf("Detect error %q, want it to contain %q", r.Err, tc.want)
				}
				return
			}
			if r.Err != "" {
				t.Fatalf("Detect: %s", r.Err)
			}
			f := r.Features
			if !f.MRuby || !f.HTTP3 || f.BPF != tc.wantBPF {
				t.Errorf("mruby %v http3 %v bpf %v, want true true %v", f.MRuby, f.HTTP3, f.BPF, tc.wantBPF)
			}
			if tc.wantBPF && f.BPFProgram != nghttpx.BPFObject(filepath.Join(binDir, tc.binary)) {
				t.Errorf("BPFProgram %q", f.BPFProgram)
			}
			if reasons := strings.Join(f.Reasons, "\n"); tc.want != "" && !strings.Contains(reasons, tc.want) {
				t.Errorf("reasons %q, want one containing %q", f.Reasons, tc.want)
			}
		})
	}
}

// TestFileCapsHelper is TestFileCapsNonRoot's half under setpriv; alone it does nothing.
func TestFileCapsHelper(t *testing.T) {
	binary := os.Getenv(fileCapsHelperEnv)
	if binary == "" {
		t.Skip("runs only as the setpriv child of TestFileCapsNonRoot")
	}
	r := fileCapsReport{UID: os.Getuid()}
	var err error
	if r.Proc, err = ReadProcessCaps(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.Features, err = Detect(logrContext(ctx, t), binary)
	if err != nil {
		r.Err = err.Error()
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// Bare, not t.Log: the parent looks for the line's prefix.
	os.Stdout.WriteString("REPORT " + string(j) + "\n")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

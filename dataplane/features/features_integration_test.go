//go:build integration

package features

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
)

// TestDetectFullBuild runs the probes against the binary of make nghttpx. It expects
// every feature; a process without eBPF capabilities is covered by the build
// acceptance test in dataplane/nghttpx.
func TestDetectFullBuild(t *testing.T) {
	bin := os.Getenv("NGHTTPX_BIN")
	if bin == "" {
		t.Fatal("NGHTTPX_BIN is not set: run make integration, or set it to the nghttpx of make nghttpx")
	}
	caps, err := EffectiveCaps()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.CanLoadBPF() {
		t.Fatalf("this test needs CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN (CapEff %x)", uint64(caps))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = logrContext(ctx, t)
	start := time.Now()
	f, err := Detect(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Detect took %s: %+v", time.Since(start).Round(time.Millisecond), f)
	if !f.MRuby || !f.HTTP3 || !f.BPF || !f.OCSP || f.BPFProgram == "" || len(f.Reasons) != 0 {
		t.Errorf("want every feature of the full build, got %+v", f)
	}
}

func TestDetectMissingBinary(t *testing.T) {
	if _, err := Detect(context.Background(), "/nonexistent/nghttpx"); err == nil {
		t.Fatal("want an error for a binary that does not exist")
	}
}

func logrContext(ctx context.Context, t *testing.T) context.Context {
	return logr.NewContext(ctx, testr.NewWithOptions(t, testr.Options{Verbosity: 1}))
}

//go:build integration

package apply

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// Data-plane pods have a read-only root file system and no /tmp volume. Stock
// nghttpx 1.52 spools backend API bodies to /tmp (mkostemp), so every endpoint
// update would fail there; hack/nghttpx-patches/10-api-memfd.patch uses a memory
// file. This runs nghttpx in a private mount namespace whose /tmp is a
// read-only tmpfs and changes endpoints through the backend API.
func TestBackendAPIWithReadOnlyTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (mount namespace)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) missing: %v", err)
	}
	w := newWorld(t)
	// The state directory must not be under /tmp, which nghttpx will not see.
	dir, err := os.MkdirTemp("/var/tmp", "ngxgw-notmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w.dir = dir

	mark := filepath.Join(dir, "tmp-state")
	wrapper := filepath.Join(dir, "nghttpx-notmp")
	script := `#!/bin/sh
# exec all the way down: the applier signals this PID.
exec unshare -m --propagation private /bin/sh -c '
mount -t tmpfs -o ro tmpfs /tmp || exit 97
if touch /tmp/probe 2>/dev/null; then echo writable > "` + mark + `"; exit 98; fi
echo read-only > "` + mark + `"
exec "$0" "$@"' "` + testenv.NghttpxBin(t) + `" "$@"
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	a, err := New(Options{Binary: wrapper, StateDir: w.dir, Log: testr.New(t),
		StopGrace: 3 * time.Second, ReloadTimeout: 5 * time.Second, Retry: Backoff{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { a.Stop(ctx) })
	if err := a.Start(ctx, w.config("g", w.group("g", "a"))); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != "read-only" {
		t.Fatalf("nghttpx's /tmp should be read-only: %q %v", b, err)
	}
	wantPod(t, w.url("/m"), "a")

	st := a.Stats()
	if err := a.Apply(ctx, w.config("g", w.group("g", "b"))); err != nil {
		t.Fatalf("endpoint change through the backend API with a read-only /tmp: %v", err)
	}
	wantPod(t, w.url("/m"), "b")
	if st.BackendPosts.Load() != 1 || st.Reloads.Load() != 0 {
		t.Errorf("backend posts %d reloads %d, want 1 0", st.BackendPosts.Load(), st.Reloads.Load())
	}
}

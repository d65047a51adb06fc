package apply

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

func TestWriteAllAndModes(t *testing.T) {
	dir := t.TempDir()
	cfg := base()
	cfg.Files["certs/quic-secret"] = []byte("s")
	if err := writeAll(dir, cfg, cfg.Backends); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		"tls-aa.key": 0o600, "certs/quic-secret": 0o600, "tls-bb.crt": 0o644, "router.rb": 0o644, render.MainFile: 0o644,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, render.BackendFile))
	if !strings.HasSuffix(string(b), "\n") || strings.Count(string(b), "\n") != 3 {
		t.Errorf("backends.conf %q: want 3 lines, each ending in a newline", b)
	}
	v, _ := os.ReadFile(filepath.Join(dir, render.RouteVersionFile))
	if string(v) != string(cfg.RouteVersion()) {
		t.Errorf("routes.version %q, want %q", v, cfg.RouteVersion())
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if err := removeFiles(dir, []string{"router.rb", "never-existed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "router.rb")); !os.IsNotExist(err) {
		t.Errorf("router.rb still there: %v", err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	a := base()
	b := clone(a)
	a.Main[0] = 'X'
	a.Files["router.rb"][0] = 'X'
	a.Backends[0].Lines[0] = "changed"
	if b.Main[0] == 'X' || b.Files["router.rb"][0] == 'X' || b.Backends[0].Lines[0] == "changed" {
		t.Error("clone shares memory with its source")
	}
}

// routes.gen is bumped in place: nghttpx maps the file, so a rename or a
// truncation would hide the counter from it (or fault the mapping).
func TestBumpGenInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, render.RouteGenFile)
	var ino uint64
	for want := uint64(1); want <= 3; want++ {
		if err := bumpGen(dir); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 8 || binary.LittleEndian.Uint64(b) != want {
			t.Fatalf("after bump %d: %x, want 8 bytes holding %d", want, b, want)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		i := st.Sys().(*syscall.Stat_t).Ino
		if ino != 0 && i != ino {
			t.Fatalf("bump %d replaced the file (inode %d, was %d)", want, i, ino)
		}
		ino = i
	}
	// The counter wraps within the 62 bits the routers see, skipping 0.
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1<<62-1)
	if err := os.WriteFile(path, b[:], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := bumpGen(dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if v := binary.LittleEndian.Uint64(got); v != 1 {
		t.Errorf("after wrap: %d, want 1", v)
	}
}

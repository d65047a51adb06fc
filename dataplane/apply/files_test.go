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

// Route shards: a write adds the new ones before the head; removeShards keeps
// those of the configs it is given (the current and the previous table) and
// removes the rest; routes.gen stays the same file, bumped in place.
func TestRouteShardsLifecycle(t *testing.T) {
	dir := t.TempDir()
	table := func(names ...string) *render.Config {
		c := &render.Config{RouteTable: []byte("{:shards => \"" + strings.Join(names, "") + "\"}\n"), RouteShards: map[string][]byte{}}
		for _, n := range names {
			c.RouteShards[n+".rb"] = []byte("{\"" + n + "\" => []}\n")
		}
		return c
	}
	have := func() string {
		ents, _ := os.ReadDir(filepath.Join(dir, render.RouteShardDir))
		var names []string
		for _, e := range ents {
			names = append(names, strings.TrimSuffix(e.Name(), ".rb"))
		}
		return strings.Join(names, " ")
	}
	gen := func() (uint64, uint64) {
		st, err := os.Stat(filepath.Join(dir, render.RouteGenFile))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, render.RouteGenFile))
		return st.Sys().(*syscall.Stat_t).Ino, binary.LittleEndian.Uint64(b)
	}
	c1, c2, c3 := table("aaaa", "bbbb"), table("bbbb", "cccc"), table("cccc", "dddd")
	if err := writeRoutes(dir, c1); err != nil {
		t.Fatal(err)
	}
	ino, g := gen()
	if err := writeRoutes(dir, c2); err != nil {
		t.Fatal(err)
	}
	if err := removeShards(dir, c2, c1); err != nil {
		t.Fatal(err)
	}
	if got := have(); got != "aaaa bbbb cccc" {
		t.Errorf("after the second table: %q, want the shards of both", got)
	}
	// A shard on disk is not rewritten (names are digests): a changed byte stays.
	os.WriteFile(filepath.Join(dir, render.RouteShardFile("cccc.rb")), []byte("kept\n"), 0o644)
	os.WriteFile(filepath.Join(dir, render.RouteShardDir, ".x.rb.tmp-1"), nil, 0o644)
	if err := writeRoutes(dir, c3); err != nil {
		t.Fatal(err)
	}
	if err := removeShards(dir, c3, c2); err != nil {
		t.Fatal(err)
	}
	if got := have(); got != "bbbb cccc dddd" {
		t.Errorf("after the third table: %q, want those of the last two", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, render.RouteShardFile("cccc.rb"))); string(b) != "kept\n" {
		t.Errorf("shard cccc rewritten: %q", b)
	}
	ino2, g2 := gen()
	if ino2 != ino || g2 != g+2 {
		t.Errorf("routes.gen inode %d -> %d, value %d -> %d: want the same file bumped twice", ino, ino2, g, g2)
	}
	if err := removeShards(dir, c3); err != nil {
		t.Fatal(err)
	}
	if got := have(); got != "cccc dddd" {
		t.Errorf("after a start: %q, want only the current table's", got)
	}
	if err := validate(&render.Config{Main: base().Main, Backends: base().Backends, Files: map[string][]byte{"routes.d/x.rb": nil}}); err == nil {
		t.Error("a File inside routes.d is accepted")
	}
}

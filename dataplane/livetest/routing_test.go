//go:build integration

package livetest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// routing adds the routing features of our nghttpx patches (the router chooses
// the backend group, and watches the mapped routes.gen) to f: what make nghttpx
// builds. LIVE_PATH_STEERING=1 runs the suite as on an nghttpx without them
// (path rewrite plus restore.rb, routes.version read per request).
func routing(f render.Features) render.Features {
	if os.Getenv("LIVE_PATH_STEERING") == "" {
		f.BackendGroup, f.MappedWord = true, true
	}
	return f
}

// bumpGen increments routes.gen in place, as the applier does after a table write.
func bumpGen(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, render.RouteGenFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	n, _ := f.ReadAt(b[:], 0)
	v := uint64(0)
	if n == 8 {
		v = binary.LittleEndian.Uint64(b[:])
	}
	binary.LittleEndian.PutUint64(b[:], v+1)
	if _, err := f.WriteAt(b[:], 0); err != nil {
		t.Fatal(err)
	}
}

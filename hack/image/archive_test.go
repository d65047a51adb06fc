package image

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ociimage"
)

// TestArchiveHasOriginalCommand builds image.args as hack/build-image.sh does
// (stand-in binaries, no root filesystem), writes the archive and reads it back
// as a loader would: /nghttpx-ingress-controller, the original Ingress
// controller's command, is a symlink to the binary, which the image holds.
func TestArchiveHasOriginalCommand(t *testing.T) {
	dir := t.TempDir()
	stub := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, f := range []string{"stage/bin/nghttpx", "stage/bin/nghttpx-bpf", "stage/bin/h2load", "stage/lib/bpf/reuseport_kern.o"} {
		stub(f)
	}
	vars := map[string]string{"ROOTFS": "", "STAGE": filepath.Join(dir, "stage"), "GATEWAY_BIN": stub("nghttpx-gateway"),
		"VERSION": "v0.0.0-test", "REVISION": "test"}
	args, err := ociimage.ExpandArgs([]string{"--spec", "image.args", "--ref", "example.com/nghttpx-gateway:test", "--out", filepath.Join(dir, "image.tar")},
		func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	f, err := ociimage.ParseArgs("image.args", args, func(string) (string, bool) { return "0", true }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Build(f.Spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ociimage.WriteArchive(img, f.Ref, f.Out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(res.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := back.Layers()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]*tar.Header{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			found[h.Name] = h
		}
		rc.Close()
	}
	if h := found["nghttpx-ingress-controller"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "/usr/local/bin/nghttpx-gateway" {
		t.Errorf("/nghttpx-ingress-controller: %+v, want a symlink to /usr/local/bin/nghttpx-gateway", h)
	}
	if h := found["usr/local/bin/nghttpx-gateway"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Errorf("/usr/local/bin/nghttpx-gateway: %+v, want an executable file", h)
	}
}

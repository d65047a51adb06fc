package ociimage

import (
	"archive/tar"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fixture makes a small root filesystem and two files with varying mtimes, so a
// build that leaked host metadata would differ between the two calls.
func fixture(t *testing.T, mtime time.Time) (root string, files []File) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "root")
	for _, d := range []string{"etc", "usr/bin", "usr/local/bin", "dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, content string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0o644)
	write(filepath.Join(root, "usr/bin/tool"), "#!/bin/sh\n", 0o755)
	write(filepath.Join(root, "dev/null-ish"), "x", 0o644)
	if err := os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(dir, "proxy"), "proxy binary", 0o700)
	write(filepath.Join(dir, "prog.o"), "bpf object", 0o600)
	files = []File{
		{Src: filepath.Join(dir, "proxy"), Dst: "/usr/local/bin/proxy-bpf", Mode: 0o755},
		{Src: filepath.Join(dir, "proxy"), Dst: "/usr/local/bin/proxy"},
		{Src: filepath.Join(dir, "prog.o"), Dst: "/usr/local/lib/bpf/prog.o", Mode: 0o644},
	}
	return root, files
}

func spec(root string, files []File) Spec {
	return Spec{
		RootFS:     root,
		Files:      files,
		Caps:       map[string]string{"/usr/local/bin/proxy-bpf": "cap_net_bind_service,cap_bpf,cap_perfmon,cap_sys_resource+ep"},
		User:       "65532",
		Entrypoint: []string{"/usr/local/bin/proxy"},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin", "NGHTTPX_BIN=/usr/local/bin/proxy"},
		Labels:     map[string]string{"org.opencontainers.image.version": "v1.2.3", "org.opencontainers.image.revision": "abc"},
		Epoch:      time.Unix(1700000000, 0),
	}
}

func digest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestSameInputsSameDigest(t *testing.T) {
	r1, f1 := fixture(t, time.Unix(1, 0))
	r2, f2 := fixture(t, time.Unix(2e9, 0)) // other paths, other mtimes, other inodes
	a, err := Build(spec(r1, f1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(spec(r2, f2))
	if err != nil {
		t.Fatal(err)
	}
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Fatalf("same inputs, different digests: %s and %s", da, db)
	}
	// The archive bytes too, not only the manifest.
	out := t.TempDir()
	ra, err := WriteArchive(a, "example.com/x/y:dev", filepath.Join(out, "a.tar"))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := WriteArchive(b, "example.com/x/y:dev", filepath.Join(out, "b.tar"))
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(ra.Path)
	bb, _ := os.ReadFile(rb.Path)
	if string(ba) != string(bb) {
		t.Errorf("archives differ (%d and %d bytes)", len(ba), len(bb))
	}
	// A changed input changes the digest.
	s := spec(r1, f1)
	s.Epoch = s.Epoch.Add(time.Second)
	c, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, c) == digest(t, a) {
		t.Error("another epoch gave the same digest")
	}
}

func TestRootFSEpochKeepsBaseLayer(t *testing.T) {
	root, files := fixture(t, time.Unix(5, 0))
	layerDigests := func(epoch int64) []v1.Hash {
		s := spec(root, files)
		s.Epoch, s.RootFSEpoch = time.Unix(epoch, 0), time.Unix(1000, 0)
		img, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		var out []v1.Hash
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
		return out
	}
	a, b := layerDigests(2000), layerDigests(3000)
	if a[0] != b[0] {
		t.Errorf("root filesystem layer changed with the files' epoch: %s, %s", a[0], b[0])
	}
	if a[1] == b[1] {
		t.Error("files layer did not change with its epoch")
	}
}

// entries reads every layer of img: name -> header.
func entries(t *testing.T, img v1.Image) []map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]*tar.Header
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*tar.Header{}
		tr := tar.NewReader(rc)
		var prev string
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name <= prev {
				t.Errorf("entry %s after %s: not sorted", h.Name, prev)
			}
			prev = h.Name
			m[h.Name] = h
		}
		rc.Close()
		out = append(out, m)
	}
	return out
}

func TestLayers(t *testing.T) {
	root, files := fixture(t, time.Unix(5, 0))
	img, err := Build(spec(root, files))
	if err != nil {
		t.Fatal(err)
	}
	ls := entries(t, img)
	if len(ls) != 2 {
		t.Fatalf("%d layers, want 2 (root filesystem, files)", len(ls))
	}
	base, top := ls[0], ls[1]
	for _, m := range ls {
		for n, h := range m {
			if !h.ModTime.Equal(time.Unix(1700000000, 0)) || h.Uname != "" || h.Gname != "" {
				t.Errorf("%s: mtime %v owner names %q/%q, want the epoch and none", n, h.ModTime, h.Uname, h.Gname)
			}
		}
	}
	if h := base["bin"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("bin: %+v, want a symlink to usr/bin", h)
	}
	if h := base["usr/bin/tool2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
		t.Errorf("usr/bin/tool2: %+v, want a hard link to usr/bin/tool", h)
	}
	if base["dev/"] == nil || base["dev/null-ish"] != nil {
		t.Error("dev/ should be kept empty")
	}
	capHdr := top["usr/local/bin/proxy-bpf"]
	if capHdr == nil {
		t.Fatal("usr/local/bin/proxy-bpf missing from the files layer")
	}
	if got := hex.EncodeToString([]byte(capHdr.PAXRecords["SCHILY.xattr.security.capability"])); got != "010000020004000100000000c000000000000000" {
		t.Errorf("security.capability of proxy-bpf: %q", got)
	}
	if capHdr.Mode != 0o755 || capHdr.Uid != 0 || capHdr.Gid != 0 {
		t.Errorf("proxy-bpf mode %o owner %d:%d, want 755 0:0", capHdr.Mode, capHdr.Uid, capHdr.Gid)
	}
	if h := top["usr/local/bin/proxy"]; h == nil || h.Mode != 0o700 || len(h.PAXRecords) != 0 {
		t.Errorf("proxy: %+v, want the source's mode 700 and no capabilities", h)
	}
	if h := top["usr/local/lib/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Error("parent directory usr/local/lib/ missing from the files layer")
	}
}

// The image's second name for a binary (as the project image's
// /nghttpx-ingress-controller): a symlink in the files layer.
func TestSymlinks(t *testing.T) {
	root, files := fixture(t, time.Unix(5, 0))
	s := spec(root, files)
	s.Symlinks = []Symlink{{Target: "/usr/local/bin/proxy", Link: "/proxy-legacy"}, {Target: "proxy", Link: "/usr/local/bin/proxy2"}}
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	top := entries(t, img)[1]
	for name, target := range map[string]string{"proxy-legacy": "/usr/local/bin/proxy", "usr/local/bin/proxy2": "proxy"} {
		if h := top[name]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target || h.Uid != 0 || !h.ModTime.Equal(s.Epoch) {
			t.Errorf("%s: %+v, want a symlink to %s owned by 0 at the epoch", name, h, target)
		}
	}
	// Links alone make an image too.
	if _, err := Build(Spec{Symlinks: s.Symlinks[:1], Epoch: time.Unix(0, 0)}); err != nil {
		t.Errorf("symlink-only image: %v", err)
	}
	for name, bad := range map[string]Spec{
		"relative link":  {Symlinks: []Symlink{{Target: "/x", Link: "x"}}},
		"link over file": {Files: files, Symlinks: []Symlink{{Target: "/x", Link: files[0].Dst}}},
		"parent symlink": {RootFS: root, Symlinks: []Symlink{{Target: "/x", Link: "/bin/x"}}},
	} {
		if _, err := Build(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfig(t *testing.T) {
	root, files := fixture(t, time.Unix(5, 0))
	img, err := Build(spec(root, files))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User:       "65532",
		Entrypoint: []string{"/usr/local/bin/proxy"},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin", "NGHTTPX_BIN=/usr/local/bin/proxy"},
		Labels:     map[string]string{"org.opencontainers.image.version": "v1.2.3", "org.opencontainers.image.revision": "abc"},
	}
	if !reflect.DeepEqual(cf.Config, want) {
		t.Errorf("config %+v, want %+v", cf.Config, want)
	}
	if !cf.Created.Time.Equal(time.Unix(1700000000, 0)) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("created %v os %s arch %s", cf.Created, cf.OS, cf.Architecture)
	}
	if len(cf.History) != 2 || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("history %d, diff IDs %d: want 2 each", len(cf.History), len(cf.RootFS.DiffIDs))
	}
}

func TestFilesOnlyArchive(t *testing.T) {
	_, files := fixture(t, time.Unix(5, 0))
	img, err := Build(Spec{Files: files[1:2], Entrypoint: []string{"/usr/local/bin/proxy"}, Epoch: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ls := entries(t, img)
	if len(ls) != 1 {
		t.Fatalf("%d layers, want 1", len(ls))
	}
	var names []string
	for n := range ls[0] {
		names = append(names, n)
	}
	if got := strings.Join(slices.Sorted(slices.Values(names)), " "); got != "usr/ usr/local/ usr/local/bin/ usr/local/bin/proxy" {
		t.Errorf("entries %s", got)
	}
	res, err := WriteArchive(img, "registry.k8s.io/pause:3.10", filepath.Join(t.TempDir(), "out", "pause.tar"))
	if err != nil {
		t.Fatal(err)
	}
	// Read the archive back the way a loader would: by its tag.
	back, err := tarball.ImageFromPath(res.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, back) != res.Digest {
		t.Errorf("archive image digest %s, written %s", digest(t, back), res.Digest)
	}
	if res.Ref != "registry.k8s.io/pause:3.10" || res.Size <= 0 {
		t.Errorf("result %+v", res)
	}
}

func TestBuildRejects(t *testing.T) {
	root, files := fixture(t, time.Unix(5, 0))
	for name, s := range map[string]Spec{
		"empty":          {},
		"cap on nothing": {RootFS: root, Caps: map[string]string{"/usr/bin/missing": "cap_bpf+ep"}},
		"cap on dir":     {RootFS: root, Caps: map[string]string{"/usr/bin": "cap_bpf+ep"}},
		"relative dst":   {Files: []File{{Src: files[0].Src, Dst: "usr/x"}}},
		"dst twice":      {Files: []File{files[0], files[0]}},
		"parent symlink": {RootFS: root, Files: []File{{Src: files[0].Src, Dst: "/bin/x"}}},
		"missing source": {Files: []File{{Src: "/nonexistent/x", Dst: "/x"}}},
		"bad env":        {Files: files, Env: []string{"NOVALUE"}},
		"rootfs not dir": {RootFS: files[0].Src},
	} {
		if _, err := Build(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Build assembles the image described by s.
func Build(s Spec) (v1.Image, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	caps := map[string][]byte{}
	for p, text := range s.Caps {
		name, err := imagePath(p)
		if err != nil {
			return nil, fmt.Errorf("capabilities: %w", err)
		}
		fc, err := ParseCaps(text)
		if err != nil {
			return nil, fmt.Errorf("capabilities for %s: %w", p, err)
		}
		caps[name] = fc.VFSCapData()
	}
	used := map[string]bool{}
	epoch := s.Epoch.UTC()
	rootEpoch := epoch
	if !s.RootFSEpoch.IsZero() {
		rootEpoch = s.RootFSEpoch.UTC()
	}
	layer := func(epoch time.Time, fill func(*layerWriter) error) (v1.Layer, error) {
		var buf bytes.Buffer
		w := &layerWriter{tw: tar.NewWriter(&buf), epoch: epoch, caps: caps, used: used}
		if err := fill(w); err != nil {
			return nil, err
		}
		if err := w.tw.Close(); err != nil {
			return nil, err
		}
		b := buf.Bytes()
		return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}, tarball.WithCompressedCaching)
	}

	var adds []mutate.Addendum
	if s.RootFS != "" {
		fi, err := os.Stat(s.RootFS)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("root filesystem %s is not a directory (%v)", s.RootFS, err)
		}
		l, err := layer(rootEpoch, func(w *layerWriter) error { return rootfsLayer(w, s.RootFS) })
		if err != nil {
			return nil, fmt.Errorf("root filesystem layer: %w", err)
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: rootEpoch}, CreatedBy: "root filesystem"}})
	}
	if len(s.Files) > 0 || len(s.Symlinks) > 0 {
		l, err := layer(epoch, func(w *layerWriter) error { return filesLayer(w, s.RootFS, s.Files, s.Symlinks) })
		if err != nil {
			return nil, fmt.Errorf("files layer: %w", err)
		}
		var dsts []string
		for _, f := range s.Files {
			dsts = append(dsts, f.Dst)
		}
		for _, l := range s.Symlinks {
			dsts = append(dsts, l.Link+"->"+l.Target)
		}
		sort.Strings(dsts)
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "files " + strings.Join(dsts, " ")}})
	}
	for p := range caps {
		if !used[p] {
			return nil, fmt.Errorf("capabilities for /%s: no such regular file in the image", p)
		}
	}

	arch, osName := s.Arch, s.OS
	if arch == "" {
		arch = "amd64"
	}
	if osName == "" {
		osName = "linux"
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: arch,
		OS:           osName,
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:       s.User,
			Entrypoint: s.Entrypoint,
			Cmd:        s.Cmd,
			Env:        s.Env,
			WorkingDir: s.WorkingDir,
			Labels:     s.Labels,
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, adds...)
}

// Result describes a written archive.
type Result struct {
	Ref    string // the image reference as stored in the archive (RepoTags)
	Digest string // manifest digest
	ID     string // config digest: the image ID `docker images` shows
	Size   int64  // archive size in bytes
	Path   string
}

// WriteArchive writes img as a docker-archive tarball tagged ref to path (through a
// temporary file in the same directory, so a failed write leaves no partial archive).
func WriteArchive(img v1.Image, ref, path string) (Result, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return Result{}, fmt.Errorf("image reference %q: %w (want REPOSITORY:TAG)", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Result{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ociimage-*.tar")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return Result{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return Result{}, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return Result{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	id, err := img.ConfigName()
	if err != nil {
		return Result{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Result{}, err
	}
	return Result{Ref: tag.String(), Digest: d.String(), ID: id.String(), Size: fi.Size(), Path: path}, nil
}

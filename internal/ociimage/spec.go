package ociimage

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// File is one file copied into the image.
type File struct {
	Src  string      // file on the build machine (symlinks followed)
	Dst  string      // absolute path in the image
	Mode fs.FileMode // permission bits in the image; 0 keeps the source's
}

// Symlink is a symbolic link added to the image (ln -s Target Link).
type Symlink struct {
	Target string // what the link points to, as written
	Link   string // absolute path of the link in the image
}

// ParseSymlink reads TARGET:LINK, in ln -s order.
func ParseSymlink(s string) (Symlink, error) {
	target, link, ok := strings.Cut(s, ":")
	if !ok || target == "" || link == "" || strings.Contains(link, ":") {
		return Symlink{}, fmt.Errorf("symlink %q: want TARGET:LINK", s)
	}
	return Symlink{Target: target, Link: link}, nil
}

// Spec is everything an image is made from.
type Spec struct {
	// RootFS is a root filesystem directory for the first layer; empty for an image
	// of Files only.
	RootFS string
	Files  []File
	// Symlinks are added with the files (their layer), e.g. a second name for a
	// binary that dispatches on its name.
	Symlinks []Symlink
	// Caps maps an absolute image path (a File's Dst or a RootFS file) to its file
	// capabilities in setcap's text form, e.g. "cap_net_bind_service,cap_bpf+ep".
	Caps map[string]string

	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	WorkingDir string
	Labels     map[string]string

	// Epoch is every entry's mtime and the image's created time (SOURCE_DATE_EPOCH).
	Epoch time.Time
	// RootFSEpoch, when set, is the mtime of the root filesystem layer's entries instead,
	// so that layer stays the same (and is shared by runtimes) across builds that change
	// only the files.
	RootFSEpoch time.Time
	// Arch and OS of the image config; empty means amd64 and linux.
	Arch, OS string
}

// ParseFile reads SRC:DST[:MODE], MODE in octal (e.g. 0755).
func ParseFile(s string) (File, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return File{}, fmt.Errorf("file %q: want SRC:DST or SRC:DST:MODE", s)
	}
	f := File{Src: parts[0], Dst: parts[1]}
	if len(parts) == 3 {
		m, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || m > 0o7777 {
			return File{}, fmt.Errorf("file %q: mode %q is not an octal permission like 0755", s, parts[2])
		}
		f.Mode = fs.FileMode(m)
	}
	return f, nil
}

// imagePath turns an absolute image path into a layer entry name ("usr/bin/x").
func imagePath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("image path %q must be absolute", p)
	}
	c := strings.TrimPrefix(path.Clean(p), "/")
	if c == "" {
		return "", fmt.Errorf("image path %q names the root directory", p)
	}
	return c, nil
}

func (s Spec) validate() error {
	if s.RootFS == "" && len(s.Files) == 0 && len(s.Symlinks) == 0 {
		return fmt.Errorf("nothing to put in the image: give a root filesystem, files or both")
	}
	seen := map[string]bool{}
	for _, f := range s.Files {
		p, err := imagePath(f.Dst)
		if err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("file destination %s given twice", f.Dst)
		}
		seen[p] = true
	}
	for _, l := range s.Symlinks {
		p, err := imagePath(l.Link)
		if err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("symlink %s: the path is given twice", l.Link)
		}
		seen[p] = true
	}
	for _, e := range s.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return fmt.Errorf("env %q: want KEY=VALUE", e)
		}
	}
	return nil
}

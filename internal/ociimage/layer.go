package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// layerWriter writes one deterministic layer tarball and applies file capabilities.
type layerWriter struct {
	tw    *tar.Writer
	epoch time.Time
	caps  map[string][]byte // layer entry name -> vfs_cap_data
	used  map[string]bool
}

func (w *layerWriter) write(h *tar.Header, content io.Reader) error {
	h.ModTime, h.AccessTime, h.ChangeTime = w.epoch, time.Time{}, time.Time{}
	h.Uname, h.Gname = "", ""
	h.Format = tar.FormatPAX
	name := strings.TrimSuffix(h.Name, "/")
	if c, ok := w.caps[name]; ok {
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("file capabilities on /%s: not a regular file", name)
		}
		h.PAXRecords = map[string]string{xattrCapRecord: string(c)}
		w.used[name] = true
	}
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("layer entry %s: %w", h.Name, err)
	}
	if content != nil {
		if n, err := io.Copy(w.tw, content); err != nil {
			return fmt.Errorf("layer entry %s: %w", h.Name, err)
		} else if n != h.Size {
			return fmt.Errorf("layer entry %s: size changed while reading (%d of %d bytes)", h.Name, n, h.Size)
		}
	}
	return nil
}

// skipped reports whether a root filesystem path is left out: runtimes mount these.
func skipped(rel string) bool {
	for _, d := range []string{"dev/", "proc/", "sys/"} {
		if strings.HasPrefix(rel, d) {
			return true
		}
	}
	return false
}

// rootfsLayer tars a root filesystem directory. filepath.WalkDir visits entries in
// lexical order, which makes the layer deterministic.
func rootfsLayer(w *layerWriter, root string) error {
	links := map[[2]uint64]string{} // (dev, inode) -> first name, for hard links
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skipped(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm())}
		if fi.Mode()&fs.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		}
		switch {
		case fi.Mode().IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
			return w.write(h, nil)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
			return w.write(h, nil)
		case fi.Mode()&fs.ModeNamedPipe != 0:
			h.Typeflag = tar.TypeFifo
			return w.write(h, nil)
		case fi.Mode().IsRegular():
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, ok := links[key]; ok {
					h.Typeflag, h.Linkname = tar.TypeLink, first
					return w.write(h, nil)
				}
				links[key] = rel
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
			return w.write(h, f)
		default: // devices, sockets
			return nil
		}
	})
}

// filesLayer tars the extra files and the parent directories they need. A parent
// that exists in the root filesystem is written with the same metadata, so the upper
// layer changes nothing about it; one that is not a directory there is an error.
func filesLayer(w *layerWriter, root string, files []File, links []Symlink) error {
	type item struct {
		name string
		file *File
		link *Symlink
	}
	var items []item
	dirs := map[string]bool{}
	add := func(it item) {
		items = append(items, it)
		for d := path.Dir(it.name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for i := range files {
		name, _ := imagePath(files[i].Dst)
		add(item{name: name, file: &files[i]})
	}
	for i := range links {
		name, _ := imagePath(links[i].Link)
		add(item{name: name, link: &links[i]})
	}
	for d := range dirs {
		items = append(items, item{name: d})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
	for _, it := range items {
		if it.link != nil {
			h := &tar.Header{Typeflag: tar.TypeSymlink, Name: it.name, Linkname: it.link.Target, Mode: 0o777}
			if err := w.write(h, nil); err != nil {
				return err
			}
			continue
		}
		if it.file == nil {
			h := &tar.Header{Typeflag: tar.TypeDir, Name: it.name + "/", Mode: 0o755}
			if root != "" {
				fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(it.name)))
				switch {
				case err == nil && !fi.IsDir():
					return fmt.Errorf("/%s is not a directory in the root filesystem (%s); give the file's real path", it.name, fi.Mode().Type())
				case err == nil:
					h.Mode = int64(fi.Mode().Perm())
					if st, ok := fi.Sys().(*syscall.Stat_t); ok {
						h.Uid, h.Gid = int(st.Uid), int(st.Gid)
					}
				case !os.IsNotExist(err):
					return err
				}
			}
			if err := w.write(h, nil); err != nil {
				return err
			}
			continue
		}
		f := it.file
		fi, err := os.Stat(f.Src)
		if err != nil {
			return fmt.Errorf("file for %s: %w", f.Dst, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("file for %s: %s is not a regular file", f.Dst, f.Src)
		}
		mode := f.Mode
		if mode == 0 {
			mode = fi.Mode().Perm()
		}
		content, err := os.ReadFile(f.Src)
		if err != nil {
			return fmt.Errorf("file for %s: %w", f.Dst, err)
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: it.name, Mode: int64(mode), Size: int64(len(content))}
		if err := w.write(h, bytes.NewReader(content)); err != nil {
			return err
		}
	}
	return nil
}

package apply

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// pidFile records the main nghttpx process, so a later Start can end one that an
// earlier, crashed supervisor left behind.
const pidFile = "nghttpx.pid"

// reserved reports whether the applier writes name itself.
func reserved(name string) bool {
	switch name {
	case render.MainFile, render.BackendFile, render.RouteTableFile, render.RouteVersionFile, render.RouteGenFile, pidFile:
		return true
	}
	return name == render.RouteShardDir || strings.HasPrefix(name, render.RouteShardDir+"/")
}

// validate rejects configs the applier cannot write or nghttpx cannot run.
func validate(cfg *render.Config) error {
	if len(cfg.Main) == 0 {
		return errors.New("empty main configuration")
	}
	if _, err := apiAddr(cfg.Main); err != nil {
		return err
	}
	for name := range cfg.Files {
		if name == "" || !filepath.IsLocal(name) || filepath.Clean(name) != name {
			return fmt.Errorf("file name %q must be a clean path inside the state directory", name)
		}
		if reserved(name) {
			return fmt.Errorf("file name %q is reserved", name)
		}
	}
	keys := map[string]bool{}
	lines := 0
	for _, g := range cfg.Backends {
		if keys[g.Key] {
			return fmt.Errorf("backend group %q appears twice", g.Key)
		}
		keys[g.Key] = true
		for _, l := range g.Lines {
			if strings.ContainsAny(l, "\n\r") {
				return fmt.Errorf("backend group %q: line %q contains a newline", g.Key, l)
			}
			lines++
		}
	}
	if lines == 0 {
		// nghttpx would fall back to its default backend 127.0.0.1,80.
		return errors.New("no backend lines")
	}
	return nil
}

// secret reports whether a file holds key material and must be 0600: names with
// "key" or "secret" in them (tls-<hash>.key, quic-secret, ticket keys).
func secret(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	return strings.Contains(base, "key") || strings.Contains(base, "secret")
}

func fileMode(name string) fs.FileMode {
	if secret(name) {
		return 0o600
	}
	return 0o644
}

// writeAtomic replaces dir/name with data: readers see the old or the new content,
// never a mix.
func writeAtomic(dir, name string, data []byte, mode fs.FileMode) error {
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", name, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("temporary name for %s: %w", name, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", name, err)
	}
	return nil
}

// writeFiles writes the named Files of cfg.
func writeFiles(dir string, cfg *render.Config, names []string) error {
	for _, n := range names {
		if err := writeAtomic(dir, n, cfg.Files[n], fileMode(n)); err != nil {
			return err
		}
	}
	return nil
}

// writeRoutes writes the route table's shards that are not on disk yet (their
// names are digests of their content), then the table, then its version, then
// bumps the generation counter: a router that sees a new version or counter
// always finds the new table and every shard it names.
func writeRoutes(dir string, cfg *render.Config) error {
	for _, n := range slices.Sorted(maps.Keys(cfg.RouteShards)) {
		f := render.RouteShardFile(n)
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			continue
		}
		if err := writeAtomic(dir, f, cfg.RouteShards[n], 0o644); err != nil {
			return err
		}
	}
	if err := writeAtomic(dir, render.RouteTableFile, cfg.RouteTable, 0o644); err != nil {
		return err
	}
	if err := writeAtomic(dir, render.RouteVersionFile, cfg.RouteVersion(), 0o644); err != nil {
		return err
	}
	return bumpGen(dir)
}

// removeShards deletes the files in render.RouteShardDir that none of keep
// names: routers that have not seen the newest table yet still find the
// shards of the one before, when keep holds both.
func removeShards(dir string, keep ...*render.Config) error {
	ents, err := os.ReadDir(filepath.Join(dir, render.RouteShardDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var stale []string
	for _, e := range ents {
		used := false
		for _, c := range keep {
			if c != nil {
				if _, in := c.RouteShards[e.Name()]; in {
					used = true
				}
			}
		}
		// Leftover temporary files (a crash during writeAtomic) go too.
		if !used && !e.IsDir() {
			stale = append(stale, filepath.Join(render.RouteShardDir, e.Name()))
		}
	}
	return removeFiles(dir, stale)
}

// bumpGen adds one to the 8-byte little-endian counter in render.RouteGenFile,
// in place: nghttpx maps the file (Nghttpx.mapped_word), so it is never
// renamed over or truncated, and a router sees the write on its next request.
func bumpGen(dir string) error {
	path := filepath.Join(dir, render.RouteGenFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", render.RouteGenFile, err)
	}
	var b [8]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return fmt.Errorf("read %s: %w", render.RouteGenFile, err)
	}
	var v uint64
	if n == len(b) {
		v = binary.LittleEndian.Uint64(b[:])
	}
	// The routers see the low 62 bits; skip 0, the value of a fresh file.
	v = (v + 1) & (1<<62 - 1)
	if v == 0 {
		v = 1
	}
	binary.LittleEndian.PutUint64(b[:], v)
	_, werr := f.WriteAt(b[:], 0)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", render.RouteGenFile, err)
	}
	return nil
}

func writeBackends(dir string, groups []render.BackendGroup) error {
	return writeAtomic(dir, render.BackendFile, render.BackendConf(groups), 0o644)
}

// writeAll writes a complete config: files, backends, routes and main last.
func writeAll(dir string, cfg *render.Config, backends []render.BackendGroup) error {
	names := make([]string, 0, len(cfg.Files))
	for n := range cfg.Files {
		names = append(names, n)
	}
	if err := writeFiles(dir, cfg, names); err != nil {
		return err
	}
	if err := writeBackends(dir, backends); err != nil {
		return err
	}
	if err := writeRoutes(dir, cfg); err != nil {
		return err
	}
	return writeAtomic(dir, render.MainFile, cfg.Main, 0o644)
}

// removeFiles deletes Files a config no longer uses; missing ones are fine.
func removeFiles(dir string, names []string) error {
	var errs []error
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func clone(cfg *render.Config) *render.Config {
	out := &render.Config{
		Main:       append([]byte(nil), cfg.Main...),
		RouteTable: append([]byte(nil), cfg.RouteTable...),
		// Shard contents never change under a name: sharing them is safe.
		RouteShards: maps.Clone(cfg.RouteShards),
		Files:       make(map[string][]byte, len(cfg.Files)),
		Backends:    make([]render.BackendGroup, len(cfg.Backends)),
	}
	for k, v := range cfg.Files {
		out.Files[k] = append([]byte(nil), v...)
	}
	for i, g := range cfg.Backends {
		out.Backends[i] = render.BackendGroup{Key: g.Key, Lines: append([]string(nil), g.Lines...)}
	}
	return out
}

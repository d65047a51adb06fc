package podrunner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// mountPoints creates missing bind-mount targets on the host file system and removes
// them again when no container uses them. Containers run in private mount
// namespaces, so only the empty targets ever appear on the host.
type mountPoints struct {
	mu      sync.Mutex
	refs    map[string]int
	created map[string]bool // paths we made, removed once no target needs them
}

func newMountPoints() *mountPoints {
	return &mountPoints{refs: map[string]int{}, created: map[string]bool{}}
}

func (m *mountPoints) acquire(mt mount) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var missing []string
	for p := mt.dst; p != "/" && p != "."; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		var err error
		if i == 0 && mt.file {
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
				err = f.Close()
			}
		} else {
			err = os.Mkdir(p, 0o755)
		}
		if err != nil {
			m.sweep()
			return err
		}
		m.created[p] = true
	}
	m.refs[mt.dst]++
	return nil
}

func (m *mountPoints) release(dst string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs[dst] == 0 {
		return
	}
	m.refs[dst]--
	if m.refs[dst] == 0 {
		delete(m.refs, dst)
		m.sweep()
	}
}

// sweep removes created paths that no current target lies in, deepest first;
// os.Remove refuses non-empty directories, so nothing someone else put there is lost.
func (m *mountPoints) sweep() {
	paths := make([]string, 0, len(m.created))
	for p := range m.created {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		inUse := false
		for d := range m.refs {
			if d == p || strings.HasPrefix(d, p+"/") {
				inUse = true
				break
			}
		}
		if inUse {
			continue
		}
		if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			delete(m.created, p)
		}
	}
}

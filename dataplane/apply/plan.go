package apply

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// plan is what it takes to go from one config to the next.
type plan struct {
	// writeFiles are the Files that are new or whose content changed, sorted.
	writeFiles []string
	// staleFiles are the Files of the old config that the new one dropped, sorted.
	staleFiles []string
	// removeFirst are stale files that must be gone before the reload.
	removeFirst []string
	// reload: Main, or a file Main references, changed (SIGHUP). reasons say which.
	reload  bool
	reasons []string
	// pre: groups were added; post union (new groups plus those being removed)
	// before the route table changes, so no route points at a missing group.
	pre   bool
	union []render.BackendGroup
	// routes: the route table changed.
	routes bool
	// post: groups were removed or changed (or a file their lines name changed)
	// and pre did not already install the final set.
	post bool
	// backends: the backend set differs at all (backends.conf must be rewritten).
	backends bool
}

func (p plan) empty() bool {
	return len(p.writeFiles) == 0 && len(p.staleFiles) == 0 && !p.reload && !p.pre && !p.routes && !p.post && !p.backends
}

func (p plan) String() string {
	var parts []string
	if p.reload {
		parts = append(parts, "reload ("+strings.Join(p.reasons, "; ")+")")
	}
	if p.pre {
		parts = append(parts, "add backend groups")
	}
	if p.routes {
		parts = append(parts, "route table")
	}
	if p.post {
		parts = append(parts, "final backend groups")
	}
	if len(p.writeFiles) > 0 {
		parts = append(parts, fmt.Sprintf("%d files", len(p.writeFiles)))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// makePlan diffs old (the last applied config) against next. stateDir resolves the
// absolute paths inside configuration lines to File names.
func makePlan(old, next *render.Config, stateDir string) plan {
	var p plan
	for _, name := range slices.Sorted(maps.Keys(next.Files)) {
		if prev, ok := old.Files[name]; !ok || !bytes.Equal(prev, next.Files[name]) {
			p.writeFiles = append(p.writeFiles, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old.Files)) {
		if _, ok := next.Files[name]; !ok {
			p.staleFiles = append(p.staleFiles, name)
		}
	}

	if !bytes.Equal(old.Main, next.Main) {
		p.reload = true
		p.reasons = append(p.reasons, "main configuration changed")
	}
	mainRefs := references(strings.Split(string(next.Main), "\n"), stateDir)
	var backendLines []string
	for _, g := range next.Backends {
		backendLines = append(backendLines, g.Lines...)
	}
	backendRefs := references(backendLines, stateDir)
	filesChangedForBackends := false
	// A new file counts too: Main may name a file that did not exist before (nghttpx
	// ignores a missing QUIC secret file, for example).
	for _, name := range p.writeFiles {
		if mainRefs.has(name) {
			p.reload = true
			p.reasons = append(p.reasons, "file "+name+" changed")
		}
		if backendRefs.has(name) {
			filesChangedForBackends = true
		}
	}
	// A side file that went away (an OCSP response no longer stapled) next to a
	// file Main still names: nghttpx keeps what it read until it reloads, and
	// must not find the file when it does.
	for _, name := range p.staleFiles {
		if mainRefs.has(name) && !mainRefs[name] {
			p.reload = true
			p.reasons = append(p.reasons, "file "+name+" removed")
			p.removeFirst = append(p.removeFirst, name)
		}
	}

	oldGroups := map[string][]string{}
	for _, g := range old.Backends {
		oldGroups[g.Key] = g.Lines
	}
	newKeys := map[string]bool{}
	var added, changed bool
	for _, g := range next.Backends {
		newKeys[g.Key] = true
		prev, ok := oldGroups[g.Key]
		switch {
		case !ok:
			added = true
		case !slices.Equal(prev, g.Lines):
			changed = true
		}
	}
	var removed []render.BackendGroup
	for _, g := range old.Backends {
		if !newKeys[g.Key] {
			removed = append(removed, g)
		}
	}
	p.backends = added || changed || len(removed) > 0 || !sameOrder(old.Backends, next.Backends)
	p.pre = added
	if added {
		p.union = append(slices.Clone(next.Backends), removed...)
	}
	p.post = len(removed) > 0 || (!added && (changed || filesChangedForBackends))
	// A reordering alone does not change routing, but keep backends.conf exact.
	if p.backends && !p.pre && !p.post {
		p.post = true
	}
	p.routes = !bytes.Equal(old.RouteTable, next.RouteTable)
	return p
}

func sameOrder(a, b []render.BackendGroup) bool {
	return slices.EqualFunc(a, b, func(x, y render.BackendGroup) bool {
		return x.Key == y.Key && slices.Equal(x.Lines, y.Lines)
	})
}

// refs is the set of File names that configuration lines name.
type refs map[string]bool

// has reports whether name, or the file it sits next to (name = ref + ".suffix",
// e.g. an OCSP response next to its certificate), is referenced.
func (r refs) has(name string) bool {
	if r[name] {
		return true
	}
	for ref := range r {
		if strings.HasPrefix(name, ref+".") {
			return true
		}
	}
	return false
}

// references collects the state-directory files named in option lines: values are
// split at the separators nghttpx uses (';' between parameters, ',' and ':' inside
// them) and at '=' (parameter values such as mruby=PATH).
func references(lines []string, stateDir string) refs {
	out := refs{}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		_, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		for _, tok := range strings.FieldsFunc(value, func(r rune) bool { return r == ';' || r == ',' || r == ':' }) {
			if i := strings.LastIndexByte(tok, '='); i >= 0 {
				tok = tok[i+1:]
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if filepath.IsAbs(tok) {
				rel, err := filepath.Rel(stateDir, filepath.Clean(tok))
				if err != nil || !filepath.IsLocal(rel) {
					continue
				}
				tok = rel
			}
			out[filepath.ToSlash(filepath.Clean(tok))] = true
		}
	}
	return out
}

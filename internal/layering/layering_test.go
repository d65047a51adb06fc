package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/nghttpx-gateway/nghttpx-gateway/"

// stages from the bottom up; each entry is a package path (or a path prefix
// ending in "/") relative to the module. Every package of the module must have
// exactly one stage, so a new package needs a decision here.
var stages = []struct {
	name  string
	pkgs  []string
	pure  bool // no I/O: see impure
	notes string
}{
	{"leaf", []string{"model", "internal/proc", "internal/recheck", "internal/selfsigned", "internal/golden",
		"internal/ocsptest", "internal/ociimage", "internal/memlimit", "internal/cpulimit", "dataplane/keys", "dataplane/nghttpx", "dataplane/accesslog"}, false,
		"no imports of the module, except proc and nghttpx which others build on"},
	{"validate", []string{"dataplane/validate"}, true, "what nghttpx can carry; the translator checks with it"},
	{"load", []string{"load"}, true, "objects from YAML (or a cache, in kube/source) into one input bag"},
	{"translate", []string{"gateway/translate", "ingressshim"}, true, "objects -> model + status"},
	{"render", []string{"dataplane/render", "dataplane/settings"}, true, "model -> nghttpx files"},
	{"pipeline", []string{"pipeline"}, true, "the pure stages chained"},
	{"instance", []string{"dataplane/apply", "dataplane/instance", "dataplane/mirror", "dataplane/features"}, false,
		"side effects: nghttpx processes, ports, the mirror tee, feature probes"},
	{"roles", []string{"standalone", "kube/"}, false, "where objects come from and what happens to the result"},
	{"cmd", []string{"cmd/"}, false, "binaries"},
	{"harness", []string{"e2e/", "conformance", "bench", "hack/", "config", "internal/testenv", "internal/layering", "internal/doccheck", "dataplane/livetest", "dataplane/faults",
		"cmd/localcluster", "cmd/imagebuild"}, false, "tests and their tools; nothing below imports them"},
}

// impure are the standard packages a pure stage must not import directly:
// network, files, processes, randomness.
var impure = []string{"net", "net/http", "os", "os/exec", "syscall", "math/rand", "math/rand/v2", "crypto/rand", "io/ioutil"}

func stageOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(pkg, module)
	found, best := -1, -1
	for i, s := range stages {
		for _, p := range s.pkgs {
			match := rel == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p))
			if match && len(p) > best {
				found, best = i, len(p)
			}
		}
	}
	return found, found >= 0
}

type listed struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// list runs go list -deps over the module (no build tags: tagged test files
// are test code, which these rules do not cover).
func list(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Standard", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestStagesImportDownward(t *testing.T) {
	for i, s := range stages {
		t.Logf("stage %d %s: %s", i, s.name, s.notes)
	}
	n := 0
	for _, p := range list(t) {
		if !strings.HasPrefix(p.ImportPath, module) {
			continue
		}
		n++
		from, ok := stageOf(p.ImportPath)
		if !ok {
			t.Errorf("%s has no stage: add it to stages in this test and to docs/architecture.md", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				if stages[from].pure && slices.Contains(impure, imp) {
					t.Errorf("%s (stage %s, pure) imports %s: side effects belong to the instance layer or above",
						p.ImportPath, stages[from].name, imp)
				}
				continue
			}
			to, ok := stageOf(imp)
			if ok && to > from {
				t.Errorf("%s (stage %s) imports %s (stage %s, higher): move the code, or pass a value down instead of calling up",
					p.ImportPath, stages[from].name, imp, stages[to].name)
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d packages of the module listed", n)
	}
}

// The rule bites: an import from a lower stage to a higher one is found.
func TestStageOrder(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"pipeline", "dataplane/render", true},
		{"dataplane/render", "pipeline", false},
		{"gateway/translate", "dataplane/instance", false},
		{"load", "gateway/translate", false},
		{"gateway/translate", "load", true},
		{"kube/proxyagent", "dataplane/instance", true},
		{"dataplane/instance", "standalone", false},
		{"kube/provision", "dataplane/settings", true},
		{"ingressshim", "gateway/translate", true},
	} {
		f, ok1 := stageOf(module + c.from)
		to, ok2 := stageOf(module + c.to)
		if !ok1 || !ok2 || (to <= f) != c.ok {
			t.Errorf("%s -> %s: allowed %v, want %v", c.from, c.to, to <= f, c.ok)
		}
	}
}

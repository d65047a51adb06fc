package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder keeps Check's failures instead of failing the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }

// fails reports whether Check(path, got) fails.
func fails(t *testing.T, path, got string) bool {
	r := &recorder{TB: t}
	Check(r, path, []byte(got))
	return r.failed
}

func TestCheckComparesAndWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.out")
	if err := os.WriteFile(path, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fails(t, path, "a\n") {
		t.Error("equal content reported as different")
	}
	if !fails(t, path, "b\n") {
		t.Error("different content not reported")
	}
	if !fails(t, path+".missing", "a\n") {
		t.Error("missing golden file not reported")
	}
	defer func(old bool) { *Update = old }(*Update)
	*Update = true
	if fails(t, path, "b\n") {
		t.Error("-update failed to write")
	}
	if got, _ := os.ReadFile(path); string(got) != "b\n" {
		t.Errorf("-update wrote %q, want %q", got, "b\n")
	}
}

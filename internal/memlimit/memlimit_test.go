package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestFromCgroup(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	defer debug.SetMemoryLimit(math.MaxInt64)
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	if got := FromCgroup(write("268435456\n")); got != 241591910 {
		t.Errorf("256 MiB limit: soft limit %d, want 241591910 (90%%)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 241591910 {
		t.Errorf("runtime soft limit is %d after FromCgroup, want 241591910", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	for _, c := range []string{"max\n", "", "garbage"} {
		if got := FromCgroup(write(c)); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			t.Errorf("memory.max %q: set %d, want nothing set", c, got)
		}
	}
	if got := FromCgroup(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("missing file: set %d", got)
	}
	t.Setenv("GOMEMLIMIT", "100MiB")
	if got := FromCgroup(write("268435456")); got != 0 {
		t.Errorf("GOMEMLIMIT set: FromCgroup set %d, want it left alone", got)
	}
}

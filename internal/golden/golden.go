package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

// Update makes golden tests rewrite their expected files instead of comparing with them.
var Update = flag.Bool("update", false, "rewrite the golden files (make golden) instead of comparing with them")

// Check compares got with the file at path; under -update it writes got to path instead.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run make golden, or go test -update in this package)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run make golden and review the diff):\n--- got\n%s", path, got)
	}
}

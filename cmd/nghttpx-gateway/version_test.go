package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The version make release stamps with -ldflags -X main.version is what both
// `version` and `--version` print.
func TestVersionStamped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "nghttpx-gateway")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version", "-version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "nghttpx-gateway v9.8.7-test" {
			t.Errorf("nghttpx-gateway %s: %q, %v; want \"nghttpx-gateway v9.8.7-test\"", arg, out, err)
		}
	}
}

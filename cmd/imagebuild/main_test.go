package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunPrintsResultAndPathLast(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(bin, []byte("static binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pause.tar")
	var stdout bytes.Buffer
	args := []string{"--file", bin + ":/pause:0755", "--entrypoint", "/pause", "--ref", "registry.k8s.io/pause:3.10", "--out", out, "--epoch", "0"}
	if err := run(args, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 5 || lines[4] != out || lines[0] != "reference registry.k8s.io/pause:3.10" ||
		!strings.HasPrefix(lines[1], "digest sha256:") || !strings.HasPrefix(lines[2], "id sha256:") || !strings.HasPrefix(lines[3], "size ") {
		t.Errorf("output:\n%s", stdout.String())
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
	if err := run([]string{"--file", bin + ":/pause"}, io.Discard, io.Discard); err == nil {
		t.Error("missing --ref/--out accepted")
	}
}

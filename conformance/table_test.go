package conformance

import (
	"os"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
)

const (
	reportPath = "conformance/reports/v1.6.3-nghttpx-gateway-report.yaml"
	tableBegin = "<!-- conformance table: generated from the report by go test ./conformance -update -->\n"
	tableEnd   = "<!-- end of conformance table -->\n"
	readmePath = "../README.md"
)

// TestReadmeTable keeps the README's conformance table equal to the committed report.
func TestReadmeTable(t *testing.T) {
	table, err := ReadmeTable("../" + reportPath)
	if err != nil {
		t.Fatal(err)
	}
	table = strings.ReplaceAll(table, "../"+reportPath, reportPath)
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the conformance table markers %q ... %q", tableBegin, tableEnd)
	}
	want := s[:i+len(tableBegin)] + table + s[j:]
	if *golden.Update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != s {
		t.Errorf("README.md's conformance table differs from %s: run make golden (or go test ./conformance -update)", reportPath)
	}
}

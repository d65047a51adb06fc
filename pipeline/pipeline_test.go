package pipeline

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden runs whole pipeline cases, objects in, status and nghttpx files out,
// through the same code path as `nghttpx-gateway translate`.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, inPath := range ins {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			in, err := gateway.DecodeYAML(data)
			if err != nil {
				t.Fatal(err)
			}
			out := Build(in, Options{
				Gateway:  gateway.Options{DefaultAddress: "127.0.0.1", Now: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
				Render:   render.Options{APIPort: 15000},
				StateDir: "/var/run/nghttpx-gateway",
			})
			got, err := out.YAML()
			if err != nil {
				t.Fatal(err)
			}
			outPath := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("output differs from %s; run go test ./pipeline -update and review the diff.\n got:\n%s", outPath, got)
			}
		})
	}
}

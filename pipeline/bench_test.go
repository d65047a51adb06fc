package pipeline

import (
	"fmt"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// BenchmarkBuild measures translation plus rendering for growing route counts;
// `make bench` records the results in bench/results.md.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		in := SyntheticInput(n, n/10+1, 3, 8080, 19001)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := Build(in, Options{Gateway: translate.Options{DefaultAddress: "127.0.0.1"}, Render: render.Options{APIPort: 15000}, StateDir: "/tmp/bench"})
				if len(out.Gateways) != 1 || out.Gateways[0].Err != nil {
					b.Fatalf("unexpected output: %+v", out.Gateways)
				}
			}
		})
	}
}

// BenchmarkTranslate isolates the gateway stage.
func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		in := SyntheticInput(n, n/10+1, 3, 8080, 19001)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res := translate.Translate(in, translate.Options{DefaultAddress: "127.0.0.1"}); len(res.Models) != 1 {
					b.Fatal("no model")
				}
			}
		})
	}
}

package translate

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// The quickstart objects must decode and translate to accepted objects.
func TestQuickstartTranslates(t *testing.T) {
	files, err := filepath.Glob("../../examples/quickstart/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no quickstart files: %v", err)
	}
	var all load.Input
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := load.DecodeYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all.Append(in)
	}
	res := Translate(&all, Options{DefaultAddress: "127.0.0.1"})
	if len(res.Gateways) == 0 || len(res.Models) != len(res.Gateways) {
		t.Fatalf("%d gateways, %d models", len(res.Gateways), len(res.Models))
	}
	for _, g := range res.Gateways {
		c := meta.FindStatusCondition(g.Status.Conditions, "Accepted")
		if c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("Gateway %s: Accepted = %+v", g.Name, c)
		}
		// Options.Now was not set: the epoch, never the clock.
		if c.LastTransitionTime.Unix() != 0 {
			t.Errorf("Gateway %s: lastTransitionTime %v; want the epoch", g.Name, c.LastTransitionTime)
		}
	}
	for _, r := range res.HTTPRoutes {
		for _, p := range r.Status.Parents {
			if c := meta.FindStatusCondition(p.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("HTTPRoute %s: Accepted = %+v", r.Name, c)
			}
		}
	}
}

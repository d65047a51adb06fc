package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
)

const chart = "../../charts/nghttpx-gateway"

// The committed README carries the table values.yaml gives today.
func TestREADMEIsCurrent(t *testing.T) {
	got, err := readme(chart)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join(chart, "README.md"), got)
}

func TestValuesTable(t *testing.T) {
	got, err := valuesTable([]byte(`# file comment

section:
  # -- First line
  # and a second | with a pipe.
  a: 1
  # plain comment
  # -- Object value.
  b: {x: [1, 2]}
# -- Top.
top: ""
`))
	if err != nil {
		t.Fatal(err)
	}
	want := "| Key | Type | Default | Description |\n|---|---|---|---|\n" +
		"| `section.a` | int | `1` | First line and a second \\| with a pipe. |\n" +
		"| `section.b` | object | `{\"x\":[1,2]}` | Object value. |\n" +
		"| `top` | string | `\"\"` | Top. |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := valuesTable([]byte("undocumented: 1\n")); err == nil || !strings.Contains(err.Error(), "undocumented") {
		t.Errorf("an undocumented value: err %v, want one naming it", err)
	}
}

package ociimage

import (
	"io"
	"reflect"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseArgs(t *testing.T) {
	lines, err := SpecArgs("# comment\n\n--file=${BIN}/proxy:/usr/local/bin/proxy:0755\n--entrypoint=[\"/a\",\"b c\"]\n--cmd=x\n", env(map[string]string{"BIN": "/tmp/b"}))
	if err != nil {
		t.Fatal(err)
	}
	args := append(lines, "--ref=r:t", "--out=o.tar", "--user=65532", "--env=A=B", "--label=k=v=w", "--cap=/usr/local/bin/proxy=cap_bpf+ep", "--symlink=/usr/local/bin/proxy:/legacy")
	f, err := ParseArgs("t", args, env(map[string]string{"SOURCE_DATE_EPOCH": "42"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Files:      []File{{Src: "/tmp/b/proxy", Dst: "/usr/local/bin/proxy", Mode: 0o755}},
		Symlinks:   []Symlink{{Target: "/usr/local/bin/proxy", Link: "/legacy"}},
		Caps:       map[string]string{"/usr/local/bin/proxy": "cap_bpf+ep"},
		User:       "65532",
		Entrypoint: []string{"/a", "b c"},
		Cmd:        []string{"x"},
		Env:        []string{"A=B"},
		Labels:     map[string]string{"k": "v=w"},
		Epoch:      time.Unix(42, 0).UTC(),
		Arch:       "amd64",
	}
	if !reflect.DeepEqual(f.Spec, want) || f.Ref != "r:t" || f.Out != "o.tar" {
		t.Errorf("got %+v ref %q out %q\nwant %+v", f.Spec, f.Ref, f.Out, want)
	}
}

func TestParseArgsRejects(t *testing.T) {
	if _, err := SpecArgs("--file=${UNSET}/x:/x\n", env(nil)); err == nil {
		t.Error("unset variable accepted")
	}
	for _, a := range []string{"--file=a", "--file=a:/b:999", "--cap=/x", "--label==v", "--epoch=soon", "--entrypoint=[1]", "--symlink=/x", "--symlink=:/x", "stray"} {
		if _, err := ParseArgs("t", []string{a}, env(nil), io.Discard); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
	if _, err := ParseArgs("t", nil, env(map[string]string{"SOURCE_DATE_EPOCH": "x"}), io.Discard); err == nil {
		t.Error("bad SOURCE_DATE_EPOCH accepted")
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func parseLogFlags(t *testing.T, args ...string) (*logFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var lf logFlags
	lf.register(fs)
	return &lf, fs.Parse(args)
}

func TestVerbosityFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want verbosity
	}{{nil, 0}, {[]string{"-v"}, maxVerbosity}, {[]string{"--v=2"}, 2}, {[]string{"-v=0"}, 0},
		{[]string{"-v=true"}, maxVerbosity}, {[]string{"--v=false"}, 0},
		{[]string{"--v", "3"}, maxVerbosity}} { // a boolean flag: "3" ends the flags
		lf, err := parseLogFlags(t, c.args...)
		if err != nil || lf.v != c.want {
			t.Errorf("%v: v=%d err %v, want %d", c.args, lf.v, err, c.want)
		}
	}
	for _, bad := range []string{"--v=abc", "--v=-1", "--v=11"} {
		if _, err := parseLogFlags(t, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// --v=N enables logr's V(0)..V(N) and nothing above; json writes one object per line.
func TestLoggerLevelsAndFormat(t *testing.T) {
	lf, err := parseLogFlags(t, "--v=2", "--logging-format=json", "--vmodule=x=3")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, err := lf.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.V(2).Info("two")
	log.V(3).Info("three")
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		msgs = append(msgs, m["msg"].(string))
	}
	want := []string{"warning: --vmodule is accepted and ignored: logs are not buffered and -v applies to every file", "two"}
	if !slices.Equal(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
	if got := lf.args(); !slices.Equal(got, []string{"--v=2", "--logging-format=json"}) {
		t.Errorf("args for the data planes %v", got)
	}
	lf, _ = parseLogFlags(t, "--logging-format=xml")
	if _, err := lf.logger(io.Discard); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("--logging-format=xml: %v", err)
	}
}

// The original controller's manifests pass --v=2 and sometimes --logging-format.
func TestServeTakesKubernetesLoggingFlags(t *testing.T) {
	code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--v=2", "--logging-format=json", "--log-flush-frequency=5s")
	if code == 0 {
		t.Fatal("serve with a missing kubeconfig succeeded")
	}
	if strings.Contains(errOut, "invalid") || strings.Contains(errOut, "not defined") || !strings.Contains(errOut, `"msg":"warning: --log-flush-frequency`) {
		t.Errorf("stderr %q", errOut)
	}
}

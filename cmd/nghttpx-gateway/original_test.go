package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestOriginalArgs(t *testing.T) {
	for _, tc := range []struct {
		argv0 string
		args  []string
		want  []string
		ok    bool
	}{
		{"/nghttpx-ingress-controller", []string{"--healthz-port=11249"}, []string{"--healthz-port=11249"}, true},
		{"nghttpx-ingress-controller", nil, nil, true},
		// The original's manifests: args start with the program path.
		{"/usr/local/bin/nghttpx-gateway", []string{"/nghttpx-ingress-controller", "--v=2"}, []string{"--v=2"}, true},
		{"/nghttpx-ingress-controller", []string{"/nghttpx-ingress-controller", "--v=2"}, []string{"--v=2"}, true},
		// Flags and no command.
		{"nghttpx-gateway", []string{"--default-backend-service=default/be", "--v=2"}, []string{"--default-backend-service=default/be", "--v=2"}, true},
		{"nghttpx-gateway", []string{"-v"}, []string{"-v"}, true},
		// Our own commands, usage and version stay ours.
		{"nghttpx-gateway", []string{"serve", "--http3=false"}, nil, false},
		{"nghttpx-gateway", nil, nil, false},
		{"nghttpx-gateway", []string{"--help"}, nil, false},
		{"nghttpx-gateway", []string{"-h"}, nil, false},
		{"nghttpx-gateway", []string{"--version"}, nil, false},
	} {
		got, ok := originalArgs(tc.argv0, tc.args)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("originalArgs(%q, %q) = %q, %v; want %q, %v", tc.argv0, tc.args, got, ok, tc.want, tc.ok)
		}
	}
}

// flagDefaults reads the default of each flag from -h output ("" when none is shown).
func flagDefaults(t *testing.T, help string, names ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, n := range names {
		re := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(n) + `\b.*\n((?:    .*\n)*)`)
		m := re.FindStringSubmatch(help)
		if m == nil {
			t.Fatalf("-h shows no --%s:\n%s", n, help)
		}
		if d := regexp.MustCompile(`\(default ([^)]*)\)`).FindStringSubmatch(m[0]); d != nil {
			got[n] = d[1]
		} else {
			got[n] = ""
		}
	}
	return got
}

// wantOriginalDefaults are the original's defaults as -h prints them (a false
// boolean and a zero show none).
var wantOriginalDefaults = map[string]string{
	"internal-default-backend": "true", "http3": "", "leader-elect-resource-name": `"nghttpx-ingress-lb"`,
	"leader-election-id": `"nghttpx-ingress-lb"`, "nghttpx-secret": `"nghttpx-km"`, "quic-secret-period": "4h0m0s",
	"quic-key-rotation-period": "4h0m0s", "client-qps": "200", "client-burst": "300", "healthz-port": "11249",
	"profiling": "true", "health-addr": `"0"`, "metrics-addr": `"0"`, "ingress-data-plane": `"in-pod"`,
}

func flagNames(m map[string]string) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	return n
}

// Help under the original invocation shows the original's defaults; serve's
// own help is unchanged.
func TestOriginalDefaultsInHelp(t *testing.T) {
	var stderr bytes.Buffer
	if code := originalMain(context.Background(), []string{"--help"}, io.Discard, &stderr); code != 0 {
		t.Fatalf("--help: exit %d, want 0 as the original", code)
	}
	got := flagDefaults(t, stderr.String(), flagNames(wantOriginalDefaults)...)
	if !reflect.DeepEqual(got, wantOriginalDefaults) {
		t.Errorf("original invocation defaults\n got %v\nwant %v", got, wantOriginalDefaults)
	}
	if !strings.HasPrefix(stderr.String(), "Usage of nghttpx-ingress-controller:") {
		t.Errorf("usage names %.60q", stderr.String())
	}
	_, _, serveHelp := run(t, "serve", "-h")
	got = flagDefaults(t, serveHelp, "internal-default-backend", "http3", "leader-elect-resource-name", "healthz-port", "profiling", "health-addr")
	want := map[string]string{"internal-default-backend": "", "http3": "true", "leader-elect-resource-name": `"nghttpx-gateway-controller"`,
		"healthz-port": "", "profiling": "", "health-addr": `":8081"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serve defaults\n got %v\nwant %v", got, want)
	}
}

// Flags given on the command line win over the original's defaults.
func TestOriginalFlagsOverrideDefaults(t *testing.T) {
	var stderr bytes.Buffer
	code := originalMain(context.Background(), []string{"--kubeconfig=/nonexistent", "--http3", "--healthz-port=70000"}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "--healthz-port: 70000 is not a port number") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// --version stays ours (it is a flag, but not the original invocation).
func TestVersionFlag(t *testing.T) {
	if code, _, errOut := run(t, "--version"); code != 0 {
		t.Errorf("--version: exit %d, stderr %q", code, errOut)
	}
}

// The original's command-line syntax: flags after arguments that are not
// flags still count, "--v 2" is level 2, and "--" ends the flags.
func TestParseOriginal(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		v       verbosity
		http3   bool
		ns      string
		ignored []string
	}{
		{[]string{"--v", "2", "--http3"}, 2, true, "", nil},
		{[]string{"stray", "--watch-namespace", "apps", "-v"}, maxVerbosity, false, "apps", []string{"stray"}},
		{[]string{"--http3", "false", "--v=1"}, 1, true, "", []string{"false"}},
		{[]string{"--v=3", "--", "--http3", "x"}, 3, false, "", []string{"--http3", "x"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var lf logFlags
		lf.register(fs)
		http3 := fs.Bool("http3", false, "")
		var ing ingressFlags
		ing.register(fs, true)
		ignored, err := parseOriginal(fs, tc.args)
		if err != nil || lf.v != tc.v || *http3 != tc.http3 || ing.opts.WatchNamespace != tc.ns || !reflect.DeepEqual(ignored, tc.ignored) {
			t.Errorf("%q: v=%d http3=%v namespace=%q ignored=%q err=%v; want v=%d http3=%v namespace=%q ignored=%q",
				tc.args, lf.v, *http3, ing.opts.WatchNamespace, ignored, err, tc.v, tc.http3, tc.ns, tc.ignored)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseOriginal(fs, []string{"x", "--unknown"}); err == nil {
		t.Error("an unknown flag after an argument was accepted")
	}
}

// --deferred-shutdown-period must fit the data-plane pods' grace period.
func TestDeferredShutdownBound(t *testing.T) {
	code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--deferred-shutdown-period=2m")
	if code == 0 || !strings.Contains(errOut, "--deferred-shutdown-period 2m0s: at most 50s") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run(t, "serve", "--kubeconfig=/nonexistent", "--deferred-shutdown-period=-1s"); code == 0 ||
		!strings.Contains(errOut, "is negative") {
		t.Errorf("negative period: exit %d, stderr %q", code, errOut)
	}
}

// --ingress-data-plane: the original invocation runs nghttpx in its own pod;
// a bad value, or in-pod without the Ingress front-end, is refused before
// anything starts.
func TestIngressDataPlaneFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig=/nonexistent", "--ingress-data-plane=sidecar"}, `--ingress-data-plane "sidecar": want provisioned or in-pod`},
		{[]string{"--kubeconfig=/nonexistent", "--serve-ingress=false", "--nghttpx-secret="}, "--ingress-data-plane=in-pod needs the Ingress front-end"},
	} {
		var stderr bytes.Buffer
		if code := originalMain(context.Background(), tc.args, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	// The in-pod data plane's flags warn only where they mean nothing.
	var stderr bytes.Buffer
	originalMain(context.Background(), []string{"--kubeconfig=/nonexistent", "--nghttpx-conf-dir=/x", "--reload-rate=1"}, io.Discard, &stderr)
	if w := stderr.String(); strings.Contains(w, "--nghttpx-conf-dir is no longer supported") || !strings.Contains(w, "--reload-rate is no longer supported") {
		t.Errorf("warnings left in in-pod mode: %q", w)
	}
	if _, _, w := run(t, "serve", "--kubeconfig=/nonexistent", "--nghttpx-conf-dir=/x"); !strings.Contains(w, "--nghttpx-conf-dir is no longer supported") {
		t.Errorf("serve with provisioned data planes does not warn about --nghttpx-conf-dir: %q", w)
	}
}

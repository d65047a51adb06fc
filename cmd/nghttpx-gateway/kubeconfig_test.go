package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: from-file}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

// The original's client-go override flags are accepted and laid over the
// kubeconfig file, as clientcmd does there; without a kubeconfig they are
// refused with a message naming the flag.
func TestKubeconfigOverrideFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", "")
	parse := func(args ...string) *kubeFlags {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var kf kubeFlags
		kf.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return &kf
	}
	cfg, err := parse().restConfig(path, "ua")
	if err != nil || cfg.Host != "https://a.example:6443" || cfg.BearerToken != "from-file" {
		t.Fatalf("no overrides: %+v %v", cfg, err)
	}
	kf := parse("--context=ctx-b", "--token=t0k", "--as=bob", "--as-group=g1", "--as-group=g2", "--as-uid=42",
		"--request-timeout=7s", "--insecure-skip-tls-verify", "--tls-server-name=api.internal", "--disable-compression", "-n", "ignored")
	cfg, err = kf.restConfig(path, "ua")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://b.example:6443" || cfg.BearerToken != "t0k" || cfg.Impersonate.UserName != "bob" ||
		!slices.Equal(cfg.Impersonate.Groups, []string{"g1", "g2"}) || cfg.Impersonate.UID != "42" || cfg.Timeout != 7*time.Second ||
		!cfg.Insecure || cfg.ServerName != "api.internal" || !cfg.DisableCompression {
		t.Errorf("overrides not applied: host %s token %s impersonate %+v timeout %v insecure %v serverName %s noCompression %v",
			cfg.Host, cfg.BearerToken, cfg.Impersonate, cfg.Timeout, cfg.Insecure, cfg.ServerName, cfg.DisableCompression)
	}
	if cfg, err := parse("-s", "https://c.example:1").restConfig(path, "ua"); err != nil || cfg.Host != "https://c.example:1" {
		t.Errorf("-s: %v %v", cfg, err)
	}
	if _, err := parse("--token=x").restConfig("", "ua"); err == nil || !strings.Contains(err.Error(), "--token needs --kubeconfig") {
		t.Errorf("override without a kubeconfig: %v", err)
	}
}

// serve, also under the original invocation, takes all of them.
func TestServeTakesClientGoOverrideFlags(t *testing.T) {
	args := []string{"--kubeconfig=/nonexistent", "--server=https://x:6443", "-s", "https://x:6443", "--certificate-authority=/ca.pem",
		"--insecure-skip-tls-verify=false", "--tls-server-name=x", "--proxy-url=http://p:3128", "--disable-compression",
		"--client-certificate=/c.pem", "--client-key=/k.pem", "--token=t", "--username=u", "--password=p", "--as=a", "--as-group=g",
		"--as-uid=1", "--cluster=c", "--user=u", "--context=ctx", "--request-timeout=5s", "-n", "default"}
	code, _, errOut := run(t, append([]string{"serve"}, args...)...)
	if code == 0 || strings.Contains(errOut, "not defined") || !strings.Contains(errOut, "/nonexistent") {
		t.Errorf("serve: exit %d, stderr %q; want only the missing kubeconfig reported", code, errOut)
	}
	var stderr strings.Builder
	if code := originalMain(t.Context(), args, io.Discard, &stderr); code != 1 || strings.Contains(stderr.String(), "not defined") ||
		!strings.Contains(stderr.String(), "/nonexistent") {
		t.Errorf("original invocation: exit %d, stderr %q", code, stderr.String())
	}
}

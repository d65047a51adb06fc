//go:build integration

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// TestOriginalInvocationLive runs the built binary as the original's image does:
// under the name nghttpx-ingress-controller (a symlink, as /nghttpx-ingress-controller
// in our image), with the program path as its first argument, and with flags
// only. Each takes serve's path with the original's defaults.
func TestOriginalInvocationLive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nghttpx-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	link := filepath.Join(dir, originalProgramName)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{link, "--help"}, {bin, "/" + originalProgramName, "--help"}} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", argv, err, out)
		}
		if got := flagDefaults(t, string(out), flagNames(wantOriginalDefaults)...); !reflect.DeepEqual(got, wantOriginalDefaults) {
			t.Errorf("%q defaults\n got %v\nwant %v", argv, got, wantOriginalDefaults)
		}
	}
	// Our own name without a command still prints our usage.
	if out, _ := exec.Command(bin).CombinedOutput(); !strings.Contains(string(out), "Usage: nghttpx-gateway COMMAND") {
		t.Errorf("nghttpx-gateway alone:\n%s", out)
	}

	// An API server address where nothing listens.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	api := "https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+api+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	// Flags only, and the original's flags as its examples pass them.
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--healthz-host=127.0.0.1", "--healthz-port="+strconv.Itoa(testenv.FreePort(t)),
		"--default-backend-service=kube-system/default-http-backend", "--nghttpx-conf-dir=/tmp", "--v=0")
	cmd.Env = append(os.Environ(), "POD_NAMESPACE=kube-system", "POD_NAME=nghttpx-ingress-controller-0")
	cmd.Stderr = &stderr
	// As the original (which reads its Pod first), it exits when the API
	// server cannot be reached; the health port is tested in kube/healthport.
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("flags only, no API server: %v, want exit 1 naming the API server\n%s", err, stderr.String())
	}
	log := stderr.String()
	for _, want := range []string{`running as the original nghttpx-ingress-controller: the original's defaults apply where no flag is given`, `internal-default-backend=true`,
		`http3=false`, `leader-elect-resource-name=nghttpx-ingress-lb`, "warning: --nghttpx-conf-dir is no longer supported"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(log, "flag provided but not defined") {
		t.Errorf("a flag was refused")
	}
}
